// Replicas that move, in a lab of four storage hosts: one moved by MoveVolume while nbdcopy writes
// through another host, one rebuilt on the spare host after its host was down longer than
// storage.rebuildAfterSeconds; and leadership that moves to the follower a client writes through.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { restartAgent, stopAgent, waitFor } from '../../../lab/lab.js';
import { status as Status } from '@grpc/grpc-js';
import { RaftPeerClient } from '../../../agent/sbs/volume/client.js';
import { readTls } from '../../../lib/agent-client.js';
import { registryValue } from '../../harness/registry.js';
import { makeTempDir, runOk } from '../nbd/harness.js';
import { startStorageLab, waitStatus, type StorageLab } from './harness.js';

const MiB = 1024 * 1024;
const REBUILD_AFTER_S = 3;
let s: StorageLab;
let tmp: string;

beforeAll(async () => {
  s = await startStorageLab(4, { rebuildAfterSeconds: REBUILD_AFTER_S });
  tmp = await makeTempDir('sbs-move');
}, 120_000);

afterAll(async () => {
  await s?.down();
  if (tmp) await rm(tmp, { recursive: true, force: true });
}, 60_000);

const placed = (host: string) => s.hosts.find((h) => h.name === host)!;
const replicaDir = (host: string, id: string) => join(s.t.lab.dir, host, 'storage', 'volumes', id);
const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

/** The volume read back through `via`, its first `length` bytes. */
async function readBack(via: string, id: string, length: number): Promise<Buffer> {
  const out = join(tmp, `${id}-${via}.img`);
  await runOk('nbdcopy', [s.uri(via, id), out], 120_000);
  const img = await readFile(out);
  await rm(out);
  return img.subarray(0, length);
}

async function registryHosts(id: string): Promise<string[]> {
  const v = await registryValue(s.t, `/vxcloud/objects/${id}`);
  return (JSON.parse(v ?? '{}') as { hosts?: string[] }).hosts ?? [];
}

describe('replicas and leadership that move', () => {
  it('a client writing through a follower: leadership passes to that follower, and the data is intact', async () => {
    await s.volumes('h1').createVolume({ id: 'lw', sizeBytes: 32 * MiB, replicas: 3, hosts: s.hosts.slice(0, 3), tenant: '' });
    const { leader } = await waitStatus(s, 'h1', 'lw', (v) => v.status === 'healthy', 'healthy');
    const via = ['h1', 'h2', 'h3'].find((h) => h !== leader)!;
    const src = join(tmp, 'lw-src.img');
    const data = randomBytes(32 * MiB);
    await writeFile(src, data);
    // Small requests, several at once, for a few seconds: the leader sees them all forwarded by `via`.
    await runOk(
      'fio',
      ['--name=lw', '--ioengine=nbd', `--uri=${s.uri(via, 'lw')}`, '--rw=randwrite', '--bs=4k', '--iodepth=8', '--time_based', '--runtime=4'],
      60_000,
    );
    const v = await waitStatus(s, via, 'lw', (x) => x.leader === via, `led by ${via}, where the writes come from`, 15_000);
    expect(v.status).toBe('healthy');
    expect(await readFile(join(s.t.lab.dir, leader, 'agent.log'), 'utf8')).toMatch(
      /"volume":"lw".*handing leadership to the follower its clients' writes come through/,
    );
    // Whatever is written now through the new leader reads back through the old one.
    await runOk('nbdcopy', [src, s.uri(via, 'lw')], 120_000);
    expect((await readBack(leader, 'lw', data.length)).equals(data)).toBe(true);
    await s.volumes(via).deleteVolume({ id: 'lw' });
    await rm(src);
  }, 200_000);

  it('MoveVolume of the leader while nbdcopy writes through another host: every written byte reads back, the old host holds nothing', async () => {
    await s.volumes('h1').createVolume({ id: 'mv', sizeBytes: 96 * MiB, replicas: 3, hosts: s.hosts.slice(0, 3), tenant: '' });
    const { leader } = await waitStatus(s, 'h1', 'mv', (v) => v.status === 'healthy', 'healthy');
    // The leader leaves (it hands over first); the writer's host stays.
    const leaving = leader;
    const via = ['h1', 'h2', 'h3'].find((h) => h !== leader)!;
    const target = [...s.hosts.slice(0, 3).filter((h) => h.name !== leaving), placed('h4')];

    // nbdcopy reads a pipe that we feed at ~16 MiB/s, so it is writing before, during and after the move.
    const copy = spawn('nbdcopy', ['-', s.uri(via, 'mv')], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    copy.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((ok) => copy.on('close', ok));
    const written: Buffer[] = [];
    let moved = false;
    let chunksAfterMove = 0;
    const feeding = (async () => {
      while (written.length < 96 && chunksAfterMove < 16) {
        const chunk = randomBytes(MiB);
        written.push(chunk);
        if (!copy.stdin.write(chunk)) await new Promise((ok) => copy.stdin.once('drain', ok));
        if (moved) chunksAfterMove++;
        await new Promise((ok) => setTimeout(ok, 60));
      }
      copy.stdin.end();
    })();

    await new Promise((ok) => setTimeout(ok, 1000));
    expect(copy.exitCode, 'nbdcopy is still writing when the move starts').toBeNull();
    const v = await s.volumes(via).moveVolume({ id: 'mv', hosts: target }, 300_000);
    moved = true;
    expect(v.hosts.map((h) => h.name)).toEqual(target.map((h) => h.name));
    await feeding;
    expect(chunksAfterMove, 'nbdcopy went on writing after the move').toBeGreaterThan(0);
    expect(await exited, stderr).toBe(0);

    const healthy = await waitStatus(s, 'h4', 'mv', (x) => x.status === 'healthy', 'healthy on the new hosts', 60_000);
    expect(healthy.replicaStatus.map((r) => r.host!.name).sort()).toEqual(target.map((h) => h.name).sort());
    const data = Buffer.concat(written);
    for (const h of [via, 'h4']) expect((await readBack(h, 'mv', data.length)).equals(data), `written bytes read back through ${h}`).toBe(true);

    // The old host holds nothing of it and answers that it has no such volume; the registry agrees.
    await waitFor(`${leaving}'s replica of mv deleted`, 30_000, async () => !(await exists(replicaDir(leaving, 'mv'))));
    const gone = (await s
      .volumes(leaving)
      .getVolume({ id: 'mv' })
      .catch((e: unknown) => e)) as { details?: string };
    expect(gone.details).toMatch(/has no replica/);
    expect(await registryHosts('mv')).toEqual(target.map((h) => h.name));
    // Out of the placement and of the registry's record, the old host may not delete a replica any more.
    const tls = await readTls(s.t.lab.tls);
    const former = new RaftPeerClient(s.t.lab.hosts.find((h) => h.name === 'h4')!.endpoint, {
      ca: tls.ca,
      cert: await readFile(join(s.t.lab.dir, leaving, 'agent.pem')),
      key: await readFile(join(s.t.lab.dir, leaving, 'agent-key.pem')),
    });
    try {
      const refused = (await former.raft.deleteReplica({ id: 'mv' }).catch((e: unknown) => e)) as { code?: number };
      expect(refused.code).toBe(Status.PERMISSION_DENIED);
    } finally {
      former.close();
    }
    // The same hosts again: nothing to do.
    expect((await s.volumes('h4').moveVolume({ id: 'mv', hosts: target })).hosts.map((h) => h.name)).toEqual(target.map((h) => h.name));

    await s.volumes(via).deleteVolume({ id: 'mv' });
  }, 400_000);

  it('a storage host down past rebuildAfterSeconds: a new replica is built on the spare host, healthy with three; the old one is deleted when its host returns', async () => {
    await s.volumes('h1').createVolume({ id: 'rb', sizeBytes: 32 * MiB, replicas: 3, hosts: s.hosts.slice(0, 3), tenant: '' });
    const src = join(tmp, 'rb-src.img');
    const data = randomBytes(8 * MiB);
    await writeFile(src, data);
    await runOk('nbdcopy', [src, s.uri('h1', 'rb')], 120_000);
    const { leader } = await waitStatus(s, 'h1', 'rb', (v) => v.status === 'healthy', 'healthy');
    const victim = ['h2', 'h3'].find((h) => h !== leader)!;
    const victimHost = s.t.lab.hosts.find((h) => h.name === victim)!;
    await stopAgent(victimHost, 'SIGKILL');

    const want = s.hosts
      .slice(0, 3)
      .map((h) => (h.name === victim ? 'h4' : h.name))
      .join();
    const v = await waitStatus(
      s,
      'h1',
      'rb',
      (x) => x.hosts.map((h) => h.name).join() === want && x.status === 'healthy',
      `rebuilt on h4 in place of ${victim}, and healthy`,
      120_000,
    );
    expect(v.replicaStatus.filter((r) => r.healthy).length).toBe(3);
    expect((await readBack('h4', 'rb', data.length)).equals(data)).toBe(true);
    await waitFor('the registry to record the new hosts of rb', 10_000, async () => (await registryHosts('rb')).join() === want);

    // The old host comes back: its replica is no member any more, and the leader deletes it.
    expect(await exists(replicaDir(victim, 'rb'))).toBe(true);
    await restartAgent(s.t.lab, victim);
    await waitFor(`${victim}'s old replica of rb deleted`, 60_000, async () => !(await exists(replicaDir(victim, 'rb'))));
    await waitStatus(s, 'h4', 'rb', (x) => x.status === 'healthy', 'still healthy');
    await rm(src);
  }, 400_000);
});
