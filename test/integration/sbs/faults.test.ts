// Faults in a lab of three storage hosts: the leader SIGKILLed during a write stream, the leader
// cut off from the underlay, every replica restarted, one replica's data directory wiped.

import { spawn } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Volume } from '../../../gen/vxcloud/agent/v1/volume.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { restartAgent, stopAgent, waitFor } from '../../../lab/lab.js';
import { makeTempDir, run, runOk, sha256File } from '../nbd/harness.js';
import { startStorageLab, waitStatus, type StorageLab } from './harness.js';

const MiB = 1024 * 1024;
const BLOCK = 4096;
const HOSTS = ['h1', 'h2', 'h3'];
let s: StorageLab;
let tmp: string;

beforeAll(async () => {
  s = await startStorageLab(3);
  tmp = await makeTempDir('sbs-faults');
}, 120_000);

afterAll(async () => {
  await s?.down();
  if (tmp) await rm(tmp, { recursive: true, force: true });
}, 60_000);

const host = (name: string) => s.t.lab.hosts.find((h) => h.name === name)!;
const blockContent = (b: number): Buffer => Buffer.from(`${String(b).padStart(15, '0')}\n`.repeat(BLOCK / 16));

// Writes blocks [START, END) one at a time with FUA, printing each block once acknowledged.
const WRITER = `
import os
h.connect_uri(os.environ['URI'])
for b in range(int(os.environ['START']), int(os.environ['END'])):
    h.pwrite((b'%015d\\n' % b) * 256, b * 4096, nbd.CMD_FLAG_FUA)
    print(b, flush=True)
`;

/** Runs the writer against `uri` from block `start`; resolves with the blocks it saw acknowledged. */
function writer(uri: string, start: number, end: number, onAck: (b: number) => void, timeoutMs: number): Promise<{ code: number | null }> {
  return new Promise((resolve) => {
    const child = spawn('nbdsh', ['-c', WRITER], {
      env: { ...process.env, PATH: `/usr/bin:/bin:${process.env.PATH ?? ''}`, URI: uri, START: String(start), END: String(end) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    let buf = '';
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const l of lines) if (l.trim() !== '') onAck(Number(l));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code });
    });
  });
}

/** Every acknowledged block reads back through `via`. */
async function checkBlocks(via: string, id: string, acked: Set<number>): Promise<void> {
  const out = join(tmp, `${id}-${via}.img`);
  await runOk('nbdcopy', [s.uri(via, id), out], 120_000);
  const img = await readFile(out);
  const bad = [...acked].filter((b) => !img.subarray(b * BLOCK, (b + 1) * BLOCK).equals(blockContent(b)));
  await rm(out);
  expect(bad, `acknowledged blocks lost reading through ${via}`).toEqual([]);
}

async function leaderOf(id: string, ask: string): Promise<string> {
  return (await waitStatus(s, ask, id, (v) => v.leader !== '', 'to have a leader')).leader;
}

describe('faults', () => {
  const acked = new Set<number>();

  it('leader SIGKILLed during a write stream: a new leader, the client continues elsewhere, no acknowledged write lost', async () => {
    await s.volumes('h1').createVolume({ id: 'stream', sizeBytes: 16 * MiB, replicas: 3, hosts: s.hosts, tenant: '' });
    const leader = await leaderOf('stream', 'h1');
    const END = 1500;
    let next = 0;
    let killed = false;
    const kill = async (): Promise<void> => {
      killed = true;
      await stopAgent(host(leader), 'SIGKILL');
    };
    let killing: Promise<void> | undefined;
    const targets = [leader, ...HOSTS.filter((h) => h !== leader)];
    const until = Date.now() + 180_000;
    for (let attempt = 0; next < END && Date.now() < until; attempt++) {
      const via = killed ? targets[1 + (attempt % 2)]! : leader;
      await writer(
        s.uri(via, 'stream'),
        next,
        END,
        (b) => {
          acked.add(b);
          next = b + 1;
          if (!killed && acked.size >= 300) killing = kill();
        },
        Math.max(1000, until - Date.now()),
      );
      await killing;
    }
    expect(killed).toBe(true);
    expect(next).toBe(END);
    const newLeader = await leaderOf('stream', targets[1]!);
    expect(newLeader).not.toBe(leader);
    for (const h of targets.slice(1)) await checkBlocks(h, 'stream', acked);
    // The killed replica comes back, catches up and serves the same data.
    await restartAgent(s.t.lab, leader);
    await waitStatus(s, leader, 'stream', (v) => v.status === 'healthy', 'healthy again', 60_000);
    await checkBlocks(leader, 'stream', acked);
  }, 400_000);

  it('leader cut off: the minority stops acknowledging, the majority goes on, the old leader catches up after healing', async () => {
    await s.volumes('h2').createVolume({ id: 'part', sizeBytes: 16 * MiB, replicas: 3, hosts: s.hosts, tenant: '' });
    await runOk('qemu-io', ['-f', 'raw', '-c', 'write -P 0x11 0 1M', s.uri('h2', 'part')], 60_000);
    const old = await leaderOf('part', 'h2');
    const majority = HOSTS.filter((h) => h !== old);
    await s.t.exec(host(old).namespace, ['ip', 'link', 'set', 'eth0', 'down']);
    try {
      const minority = await run('qemu-io', ['-f', 'raw', '-c', 'write -P 0x22 4M 64k', s.uri(old, 'part')], 6000);
      expect(minority.code, 'a write through the cut-off leader must not be acknowledged').not.toBe(0);
      const fresh = await waitStatus(s, majority[0]!, 'part', (v) => majority.includes(v.leader), 'a leader in the majority', 30_000);
      expect(fresh.replicaStatus.find((r) => r.host?.name === old)?.role).toBe('unreachable');
      await runOk('qemu-io', ['-f', 'raw', '-c', 'write -P 0x33 1M 1M', s.uri(majority[1]!, 'part')], 30_000);
      await runOk('qemu-io', ['-f', 'raw', '-c', 'read -P 0x33 1M 1M', '-c', 'read -P 0x11 0 1M', s.uri(majority[0]!, 'part')], 30_000);
      // Its read lease ran out long ago: the old leader must not answer from its stale copy.
      const stale = await run('qemu-io', ['-f', 'raw', '-c', 'read -P 0 1M 1M', s.uri(old, 'part')], 6000);
      expect(stale.code, 'the cut-off leader served a stale read').not.toBe(0);
    } finally {
      await s.t.exec(host(old).namespace, ['ip', 'link', 'set', 'eth0', 'up']);
    }
    const caughtUp = (v: Volume): boolean => {
      const mine = v.replicaStatus.find((r) => r.host?.name === old)!;
      return v.status === 'healthy' && mine.role === 'follower' && mine.appliedIndex >= Math.max(...v.replicaStatus.map((r) => r.commitIndex));
    };
    await waitStatus(s, old, 'part', caughtUp, 'caught up after healing', 60_000);
    await runOk('qemu-io', ['-f', 'raw', '-c', 'read -P 0x33 1M 1M', '-c', 'read -P 0x11 0 1M', s.uri(old, 'part')], 30_000);
  }, 200_000);

  it('one replica’s data directory wiped: the leader re-creates it and refills it from a snapshot', async () => {
    await s.volumes('h1').createVolume({ id: 'wipe', sizeBytes: 128 * MiB, replicas: 3, hosts: s.hosts, tenant: '' });
    const source = join(tmp, 'wipe-src.img');
    const fh = await open(source, 'w');
    const chunk = Buffer.alloc(MiB);
    for (let at = 0; at < 128 * MiB; at += MiB) await fh.write(randomFillSync(chunk), 0, MiB, at);
    await fh.close();
    // 128 MiB applied is past the 64 MiB compaction threshold: the log no longer starts at 1.
    await runOk('nbdcopy', ['--request-size=1048576', source, s.uri('h1', 'wipe')], 300_000);
    const leader = await leaderOf('wipe', 'h1');
    const victim = HOSTS.find((h) => h !== leader)!;
    await stopAgent(host(victim));
    await rm(join(s.t.lab.dir, victim, 'storage'), { recursive: true, force: true });
    await restartAgent(s.t.lab, victim);
    await waitFor(
      `${victim} to hold a replica of wipe again`,
      60_000,
      async () => (await s.volumes(victim).getVolume({ id: 'wipe' }, 3000)).status === 'healthy',
    );
    expect(await readFile(host(victim).logFile, 'utf8')).toMatch(/"volume":"wipe".*"msg":"installed snapshot"/);
    // It came back as a new raft member, one that never voted; the others kept theirs.
    const members = (await s.volumes(leader).getVolume({ id: 'wipe' })).replicaStatus.map((r) => [r.host!.name, r.memberId]);
    for (const [h, member] of members) expect(member).toMatch(h === victim ? new RegExp(`^${victim}#[0-9a-z]+$`) : new RegExp(`^${h}$`));
    const back = join(tmp, 'wipe-back.img');
    await runOk('nbdcopy', [s.uri(victim, 'wipe'), back], 300_000);
    expect(await sha256File(back)).toBe(await sha256File(source));
    await rm(back);
    await rm(source);
  }, 600_000);

  it('every replica restarted (SIGKILL): data intact', async () => {
    for (const h of HOSTS) await stopAgent(host(h), 'SIGKILL');
    for (const h of HOSTS) await restartAgent(s.t.lab, h);
    // 'wipe' has a re-created member, whose id must survive the restart too.
    for (const id of ['stream', 'part', 'wipe']) await waitStatus(s, 'h3', id, (v) => v.status === 'healthy', 'healthy after a full restart', 60_000);
    await checkBlocks('h3', 'stream', acked);
    await runOk('qemu-io', ['-f', 'raw', '-c', 'read -P 0x33 1M 1M', '-c', 'read -P 0x11 0 1M', s.uri('h1', 'part')], 30_000);
  }, 200_000);
});
