import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fdbEntries } from '../../../bench/fdb/entries.js';
import { openNetHandle, type NeighborEntry, type NetHandle } from '../../../agent/net/index.js';
import { Lab, runInNs, sweepLeftovers } from './lab.js';

const lab = new Lab();
let ns: string;
let h: NetHandle;

beforeAll(async () => {
  await sweepLeftovers();
  ns = await lab.netns('fdb');
  h = await openNetHandle(ns);
  await h.createBridge('br1', {});
  await h.createVxlan('vx1', { vni: 1000, local: '192.0.2.11', port: 4789 });
  await h.setLink('vx1', { master: 'br1', up: true });
  await h.setLink('br1', { up: true });
});

afterAll(async () => {
  h?.close();
  await lab.cleanup();
});

const key = (e: { mac: string; dst?: string; ip?: string }): string => `${e.mac}|${e.dst ?? e.ip}`;

function neighbors(count: number): NeighborEntry[] {
  return fdbEntries(count).map((e, i) => ({ ip: `198.18.${i >> 8}.${i & 0xff}`, mac: e.mac }));
}

describe('FDB on a vxlan device', () => {
  it('bulk-replaces, reads back and bulk-deletes 10,000 entries', async () => {
    const entries = fdbEntries(10_000);
    const t0 = performance.now();
    await h.replaceFdb('vx1', entries);
    const took = performance.now() - t0;
    const back = await h.fdb('vx1');
    expect(back.map(key).sort()).toEqual(entries.map(key).sort());
    const shown = (await runInNs(ns, ['bridge', 'fdb', 'show', 'dev', 'vx1'])).split('\n').filter((l) => l.includes(' dst '));
    expect(shown).toHaveLength(10_000);

    // replace is idempotent, and moving entries to another VTEP replaces their dst
    const moved = entries.map((e) => ({ mac: e.mac, dst: '192.0.2.99' }));
    await h.replaceFdb('vx1', moved);
    expect((await h.fdb('vx1')).map(key).sort()).toEqual(moved.map(key).sort());

    await h.deleteFdb('vx1', moved);
    await h.deleteFdb('vx1', moved.slice(0, 10)); // already gone
    expect(await h.fdb('vx1')).toEqual([]);
    console.log(`replaceFdb 10k: ${took.toFixed(1)} ms`);
  });

  it('keeps a flood list of several VTEPs on the all-zero MAC', async () => {
    const flood = ['192.0.2.12', '192.0.2.13', '192.0.2.14'].map((dst) => ({ mac: '00:00:00:00:00:00', dst }));
    await h.replaceFdb('vx1', flood);
    await h.replaceFdb('vx1', flood); // appending a present remote is a no-op
    expect((await h.fdb('vx1')).map(key).sort()).toEqual(flood.map(key).sort());
    await h.deleteFdb('vx1', flood.slice(1));
    expect(await h.fdb('vx1')).toEqual([flood[0]]);
    await h.deleteFdb('vx1', flood);
  });

  it('maps a failure inside a batch to the entry it concerned', async () => {
    // a device limited to 1,000 addresses: entries 1000.. fail with ENOSPC, across batches
    await runInNs(ns, ['ip', 'link', 'add', 'vxl', 'type', 'vxlan', 'id', '77', 'dstport', '4789', 'nolearning', 'maxaddress', '1000']);
    const entries = fdbEntries(1_200, { seed: 3 });
    const err = await h.replaceFdb('vxl', entries).catch((e: unknown) => e);
    expect(err).toMatchObject({
      errno: 'ENOSPC',
      operation: 'replace fdb',
      object: `${entries[1000]!.mac} dst ${entries[1000]!.dst} on vxl`,
      message: `replace fdb ${entries[1000]!.mac} dst ${entries[1000]!.dst} on vxl: ENOSPC (200 of 1200 entries failed)`,
    });
    expect((await h.fdb('vxl')).length).toBe(1000);
    await expect(h.replaceFdb('nodev', entries.slice(0, 1))).rejects.toMatchObject({ errno: 'ENODEV', object: 'nodev' });
    await expect(h.replaceFdb('vxl', [{ mac: 'zz', dst: '192.0.2.1' }])).rejects.toMatchObject({ errno: 'EINVAL' });
    await h.deleteLink('vxl');
  });
});

describe('permanent IPv4 neighbours', () => {
  it('bulk-replaces, reads back and deletes 10,000 entries', async () => {
    const entries = neighbors(10_000);
    await h.replaceNeighbors('br1', entries);
    expect((await h.neighbors('br1')).map(key).sort()).toEqual(entries.map(key).sort());
    const shown = await runInNs(ns, ['ip', 'neigh', 'show', 'dev', 'br1', 'nud', 'permanent']);
    expect(shown.trim().split('\n')).toHaveLength(10_000);

    const changed = entries.map((e) => ({ ip: e.ip, mac: '02:aa:00:00:00:01' }));
    await h.replaceNeighbors('br1', changed);
    expect((await h.neighbors('br1')).every((e) => e.mac === '02:aa:00:00:00:01')).toBe(true);

    await h.deleteNeighbors('br1', changed);
    await h.deleteNeighbors('br1', changed.slice(0, 5));
    expect(await h.neighbors('br1')).toEqual([]);
  });
});
