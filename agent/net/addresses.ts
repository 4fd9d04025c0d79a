// IPv4 addresses of a link, as CIDR strings.

import { AF_INET, IFA_ADDRESS, IFA_LOCAL, NLM_F_CREATE, NLM_F_REPLACE, RTM_DELADDR, RTM_GETADDR, RTM_NEWADDR, RT_SCOPE_UNIVERSE } from './constants.js';
import { IFADDRMSG_LEN, attr, ifaddrmsg, parseAttrs, parseIfaddrmsg } from './codec.js';
import { formatIPv4, parseCidr } from './inet.js';
import { linkIndex } from './links.js';
import type { Rtnl } from './rtnl.js';
import { NetError } from './types.js';

export async function listAddresses(rtnl: Rtnl, dev: string): Promise<string[]> {
  const index = await linkIndex(rtnl, dev, 'list addresses');
  const out: string[] = [];
  for (const msg of await rtnl.dump(RTM_GETADDR, ifaddrmsg({ family: AF_INET }), 'list addresses', dev)) {
    const hdr = parseIfaddrmsg(msg.data);
    if (hdr.index !== index || hdr.family !== AF_INET) continue;
    const a = parseAttrs(msg.data.subarray(IFADDRMSG_LEN));
    // IFA_LOCAL is the interface's own address; IFA_ADDRESS differs from it only on point-to-point links.
    const ip = a.get(IFA_LOCAL) ?? a.get(IFA_ADDRESS);
    if (ip) out.push(`${formatIPv4(ip)}/${hdr.prefixlen}`);
  }
  return out;
}

function addrPayload(index: number, cidr: string): Buffer {
  const { ip, prefix } = parseCidr(cidr);
  return Buffer.concat([ifaddrmsg({ family: AF_INET, prefixlen: prefix, scope: RT_SCOPE_UNIVERSE, index }), attr(IFA_LOCAL, ip), attr(IFA_ADDRESS, ip)]);
}

export async function replaceAddress(rtnl: Rtnl, dev: string, cidr: string): Promise<void> {
  const operation = 'replace address';
  const payload = addrPayload(await linkIndex(rtnl, dev, operation, `${cidr} on ${dev}`), cidr);
  await rtnl.request(RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, payload, operation, `${cidr} on ${dev}`);
}

export async function deleteAddress(rtnl: Rtnl, dev: string, cidr: string): Promise<void> {
  const operation = 'delete address';
  const object = `${cidr} on ${dev}`;
  let index: number;
  try {
    index = await linkIndex(rtnl, dev, operation, object);
  } catch (err) {
    // No link, no address: deleting it has nothing to do.
    if (err instanceof NetError && err.errno === 'ENODEV') return;
    throw err;
  }
  try {
    await rtnl.request(RTM_DELADDR, 0, addrPayload(index, cidr), operation, object);
  } catch (err) {
    if (err instanceof NetError && err.errno === 'EADDRNOTAVAIL') return;
    throw err;
  }
}
