// The userspace VTEP's decisions, without I/O: what to do with a frame a subnet's TAP gave us
// (answer it, send it to one VTEP, or replicate it to the flood list) and where a VXLAN datagram
// from the underlay goes. The worker (worker.ts) does the reads and writes; tests drive this.

import { parseIp } from '../../lib/ipv4.js';
import { arpReply, arpRequestTarget, macNumber, naReply, nsTarget, parseMac, parseVxlan } from './wire.js';

/** Counter names, in the order of the shared counter array. */
export const COUNTERS = [
  'tap_frames_in',
  'tap_frames_out',
  'encapsulated',
  'decapsulated',
  'coalesced',
  'arp_answered',
  'nd_answered',
  'drop_short',
  'drop_bad_flags',
  'drop_unknown_vni',
  'drop_unknown_vtep',
  'drop_no_vtep',
  'drop_send_error',
  'drop_tap_error',
] as const;
export type CounterName = (typeof COUNTERS)[number];
export const counter = Object.fromEntries(COUNTERS.map((c, i) => [c, i])) as Record<CounterName, number>;

/** A subnet's VTEP table as the control plane gives it (the kernel FDB's shape). */
export interface VniTable {
  /** Underlay addresses that get broadcast, multicast and unknown unicast. */
  flood: string[];
  fdb: { mac: string; dst: string }[];
  neighbors: { ip: string; mac: string }[];
}

interface Compiled {
  flood: number[];
  /** MAC → [its VTEP]: one-element arrays, so a decision allocates nothing. */
  fdb: Map<number, number[]>;
  /** Every VTEP of the VNI: datagrams from any other source are dropped. */
  vteps: Set<number>;
  neighbors: Map<string, string>;
}

const addr = (text: string): number => {
  const v = parseIp(text);
  if (v === undefined) throw new Error(`not an IPv4 address: ${text}`);
  return v;
};

function compile(t: VniTable): Compiled {
  const flood = [...new Set(t.flood.map(addr))];
  const fdb = new Map(t.fdb.map((e) => [parseMac(e.mac), [addr(e.dst)]]));
  return {
    flood,
    fdb,
    vteps: new Set([...flood, ...[...fdb.values()].map((d) => d[0]!)]),
    neighbors: new Map(t.neighbors.map((n) => [n.ip.toLowerCase(), n.mac])),
  };
}

/** What to do with a frame from a TAP: write `answer` back to it, or send it to each of `to`. */
export type TapDecision = { answer: Buffer } | { to: readonly number[] };
const NOWHERE: readonly number[] = [];

export class Forwarder {
  private readonly tables = new Map<number, Compiled>();
  /** VNI → the fd of its TAP; and back. */
  readonly taps = new Map<number, number>();

  constructor(readonly counters: Float64Array) {}

  setTable(vni: number, t: VniTable): void {
    this.tables.set(vni, compile(t));
  }

  removeVni(vni: number): void {
    this.tables.delete(vni);
    this.taps.delete(vni);
  }

  count(name: CounterName, n = 1): void {
    this.counters[counter[name]]! += n;
  }

  /** A frame read from the TAP of `vni`, at `f[off..off+len)`. */
  fromTap(vni: number, f: Buffer, off: number, len: number): TapDecision {
    this.counters[counter.tap_frames_in]!++;
    const t = this.tables.get(vni);
    if (!t) return this.noVtep();
    if (f[off]! & 1) {
      // Broadcast or multicast: answer what the control plane knows, flood the rest.
      const frame = f.subarray(off, off + len);
      const arp = arpRequestTarget(frame, len);
      const arpMac = arp === undefined ? undefined : t.neighbors.get(arp);
      if (arpMac) {
        this.counters[counter.arp_answered]!++;
        return { answer: arpReply(frame, arpMac) };
      }
      const ns = arp === undefined ? nsTarget(frame, len) : undefined;
      const nsMac = ns === undefined ? undefined : t.neighbors.get(ns);
      if (nsMac) {
        this.counters[counter.nd_answered]!++;
        return { answer: naReply(frame, nsMac) };
      }
      return t.flood.length > 0 ? { to: t.flood } : this.noVtep();
    }
    const to = t.fdb.get(macNumber(f, off)) ?? t.flood;
    return to.length > 0 ? { to } : this.noVtep();
  }

  private noVtep(): TapDecision {
    this.counters[counter.drop_no_vtep]!++;
    return { to: NOWHERE };
  }

  /** A UDP payload from `src` (underlay address as a number): the TAP fd to write its inner frame to, or -1. */
  fromUnderlay(src: number, d: Uint8Array, len: number): number {
    const vni = parseVxlan(d, len);
    if (vni === 'short') return this.drop('drop_short');
    if (vni === 'bad-flags') return this.drop('drop_bad_flags');
    const t = this.tables.get(vni);
    const fd = this.taps.get(vni);
    if (!t || fd === undefined) return this.drop('drop_unknown_vni');
    if (!t.vteps.has(src)) return this.drop('drop_unknown_vtep');
    this.counters[counter.decapsulated]!++;
    return fd;
  }

  private drop(name: CounterName): number {
    this.counters[counter[name]]!++;
    return -1;
  }
}
