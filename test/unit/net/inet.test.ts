import { describe, expect, it } from 'vitest';
import { formatIPv4, formatMac, parseCidr, parseIPv4, parseMac } from '../../../agent/net/inet.js';
import { NetError } from '../../../agent/net/types.js';

describe('MAC addresses', () => {
  it('round-trips through bytes, lower-casing', () => {
    expect(parseMac('02:AB:cd:00:10:ff')).toEqual(Buffer.from([2, 0xab, 0xcd, 0, 0x10, 0xff]));
    expect(formatMac(parseMac('02:AB:cd:00:10:ff'))).toBe('02:ab:cd:00:10:ff');
  });

  it.each(['', '02:00:00:00:00', '02:00:00:00:00:00:00', '02-00-00-00-00-00', '0g:00:00:00:00:00', '2:0:0:0:0:0'])('rejects %j', (mac) => {
    expect(() => parseMac(mac)).toThrow(NetError);
  });
});

describe('IPv4', () => {
  it('round-trips through bytes', () => {
    expect(parseIPv4('198.18.0.255')).toEqual(Buffer.from([198, 18, 0, 255]));
    expect(formatIPv4(parseIPv4('192.0.2.11'))).toBe('192.0.2.11');
  });

  it.each(['', '1.2.3', '1.2.3.4.5', '256.0.0.1', '01.2.3.4', '1.2.3.-1', ' 1.2.3.4', '1.2.3.4/24'])('rejects %j', (ip) => {
    expect(() => parseIPv4(ip)).toThrow(NetError);
  });

  it('parses CIDRs and rejects bad prefixes', () => {
    expect(parseCidr('198.18.1.10/24')).toEqual({ ip: Buffer.from([198, 18, 1, 10]), prefix: 24 });
    expect(parseCidr('0.0.0.0/0').prefix).toBe(0);
    for (const bad of ['198.18.1.10', '198.18.1.10/33', '198.18.1.10/024', '198.18.1.10/24/1', '198.18.1.10/']) {
      expect(() => parseCidr(bad), bad).toThrow(NetError);
    }
  });

  it('names the bad value in the error', () => {
    expect(() => parseIPv4('1.2.3.999')).toThrow('parse ipv4 1.2.3.999: EINVAL');
  });
});
