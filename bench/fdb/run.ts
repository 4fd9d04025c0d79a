// 10,000 FDB entries into a fresh vxlan device: agent/net's replaceFdb vs `bridge -batch`.
//
// Run (as root):
//   npx tsc -p bench/fdb/tsconfig.json && node bench/fdb/.build/bench/fdb/run.js [repetitions=9] [entries=10000]
//
// Everything happens in a namespace of the run's own (vxb-<pid>-<random>), removed at the end.
// Each repetition gets a new device for each side, so both always start from an empty table;
// the order of the two sides alternates. Timings: ours is the replaceFdb call (socket already
// open), the baseline is the whole `bridge -n NS -batch FILE` process, as a caller would pay it.

import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { openNetHandle } from '../../agent/net/index.js';
import type { NetHandle } from '../../agent/net/types.js';
import { median, samples } from '../common/stats.js';
import { bridgeBatch, fdbEntries } from './entries.js';

const exec = promisify(execFile);

const reps = Number(process.argv[2] ?? 9);
const count = Number(process.argv[3] ?? 10_000);
const ns = `vxb-${process.pid}-${randomBytes(3).toString('hex')}`;

async function sweep(): Promise<void> {
  const names = fs.existsSync('/run/netns') ? fs.readdirSync('/run/netns') : [];
  for (const name of names) {
    const pid = /^vxb-(\d+)-/.exec(name)?.[1];
    if (pid && !fs.existsSync(`/proc/${pid}`)) await exec('ip', ['netns', 'del', name]).catch(() => undefined);
  }
}

async function freshVtep(h: NetHandle, name: string, vni: number): Promise<void> {
  await h.deleteLink(name);
  await h.createVxlan(name, { vni, local: '192.0.2.11', port: 4789 });
  await h.setLink(name, { up: true });
}

async function main(): Promise<void> {
  await sweep();
  await exec('ip', ['netns', 'add', ns]);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vxb-'));
  let h: NetHandle | undefined;
  try {
    h = await openNetHandle(ns);
    const entries = fdbEntries(count);
    const batchFile = path.join(tmp, 'fdb.batch');
    fs.writeFileSync(batchFile, bridgeBatch('vxbr', entries));

    const ours: number[] = [];
    const theirs: number[] = [];
    const runOurs = async (): Promise<void> => {
      await freshVtep(h!, 'vxours', 100);
      const t = performance.now();
      await h!.replaceFdb('vxours', entries);
      ours.push(performance.now() - t);
      if ((await h!.fdb('vxours')).length !== count) throw new Error('replaceFdb left the table incomplete');
    };
    const runBridge = async (): Promise<void> => {
      await freshVtep(h!, 'vxbr', 101);
      const t = performance.now();
      await exec('bridge', ['-n', ns, '-batch', batchFile], { timeout: 60_000 });
      theirs.push(performance.now() - t);
      if ((await h!.fdb('vxbr')).length !== count) throw new Error('bridge -batch left the table incomplete');
    };
    await runOurs(); // warm-up, not counted
    await runBridge();
    ours.length = 0;
    theirs.length = 0;
    for (let i = 0; i < reps; i++) {
      if (i % 2) {
        await runBridge();
        await runOurs();
      } else {
        await runOurs();
        await runBridge();
      }
    }
    const mo = median(ours);
    const mb = median(theirs);
    console.log(`fdb bench: ${count} entries, ${reps} repetitions, kernel ${os.release()}`);
    console.log(`  agent/net replaceFdb : median ${mo.toFixed(1)} ms  ${samples(ours)}`);
    console.log(`  bridge -batch        : median ${mb.toFixed(1)} ms  ${samples(theirs)}`);
    console.log(`  ratio ours/bridge    : ${(mo / mb).toFixed(2)}`);
  } finally {
    h?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
    await exec('ip', ['netns', 'del', ns]).catch(() => undefined);
  }
}

await main();
