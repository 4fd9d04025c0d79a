// Replicated volumes in a lab of three storage hosts, through real NBD clients: nbdinfo,
// qemu-io, nbdcopy of a 256 MiB random image; grow, delete, idempotence and bad input.

import { status as Status, type ServiceError } from '@grpc/grpc-js';
import { randomFillSync } from 'node:crypto';
import { open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { labFilePath } from '../../../lab/labfile.js';
import { makeTempDir, run, runOk, sha256File } from '../nbd/harness.js';
import { startStorageLab, waitStatus, type StorageLab } from './harness.js';
import { metric, scrape } from '../../harness/metrics.js';

const MiB = 1024 * 1024;
let s: StorageLab;
let tmp: string;

beforeAll(async () => {
  s = await startStorageLab(3);
  tmp = await makeTempDir('sbs');
}, 120_000);

afterAll(async () => {
  await s?.down();
  if (tmp) await rm(tmp, { recursive: true, force: true });
}, 60_000);

async function rpcError(p: Promise<unknown>): Promise<ServiceError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x as ServiceError,
  );
  if (!e) throw new Error('the call succeeded');
  return e;
}

describe('volumes', () => {
  it('creates a volume, elects a leader and exports it on every replica', async () => {
    const v = await s.volumes('h1').createVolume({ id: 'vol1', sizeBytes: 64 * MiB, replicas: 3, hosts: s.hosts, tenant: '' });
    expect(v.id).toBe('vol1');
    const ready = await waitStatus(s, 'h2', 'vol1', (x) => x.status === 'healthy', 'healthy');
    expect(ready.leader).toMatch(/^h[123]$/);
    expect(ready.replicaStatus.map((r) => r.host?.name)).toEqual(['h1', 'h2', 'h3']);
    expect(ready.exportUri).toBe('nbd://192.0.2.12:10809/vol1');
    for (const h of ['h1', 'h2', 'h3']) {
      const out = await runOk('nbdinfo', ['--json', s.uri(h, 'vol1')], 30_000);
      const info = JSON.parse(out.stdout) as { exports: Record<string, unknown>[] };
      expect(info.exports[0]!['export-size']).toBe(64 * MiB);
      expect(info.exports[0]).toMatchObject({ can_flush: true, can_fua: true, can_trim: true, can_zero: true, can_multi_conn: true, is_read_only: false });
    }
    // Over TCP on the underlay too, from another host's namespace.
    const h3 = s.t.lab.hosts[2]!.namespace;
    const tcp = await s.t.exec(h3, ['nbdinfo', '--size', 'nbd://192.0.2.11:10809/vol1'], 30_000);
    expect(tcp.stdout.trim()).toBe(String(64 * MiB));
  }, 60_000);

  it('is idempotent: the same create returns the volume, another spec is refused', async () => {
    const again = await s.volumes('h3').createVolume({ id: 'vol1', sizeBytes: 64 * MiB, replicas: 3, hosts: s.hosts, tenant: '' });
    expect(again.sizeBytes).toBe(64 * MiB);
    const e = await rpcError(s.volumes('h1').createVolume({ id: 'vol1', sizeBytes: 128 * MiB, replicas: 3, hosts: s.hosts, tenant: '' }));
    expect(e.details).toMatch(/^id: volume "vol1" exists/);
  });

  it('writes through one replica and reads back through every other (qemu-io: write, zero, discard)', async () => {
    await runOk(
      'qemu-io',
      ['-f', 'raw', '-c', 'write -P 0x5a 1M 2M', '-c', 'write -z 2M 64k', '-c', 'discard 3M 4k', '-c', 'flush', s.uri('h2', 'vol1')],
      60_000,
    );
    for (const h of ['h1', 'h3']) {
      const out = await runOk(
        'qemu-io',
        ['-f', 'raw', '-c', 'read -P 0x5a 1M 1M', '-c', 'read -P 0 2M 64k', '-c', 'read -P 0x5a 2112k 960k', '-c', 'read -P 0 0 1M', s.uri(h, 'vol1')],
        60_000,
      );
      expect(out.stdout).not.toMatch(/Pattern verification failed/);
    }
    // What Prometheus sees: one leader among the three replicas, and the bytes written through h2.
    const scraped = await Promise.all(['h1', 'h2', 'h3'].map((h) => scrape(s.t, h)));
    expect(scraped.map((x) => metric(x.samples, 'vxcloud_volume_raft_role', { volume: 'vol1', role: 'leader' })).sort()).toEqual([0, 0, 1]);
    expect(metric(scraped[1]!.samples, 'vxcloud_nbd_bytes_total', { volume: 'vol1', op: 'write' })).toBe(2 * MiB);
    expect(metric(scraped[1]!.samples, 'vxcloud_nbd_requests_total', { volume: 'vol1', op: 'write_zeroes' })).toBe(1);
    expect(metric(scraped[0]!.samples, 'vxcloud_nbd_bytes_total', { volume: 'vol1', op: 'read' })).toBeGreaterThanOrEqual(3 * MiB);
  }, 120_000);

  it('copies a 256 MiB random image in and out with nbdcopy, checksums equal', async () => {
    await s.volumes('h1').createVolume({ id: 'big', sizeBytes: 256 * MiB, replicas: 3, hosts: s.hosts, tenant: '' });
    await waitStatus(s, 'h1', 'big', (x) => x.leader !== '', 'led');
    const source = join(tmp, 'source.img');
    const fh = await open(source, 'w');
    const chunk = Buffer.alloc(MiB);
    for (let at = 0; at < 256 * MiB; at += MiB) await fh.write(randomFillSync(chunk), 0, MiB, at);
    await fh.close();
    await runOk('nbdcopy', ['--request-size=1048576', source, s.uri('h1', 'big')], 300_000);
    const back = join(tmp, 'back.img');
    await runOk('nbdcopy', [s.uri('h3', 'big'), back], 300_000);
    expect(await sha256File(back)).toBe(await sha256File(source));
    await rm(back);
    // A Ready held several 1 MiB appends per follower: no peer may have refused them as one
    // oversized message (the stream then breaks and raft resends everything, slowly).
    for (const h of s.t.lab.hosts) expect(await readFile(h.logFile, 'utf8')).not.toMatch(/Received message larger than max/);
  }, 600_000);

  it('grows in place; shrinking is refused on size_bytes', async () => {
    const v = await s.volumes('h3').growVolume({ id: 'vol1', sizeBytes: 96 * MiB });
    expect(v.sizeBytes).toBe(96 * MiB);
    for (const h of ['h1', 'h2', 'h3']) expect((await runOk('nbdinfo', ['--size', s.uri(h, 'vol1')], 30_000)).stdout.trim()).toBe(String(96 * MiB));
    await runOk('qemu-io', ['-f', 'raw', '-c', 'write -P 0x33 95M 1M', s.uri('h1', 'vol1')], 60_000);
    await runOk('qemu-io', ['-f', 'raw', '-c', 'read -P 0x33 95M 1M', '-c', 'read -P 0x5a 1M 1M', s.uri('h2', 'vol1')], 60_000);
    expect((await rpcError(s.volumes('h1').growVolume({ id: 'vol1', sizeBytes: 64 * MiB }))).details).toMatch(/^size_bytes: .*only grow/);
    expect((await s.volumes('h1').growVolume({ id: 'vol1', sizeBytes: 96 * MiB })).sizeBytes).toBe(96 * MiB);
  }, 120_000);

  it('refuses bad input with the field named', async () => {
    const create = (over: Record<string, unknown>): Promise<ServiceError> =>
      rpcError(s.volumes('h1').createVolume({ id: 'bad', sizeBytes: 64 * MiB, replicas: 3, hosts: s.hosts, tenant: '', ...over }));
    expect((await create({ sizeBytes: 0 })).details).toBe('size_bytes: 0 is not a positive number of bytes');
    expect((await create({ sizeBytes: 4097 })).details).toBe('size_bytes: 4097 is not a multiple of 4096');
    expect((await create({ replicas: 4 })).details).toBe('replicas: 4 replicas need 4 storage hosts; 3 given in hosts');
    expect((await create({ id: 'Bad_Id' })).details).toMatch(/^id: /);
    expect((await create({ hosts: [s.hosts[0], s.hosts[0], s.hosts[1]] })).details).toMatch(/^hosts\[1\]\.name: "h1" is placed twice/);
    expect((await create({ hosts: [...s.hosts.slice(0, 2), { name: 'h9', endpoint: '192.0.2.99:7443' }] })).details).toMatch(/^hosts: h9: /);
    expect((await rpcError(s.volumes('h1').getVolume({ id: 'nope' }))).details).toMatch(/^id: volume "nope" has no replica on h1/);
    expect((await rpcError(s.volumes('h1').growVolume({ id: 'vol1', sizeBytes: 100 }))).details).toMatch(/^size_bytes: 100 is not a multiple/);
    const unknown = await run('nbdinfo', [s.uri('h1', 'nope')], 30_000);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/nope/);
  }, 60_000);

  it('keeps a volume name unique in the deployment: taken on other hosts, it is refused; deleted, it is free', async () => {
    const one = (h: string) => ({ id: 'solo', sizeBytes: 16 * MiB, replicas: 1, hosts: s.hosts.filter((p) => p.name === h), tenant: '' });
    await s.volumes('h1').createVolume(one('h1'));
    const e = await rpcError(s.volumes('h2').createVolume(one('h2')));
    expect(e.code).toBe(Status.ALREADY_EXISTS);
    expect(e.metadata.get('vxcloud-field')).toEqual(['id']);
    expect(e.details).toMatch(/volume "solo" exists already \(volume names are unique in the deployment\): pick another name/);
    expect((await s.volumes('h2').listVolumes({})).volumes.map((v) => v.id)).not.toContain('solo');
    const where = await s.t.client('h3').host.lookupObject({ id: 'solo' });
    expect([where.kind, where.hosts]).toEqual(['volume', ['h1']]);
    expect((await s.volumes('h1').deleteVolume({ id: 'solo' })).existed).toBe(true);
    expect((await rpcError(s.t.client('h3').host.lookupObject({ id: 'solo' }))).code).toBe(Status.NOT_FOUND);
    await s.volumes('h2').createVolume(one('h2'));
    expect((await s.volumes('h2').deleteVolume({ id: 'solo' })).existed).toBe(true);
  }, 60_000);

  it('vxctl volume list|show: each volume once, each replica with its role, and an export URI that works from here', async () => {
    const vxctl = async (...args: string[]): Promise<string> =>
      (await runOk(process.execPath, ['dist/vxctl/main.js', 'volume', ...args, '--lab-file', labFilePath(s.t.lab.dir)], 20_000)).stdout;
    const size = (await s.volumes('h1').getVolume({ id: 'vol1' })).sizeBytes;
    const out = await vxctl('list');
    const list = out.split('\n').map((l) => l.trim());
    expect(
      list.filter((l) => /^vol1\s/.test(l)),
      out,
    ).toHaveLength(1);
    expect(list.find((l) => /^vol1\s/.test(l))).toMatch(new RegExp(`^vol1\\s+-\\s+${size / MiB} MiB\\s+h1,h2,h3\\s+healthy\\s+h[123]$`));
    const show = await vxctl('show', 'vol1');
    const rows = show
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => /^h[123]\s/.test(l));
    expect(rows).toHaveLength(3);
    expect(rows.filter((l) => /^h[123]\s+leader\s/.test(l))).toHaveLength(1);
    // The URI the table gives for h3, followed verbatim from this (the root) namespace.
    const uri = rows
      .find((l) => l.startsWith('h3'))!
      .split(/\s+/)
      .at(-1)!;
    expect(uri).toMatch(/^nbd\+unix:\/\/\/vol1\?socket=/);
    expect((await runOk('nbdinfo', ['--size', uri], 30_000)).stdout.trim()).toBe(String(size));
  });

  it('lists and deletes everywhere; delete is idempotent', async () => {
    expect((await s.volumes('h2').listVolumes({})).volumes.map((v) => v.id).sort()).toEqual(['big', 'vol1']);
    expect((await s.volumes('h2').deleteVolume({ id: 'vol1' })).existed).toBe(true);
    for (const h of ['h1', 'h2', 'h3']) expect((await s.volumes(h).listVolumes({})).volumes.map((v) => v.id)).toEqual(['big']);
    expect((await s.volumes('h1').deleteVolume({ id: 'vol1' })).existed).toBe(false);
    expect((await run('nbdinfo', [s.uri('h3', 'vol1')], 30_000)).code).not.toBe(0);
  }, 60_000);
});
