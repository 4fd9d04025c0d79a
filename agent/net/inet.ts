// MAC and IPv4 text <-> bytes (pure). Inputs come from callers above agent/net, so every
// parser validates strictly and throws a NetError naming the bad value.

import { NetError } from './types.js';

const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

export function parseMac(mac: string): Buffer {
  if (!MAC_RE.test(mac)) throw new NetError('EINVAL', 'parse mac', mac);
  return Buffer.from(mac.replace(/:/g, ''), 'hex');
}

export function formatMac(b: Buffer): string {
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

export function parseIPv4(ip: string): Buffer {
  const parts = ip.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^(0|[1-9][0-9]{0,2})$/.test(p) && Number(p) <= 255)) {
    throw new NetError('EINVAL', 'parse ipv4', ip);
  }
  return Buffer.from(parts.map(Number));
}

export function formatIPv4(b: Buffer): string {
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
}

export interface Cidr {
  ip: Buffer;
  prefix: number;
}

export function parseCidr(cidr: string): Cidr {
  const [ip, len, ...rest] = cidr.split('/');
  if (ip === undefined || len === undefined || rest.length > 0 || !/^(0|[1-9][0-9]?)$/.test(len) || Number(len) > 32) {
    throw new NetError('EINVAL', 'parse cidr', cidr);
  }
  return { ip: parseIPv4(ip), prefix: Number(len) };
}
