import { describe, expect, it } from 'vitest';
import { contains, firstHost, formatCidr, formatIp, isHostAddress, overlaps, parseCidr, parseIp } from '../../../lib/ipv4.js';

describe('ipv4', () => {
  it('parses and formats addresses, refusing what is not dotted quad', () => {
    expect(formatIp(parseIp('198.18.255.1')!)).toBe('198.18.255.1');
    for (const bad of ['256.0.0.1', '1.2.3', '01.2.3.4', '1.2.3.4.5', '', 'a.b.c.d', '1.2.3.-1']) expect(parseIp(bad), bad).toBeUndefined();
  });

  it('parses CIDRs strictly (no host bits) or loosely (an address with its prefix)', () => {
    expect(formatCidr(parseCidr('198.18.0.0/15')!)).toBe('198.18.0.0/15');
    expect(parseCidr('198.18.1.0/15')).toBeUndefined();
    expect(parseCidr('198.18.1.7/24', false)).toMatchObject({ prefix: 24, network: parseIp('198.18.1.0') });
    expect(parseCidr('198.18.0.0/33')).toBeUndefined();
    expect(parseCidr('0.0.0.0/0')).toMatchObject({ network: 0, prefix: 0 });
  });

  it('tells containment and overlap apart', () => {
    const vpc = parseCidr('198.18.0.0/16')!;
    expect(contains(vpc, parseCidr('198.18.4.0/24')!)).toBe(true);
    expect(contains(vpc, parseCidr('198.19.0.0/24')!)).toBe(false);
    expect(contains(parseCidr('198.18.4.0/24')!, vpc)).toBe(false);
    expect(overlaps(parseCidr('198.18.1.0/24')!, parseCidr('198.18.1.128/25')!)).toBe(true);
    expect(overlaps(parseCidr('198.18.1.0/25')!, parseCidr('198.18.1.128/25')!)).toBe(false);
  });

  it('knows host addresses and the first host', () => {
    const s = parseCidr('198.18.1.0/24')!;
    expect(formatIp(firstHost(s))).toBe('198.18.1.1');
    expect(isHostAddress(s, parseIp('198.18.1.0')!)).toBe(false);
    expect(isHostAddress(s, parseIp('198.18.1.255')!)).toBe(false);
    expect(isHostAddress(s, parseIp('198.18.1.254')!)).toBe(true);
    expect(isHostAddress(s, parseIp('198.18.2.1')!)).toBe(false);
  });
});
