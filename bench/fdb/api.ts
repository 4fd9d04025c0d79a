// 10,000 static FDB entries through the agent API — PutVtepTable of one subnet on a lab host, timed
// from the call to the returned response — vs `bridge -batch` of the same entries into an
// equivalent VTEP in a namespace of the bench's own. agent/net's replaceFdb into that namespace
// is timed in the same run, to show what the layers above it (gRPC, validation, persisted state,
// the read-back of observed counts) add; so are GetVtepTable (read-back and the 10k-entry reply,
// no write) and agent/net's dump of the full table, to split that difference.
//
// Run (as root; `npm run build` first, it builds the agent that the lab starts):
//   npx tsc -p bench/fdb/tsconfig.json && node bench/fdb/.build/bench/fdb/api.js [repetitions=15] [entries=10000]
//
// Lab vbf<pid>: one host, its periodic reconcile pushed out to an hour so that it never lands in
// a timed call. Every repetition starts from a fresh subnet (new VNI) on the agent and fresh
// devices in the namespace vbf<pid>-base, so every side starts from an empty table; the order of
// the sides reverses on every other repetition. One untimed warm-up round comes first.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openNetHandle } from '../../agent/net/index.js';
import type { NetHandle } from '../../agent/net/types.js';
import { withLab, type BenchLab } from '../common/lab.js';
import { median, samples } from '../common/stats.js';
import { bridgeBatch, fdbEntries } from './entries.js';

const reps = Number(process.argv[2] ?? 15);
const count = Number(process.argv[3] ?? 10_000);
const VTEPS = 8;
const TIMEOUT_MS = 60_000;

/** The agent's VTEP by hand, as the EVPN notes build it: same options, MTU and bridge port flags. */
async function freshVtep(b: BenchLab, ns: string, dev: string, bridge: string, vni: number): Promise<void> {
  const ip = (...argv: string[]): Promise<unknown> => b.run('ip', ['-n', ns, ...argv], TIMEOUT_MS);
  await ip('link', 'add', bridge, 'mtu', '1450', 'type', 'bridge');
  await ip('link', 'add', dev, 'mtu', '1450', 'type', 'vxlan', 'id', String(vni), 'local', '192.0.2.11', 'dstport', '4789', 'nolearning');
  await ip('link', 'set', dev, 'master', bridge, 'addrgenmode', 'none');
  await b.run('bridge', ['-n', ns, 'link', 'set', 'dev', dev, 'learning', 'off', 'neigh_suppress', 'on'], TIMEOUT_MS);
  await ip('link', 'set', dev, 'up');
  await ip('link', 'set', bridge, 'up');
}

async function dropVtep(b: BenchLab, ns: string, dev: string, bridge: string): Promise<void> {
  await b.run('ip', ['-n', ns, 'link', 'del', dev], TIMEOUT_MS);
  await b.run('ip', ['-n', ns, 'link', 'del', bridge], TIMEOUT_MS);
}

async function bench(b: BenchLab): Promise<void> {
  const agent = b.client('h1').network;
  const base = `${b.lab.name}-base`;
  await b.run('ip', ['netns', 'add', base], TIMEOUT_MS);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `${b.lab.name}-`));
  let h: NetHandle | undefined;
  try {
    h = await openNetHandle(base);
    const entries = fdbEntries(count, { vteps: VTEPS });
    const table = entries.map((e) => ({ mac: e.mac, vtep: e.dst }));
    const batchFile = path.join(tmp, 'fdb.batch');
    fs.writeFileSync(batchFile, bridgeBatch('vxbatch', entries));
    await agent.putVpc({ vpc: { id: 'bench', name: 'bench', tenant: 'bench', cidr: '198.18.0.0/16' } });

    const series = { api: [] as number[], net: [] as number[], batch: [] as number[] };
    // Parts of the difference between the API and agent/net, timed alongside.
    const parts = { get: [] as number[], dump: [] as number[] };
    const full = async (what: string, dev: string): Promise<number> => {
      const t = performance.now();
      const n = (await h!.fdb(dev)).length;
      if (n !== count) throw new Error(`${what} left ${n} of ${count} entries`);
      return performance.now() - t;
    };
    const sides: Record<keyof typeof series, (vni: number) => Promise<number>> = {
      api: async (vni) => {
        const id = `s${vni}`;
        await agent.putSubnet({ subnet: { id, vpcId: 'bench', name: id, cidr: '198.18.1.0/24', vni, vlan: 0, gateway: '' } });
        const t = performance.now();
        const res = await agent.putVtepTable({ table: { subnetId: id, floodVteps: [], fdb: table, neighbors: [] } }, TIMEOUT_MS);
        const ms = performance.now() - t;
        if (res.observed?.fdbEntries !== count || !res.status?.ready) {
          throw new Error(`PutVtepTable: observed ${res.observed?.fdbEntries} entries, problems: ${res.status?.problems.join('; ')}`);
        }
        const g = performance.now();
        await agent.getVtepTable({ id }, TIMEOUT_MS);
        parts.get.push(performance.now() - g);
        await agent.deleteSubnet({ id });
        return ms;
      },
      net: async (vni) => {
        await freshVtep(b, base, 'vxnet', 'brnet', vni);
        const t = performance.now();
        await h!.replaceFdb('vxnet', entries);
        const ms = performance.now() - t;
        parts.dump.push(await full('replaceFdb', 'vxnet'));
        await dropVtep(b, base, 'vxnet', 'brnet');
        return ms;
      },
      batch: async (vni) => {
        await freshVtep(b, base, 'vxbatch', 'brbatch', vni);
        const t = performance.now();
        await b.run('bridge', ['-n', base, '-batch', batchFile], TIMEOUT_MS);
        const ms = performance.now() - t;
        await full('bridge -batch', 'vxbatch');
        await dropVtep(b, base, 'vxbatch', 'brbatch');
        return ms;
      },
    };
    const order = Object.keys(sides) as (keyof typeof series)[];
    for (let i = -1; i < reps; i++) {
      for (const side of i % 2 ? order : [...order].reverse()) {
        const ms = await sides[side](2000 + i);
        if (i >= 0) series[side].push(ms);
      }
    }

    parts.get.splice(0, 1); // the warm-up round's
    parts.dump.splice(0, 1);
    const m = { api: median(series.api), net: median(series.net), batch: median(series.batch) };
    console.log(
      `fdb api bench: ${count} entries over ${VTEPS} VTEPs, ${reps} repetitions, kernel ${os.release()}, ${os.cpus().length} CPUs, load ${os.loadavg()[0]!.toFixed(1)}`,
    );
    console.log(`  agent API PutVtepTable : median ${m.api.toFixed(1)} ms  ${samples(series.api)}`);
    console.log(`  agent/net replaceFdb   : median ${m.net.toFixed(1)} ms  ${samples(series.net)}`);
    console.log(`  bridge -batch          : median ${m.batch.toFixed(1)} ms  ${samples(series.batch)}`);
    console.log(`  where the API's extra time goes, timed separately:`);
    console.log(`    GetVtepTable         : median ${median(parts.get).toFixed(1)} ms  (read-back of the table and a 10k-entry reply, no write)`);
    console.log(`    agent/net fdb dump   : median ${median(parts.dump).toFixed(1)} ms  (reading ${count} entries back)`);
    console.log(`  ratio agent-API/bridge : ${(m.api / m.batch).toFixed(2)}  (goal <= 1.5)`);
    console.log(`  ratio agent/net/bridge : ${(m.net / m.batch).toFixed(2)}`);
  } finally {
    h?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

await withLab('f', { hosts: 1, controlPlane: 'static', reconcileIntervalSeconds: 3600 }, bench);
