// Replicated volumes in a lab of three storage hosts, through real NBD clients.

import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runOk } from '../nbd/harness.js';
import { startStorageLab, waitStatus, type StorageLab } from './harness.js';

const MiB = 1024 * 1024;
let s: StorageLab;

beforeAll(async () => {
  s = await startStorageLab(3);
}, 120_000);

afterAll(async () => {
  await s?.down();
}, 60_000);

describe('volume basics', () => {
  it('creates a volume, elects a leader and exports it on every replica', async () => {
    const v = await s.volumes('h1').createVolume({ id: 'vol1', sizeBytes: 64 * MiB, replicas: 3, hosts: s.hosts });
    expect(v.id).toBe('vol1');
    const ready = await waitStatus(s, 'h2', 'vol1', (x) => x.status === 'healthy', 'healthy');
    expect(ready.leader).toMatch(/^h[123]$/);
    expect(ready.replicaStatus.map((r) => r.host?.name)).toEqual(['h1', 'h2', 'h3']);
    for (const h of ['h1', 'h2', 'h3']) {
      const out = await runOk('nbdinfo', ['--json', s.uri(h, 'vol1')], 30_000);
      const info = JSON.parse(out.stdout) as { exports: { 'export-size': number; can_flush: boolean; can_fua: boolean; can_trim: boolean; can_zero: boolean; can_multi_conn: boolean }[] };
      expect(info.exports[0]!['export-size']).toBe(64 * MiB);
      expect(info.exports[0]).toMatchObject({ can_flush: true, can_fua: true, can_trim: true, can_zero: true, can_multi_conn: true });
    }
  }, 60_000);

  it('writes through one replica and reads back through every other', async () => {
    const pattern = randomBytes(1).readUInt8() | 1;
    await runOk('qemu-io', ['-f', 'raw', '-c', `write -P ${pattern} 1M 2M`, '-c', 'flush', s.uri('h2', 'vol1')], 60_000);
    for (const h of ['h1', 'h3']) {
      const out = await runOk('qemu-io', ['-f', 'raw', '-c', `read -P ${pattern} 1M 2M`, '-c', 'read -P 0 0 1M', s.uri(h, 'vol1')], 60_000);
      expect(out.stdout).not.toMatch(/Pattern verification failed/);
    }
  }, 120_000);
});
