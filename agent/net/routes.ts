// The IPv4 default route of the main table.

import {
  AF_INET,
  NLM_F_CREATE,
  NLM_F_REPLACE,
  RTA_GATEWAY,
  RTA_OIF,
  RTA_TABLE,
  RTM_GETROUTE,
  RTM_NEWROUTE,
  RTN_UNICAST,
  RTPROT_STATIC,
  RT_SCOPE_UNIVERSE,
  RT_TABLE_MAIN,
} from './constants.js';
import { RTMSG_LEN, attr, parseAttrs, parseRtmsg, rtmsg, u32 } from './codec.js';
import { formatIPv4, parseIPv4 } from './inet.js';
import { linkIndex } from './links.js';
import type { Rtnl } from './rtnl.js';

export async function defaultGateway(rtnl: Rtnl): Promise<string | undefined> {
  for (const msg of await rtnl.dump(RTM_GETROUTE, rtmsg({ family: AF_INET }), 'list', 'routes')) {
    const hdr = parseRtmsg(msg.data);
    if (hdr.family !== AF_INET || hdr.dstLen !== 0 || hdr.type !== RTN_UNICAST) continue;
    const a = parseAttrs(msg.data.subarray(RTMSG_LEN));
    const table = a.get(RTA_TABLE)?.readUInt32LE(0) ?? hdr.table;
    const gw = a.get(RTA_GATEWAY);
    if (table === RT_TABLE_MAIN && gw) return formatIPv4(gw);
  }
  return undefined;
}

export async function replaceDefaultRoute(rtnl: Rtnl, gateway: string, dev: string): Promise<void> {
  const operation = 'replace default route';
  const object = `via ${gateway} dev ${dev}`;
  const gw = parseIPv4(gateway);
  const oif = await linkIndex(rtnl, dev, operation, object);
  const payload = Buffer.concat([
    rtmsg({
      family: AF_INET,
      table: RT_TABLE_MAIN,
      protocol: RTPROT_STATIC,
      scope: RT_SCOPE_UNIVERSE,
      type: RTN_UNICAST,
    }),
    attr(RTA_GATEWAY, gw),
    attr(RTA_OIF, u32(oif)),
  ]);
  await rtnl.request(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, payload, operation, object);
}
