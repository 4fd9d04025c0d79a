import { describe, expect, it } from 'vitest';
import { counter, COUNTERS, Forwarder } from '../../../agent/vtep/forwarder.js';

const H2 = 0xc000020c;
const H3 = 0xc000020d;

function fwd(): Forwarder {
  const f = new Forwarder(new Float64Array(COUNTERS.length));
  f.setTable(100, {
    flood: ['192.0.2.12', '192.0.2.13'],
    fdb: [{ mac: '02:00:00:00:00:12', dst: '192.0.2.12' }],
    neighbors: [{ ip: '198.18.1.12', mac: '02:00:00:00:00:12' }],
  });
  f.taps.set(100, 7);
  return f;
}
const frame = (dst: string, type = 0x0800, body: number[] = []): Buffer =>
  Buffer.from([...dst.split(':').map((x) => parseInt(x, 16)), 2, 0, 0, 0, 0, 1, type >> 8, type & 0xff, ...body, ...new Array<number>(46).fill(0)]);
const arp = (tpa: number[]): Buffer => frame('ff:ff:ff:ff:ff:ff', 0x0806, [0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1, 198, 18, 1, 11, 0, 0, 0, 0, 0, 0, ...tpa]);
const datagram = (vni: number, flags = 0x08, inner = 14): Buffer => {
  const d = Buffer.alloc(8 + inner);
  d[0] = flags;
  d.writeUIntBE(vni, 4, 3);
  return d;
};

describe('from a TAP', () => {
  it('sends known unicast to its VTEP, unknown unicast and broadcast to the flood list', () => {
    const f = fwd();
    const known = frame('02:00:00:00:00:12');
    expect(f.fromTap(100, known, 0, known.length)).toEqual({ to: [H2] });
    const unknown = frame('02:00:00:00:00:99');
    expect(f.fromTap(100, unknown, 0, unknown.length)).toEqual({ to: [H2, H3] });
    const bcast = frame('ff:ff:ff:ff:ff:ff');
    expect(f.fromTap(100, bcast, 0, bcast.length)).toEqual({ to: [H2, H3] });
    expect(f.counters[counter.tap_frames_in]).toBe(3);
  });

  it('answers ARP for a known address on the TAP and floods ARP for an unknown one', () => {
    const f = fwd();
    const known = arp([198, 18, 1, 12]);
    const r = f.fromTap(100, known, 0, known.length);
    expect('answer' in r && r.answer.subarray(6, 12).toString('hex')).toBe('020000000012');
    const unknown = arp([198, 18, 1, 99]);
    expect(f.fromTap(100, unknown, 0, unknown.length)).toEqual({ to: [H2, H3] });
    expect(f.counters[counter.arp_answered]).toBe(1);
  });

  it('counts a frame of a VNI with no table, or with nowhere to send it, as dropped', () => {
    const f = fwd();
    const b = frame('ff:ff:ff:ff:ff:ff');
    expect(f.fromTap(200, b, 0, b.length)).toEqual({ to: [] });
    f.setTable(100, { flood: [], fdb: [], neighbors: [] });
    expect(f.fromTap(100, b, 0, b.length)).toEqual({ to: [] });
    expect(f.counters[counter.drop_no_vtep]).toBe(2);
  });
});

describe('from the underlay', () => {
  it("delivers a VNI's datagram from one of its VTEPs to its TAP", () => {
    const f = fwd();
    expect(f.fromUnderlay(H3, datagram(100), 22)).toBe(7);
    expect(f.counters[counter.decapsulated]).toBe(1);
  });

  it('drops and counts, by reason, what it cannot deliver', () => {
    const f = fwd();
    expect(f.fromUnderlay(H2, datagram(100, 0x00), 22)).toBe(-1);
    expect(f.fromUnderlay(H2, datagram(100, 0x08, 13), 21)).toBe(-1);
    expect(f.fromUnderlay(H2, Buffer.alloc(0), 0)).toBe(-1);
    expect(f.fromUnderlay(H2, datagram(101), 22)).toBe(-1);
    expect(f.fromUnderlay(0xc000020e, datagram(100), 22)).toBe(-1);
    f.removeVni(100);
    expect(f.fromUnderlay(H2, datagram(100), 22)).toBe(-1);
    const c = (n: (typeof COUNTERS)[number]): number => f.counters[counter[n]]!;
    expect([c('drop_bad_flags'), c('drop_short'), c('drop_unknown_vni'), c('drop_unknown_vtep'), c('decapsulated')]).toEqual([1, 2, 2, 1, 0]);
  });

  it('survives any datagram: random bytes never throw', () => {
    const f = fwd();
    let seed = 1;
    const rnd = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    for (let i = 0; i < 20_000; i++) {
      const d = Buffer.from(Array.from({ length: Math.floor(rnd() * 80) }, () => Math.floor(rnd() * 256)));
      if (i % 3 === 0 && d.length >= 8) d.writeUIntBE(100, 4, 3);
      expect(() => f.fromUnderlay(rnd() < 0.5 ? H2 : 0, d, d.length)).not.toThrow();
      expect(() => f.fromTap(100, d, 0, d.length)).not.toThrow();
    }
  });
});
