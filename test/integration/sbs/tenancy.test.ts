// Volumes belong to tenants: the volume API shows and changes a tenant's own volumes only, and
// a tenant's NBD export admits only that tenant's and operators' certificates, over TLS. The
// host serves NBD with TLS optional, so plaintext clients are possible and must be refused.

import { status as Status, type ServiceError } from '@grpc/grpc-js';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nbdClientCertDir } from '../../../lab/lab.js';
import { readTls } from '../../../lib/agent-client.js';
import { issue, readPair, writeNbdClientDir } from '../../../lib/certs.js';
import { RaftPeerClient, VolumeClient, type Tls } from '../../../agent/sbs/volume/client.js';
import { encodeCommand } from '../../../agent/sbs/volume/commands.js';
import { makeTempDir, run, runOk } from '../nbd/harness.js';
import { linkOutcome, startStorageLab, waitStatus, type StorageLab } from './harness.js';

const MiB = 1024 * 1024;
let s: StorageLab;
let tmp: string;
const dirs = new Map<string, string>();
const api = new Map<string, VolumeClient>();

/** A write forwarded on the raft link as a follower would: '' once applied, else the error (or how the link ended). */
const forwardOutcome = (tls: Tls): Promise<string> =>
  linkOutcome(s.t.lab, 'h1', tls, { kind: 'forward', id: 1, volumeId: 'tv', parts: [encodeCommand({ op: 'write', offset: 0, data: Buffer.alloc(4096, 1) })] });

const outcome = (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'ok',
    (e: ServiceError) => Status[e.code] ?? String(e),
  );

beforeAll(async () => {
  s = await startStorageLab(1, { nbdTls: 'optional' });
  tmp = await makeTempDir('sbs-tenancy');
  const base = await readTls(s.t.lab.tls);
  for (const t of ['t1', 't2']) {
    const p = s.t.lab.tenants![t]!;
    const tls = { ca: base.ca, cert: await readFile(p.cert), key: await readFile(p.key) };
    api.set(t, new VolumeClient(s.t.lab.hosts[0]!.endpoint, tls));
    dirs.set(t, await writeNbdClientDir(join(tmp, t), { ca: base.ca.toString(), cert: tls.cert.toString(), key: tls.key.toString() }));
  }
  dirs.set('operator', nbdClientCertDir(s.t.lab));
  await api.get('t1')!.volumes.createVolume({ id: 'tv', sizeBytes: 16 * MiB, replicas: 1, hosts: s.hosts, tenant: '' });
  await s.volumes('h1').createVolume({ id: 'ov', sizeBytes: 16 * MiB, replicas: 1, hosts: s.hosts, tenant: '' });
  for (const id of ['tv', 'ov']) await waitStatus(s, 'h1', id, (v) => v.status === 'healthy', 'healthy');
}, 120_000);
afterAll(async () => {
  for (const c of api.values()) c.close();
  await s?.down();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe("a tenant's volume", () => {
  it("is the creating tenant's, and its export URI says to start TLS", async () => {
    const v = await api.get('t1')!.volumes.getVolume({ id: 'tv' });
    expect(v.tenant).toBe('t1');
    expect(v.exportUri).toMatch(/^nbds:\/\//);
  });

  it('the volume API: only its tenant and operators see or change it', async () => {
    const t2 = api.get('t2')!.volumes;
    expect(await outcome(t2.getVolume({ id: 'tv' }))).toBe('PERMISSION_DENIED');
    expect(await outcome(t2.growVolume({ id: 'tv', sizeBytes: 32 * MiB }))).toBe('PERMISSION_DENIED');
    expect(await outcome(t2.deleteVolume({ id: 'tv' }))).toBe('PERMISSION_DENIED');
    expect(await outcome(t2.moveVolume({ id: 'tv', hosts: s.hosts.slice(0, 1) }))).toBe('PERMISSION_DENIED');
    expect(await outcome(t2.createVolume({ id: 'tv', sizeBytes: 16 * MiB, replicas: 1, hosts: s.hosts, tenant: '' }))).toBe('PERMISSION_DENIED');
    expect(await outcome(t2.createVolume({ id: 'x', sizeBytes: 16 * MiB, replicas: 1, hosts: s.hosts, tenant: 't1' }))).toBe('PERMISSION_DENIED');
    expect((await t2.listVolumes({})).volumes).toEqual([]);
    expect((await api.get('t1')!.volumes.listVolumes({})).volumes.map((v) => v.id)).toEqual(['tv']);
    expect((await s.volumes('h1').listVolumes({})).volumes.map((v) => v.id).sort()).toEqual(['ov', 'tv']);
    // The same words for another tenant's volume and for none at all.
    const msg = async (id: string): Promise<string> => ((await t2.getVolume({ id }).catch((e: unknown) => e)) as ServiceError).details.replace(id, 'ID');
    expect(await msg('tv')).toBe(await msg('nothing'));
  });

  it('over NBD: its tenant and an operator are served; the other tenant and plaintext find no such export', async () => {
    const uri = (id: string, who: string): string => s.tlsUri('h1', id, dirs.get(who));
    for (const who of ['t1', 'operator']) {
      const { stdout } = await runOk('nbdinfo', ['--size', uri('tv', who)], 30_000);
      expect(stdout.trim(), who).toBe(String(16 * MiB));
    }
    const other = await run('nbdinfo', ['--size', uri('tv', 't2')], 30_000);
    expect(other.code).not.toBe(0);
    expect(other.stderr).toMatch(/server has no export named 'tv'/);
    const plain = await run('nbdinfo', ['--size', s.uri('h1', 'tv')], 30_000);
    expect(plain.code).not.toBe(0);
    // A tenant's listing holds its own exports only.
    const { stdout } = await runOk('nbdinfo', ['--list', '--json', s.tlsUri('h1', '', dirs.get('t2'))], 30_000);
    expect((JSON.parse(stdout) as { exports: { 'export-name': string }[] }).exports.map((e) => e['export-name'])).toEqual([]);
  });

  it('forwarded writes, and replicas made or removed, are taken only from the hosts of the placement (or, to make one, a storage host)', async () => {
    const pki = join(s.t.lab.dir, 'pki');
    const ca = await readPair(join(pki, 'ca.pem'), join(pki, 'ca-key.pem'));
    const stranger = await issue(ca, { commonName: 'h9', role: 'host', identity: { kind: 'host', host: 'h9' } });
    const base = await readTls(s.t.lab.tls);
    const strangerTls = { ca: base.ca, cert: Buffer.from(stranger.cert), key: Buffer.from(stranger.key) };
    expect(await forwardOutcome(strangerTls)).toMatch(/host h9 is not a host of volume "tv"/);
    const c = new RaftPeerClient(s.t.lab.hosts[0]!.endpoint, strangerTls);
    try {
      // A host certificate of the deployment, but not a storage host of its inventory.
      expect(await outcome(c.raft.deleteReplica({ id: 'tv' }))).toBe('PERMISSION_DENIED');
      expect(await outcome(c.raft.moveReplicas({ id: 'tv', hosts: s.hosts.slice(0, 1) }))).toBe('PERMISSION_DENIED');
      const plant = { id: 'planted', sizeBytes: 16 * MiB, hosts: s.hosts, repair: false, memberId: '', tenant: 't1', placedAt: 0 };
      expect(await outcome(c.raft.createReplica(plant))).toBe('PERMISSION_DENIED');
    } finally {
      c.close();
    }
    expect((await s.volumes('h1').getVolume({ id: 'tv' })).status).toBe('healthy');
    expect((await s.volumes('h1').listVolumes({})).volumes.map((v) => v.id)).not.toContain('planted');
    // A tenant's certificate: the link closes before it reads a frame.
    const tenant = { ca: base.ca, cert: await readFile(s.t.lab.tenants!.t1!.cert), key: await readFile(s.t.lab.tenants!.t1!.key) };
    expect(await forwardOutcome(tenant)).toBe('closed');
  });

  it("an operator's volume of no tenant is served as before, but not to tenants", async () => {
    expect((await runOk('nbdinfo', ['--size', s.uri('h1', 'ov')], 30_000)).stdout.trim()).toBe(String(16 * MiB));
    expect((await run('nbdinfo', ['--size', s.tlsUri('h1', 'ov', dirs.get('t1'))], 30_000)).code).not.toBe(0);
  });
});
