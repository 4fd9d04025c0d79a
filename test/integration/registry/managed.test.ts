// The managed registry: the agents of h1–h3 run the deployment's etcd themselves (registry.managed),
// on their underlay addresses, under their supervisors. No etcd of the lab's own runs.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { etcdctlTls, restartAgent, stopAgent, waitFor } from '../../../lab/lab.js';
import { startRegistryLab, upHosts, waitUp } from '../../harness/registry.js';
import { addr, host, nicNamespace, pingUntil, putNic, putSubnet, type NicPlace } from '../../harness/evpn.js';
import { processesUnder, type TestLab } from '../../harness/lab.js';
import { isAlive } from '../../../lib/process.js';

const HOSTS = ['h1', 'h2', 'h3'];
let t: TestLab;

const etcdPid = async (h: string): Promise<number> => Number((await readFile(join(host(t, h).stateDir, 'etcd', 'process.pid'), 'utf8')).trim());
/** etcdctl from h's namespace against h's own member. */
const etcdctl = (h: string, ...args: string[]) =>
  t.exec(
    host(t, h).namespace,
    ['etcdctl', '--endpoints', `https://${host(t, h).underlayAddress}:2379`, ...etcdctlTls(t.lab.dir), '--dial-timeout', '2s', ...args],
    10_000,
  );

beforeAll(async () => {
  t = await startRegistryLab({ hosts: 3, leaseSeconds: 3, registryMembers: 3, managedRegistry: true });
});
afterAll(async () => {
  await t?.down();
});

describe('managed registry', () => {
  it("runs one member on each of h1–h3, at its underlay address, as its agent's daemon", async () => {
    expect(await upHosts(t, 'h1')).toEqual(HOSTS);
    const members = JSON.parse((await etcdctl('h1', '-w', 'json', 'member', 'list')).stdout) as { members: { name: string; peerURLs: string[] }[] };
    expect(members.members.map((m) => [m.name, m.peerURLs]).sort()).toEqual(HOSTS.map((h, i) => [h, [`https://192.0.2.1${i + 1}:2380`]]));
    for (const h of HOSTS) {
      const cmd = await readFile(`/proc/${await etcdPid(h)}/cmdline`, 'utf8');
      expect(cmd.split('\0')).toContain(join(host(t, h).stateDir, 'etcd', 'data'));
    }
    // No member of the lab's own.
    expect((await processesUnder(join(t.lab.dir, 'etcd'))).filter((c) => c.includes('/etcd/data'))).toEqual([]);
  });

  it('carries the registry plane: NICs on three hosts ping each other', async () => {
    await putSubnet(t, HOSTS, { vpc: 'm', id: 'mweb', cidr: '198.18.7.0/24', vni: 0 });
    const nics: NicPlace[] = [1, 2, 3].map((i) => ({ host: `h${i}`, id: `m${i}`, subnet: 'mweb', mac: `02:00:c6:12:47:0${i}`, ip: `198.18.7.${10 + i}/24` }));
    for (const n of nics) await putNic(t, n);
    await pingUntil(t, nicNamespace(t, nics[0]!), addr(nics[2]!.ip), 15_000);
    await pingUntil(t, nicNamespace(t, nics[2]!), addr(nics[1]!.ip), 15_000);
  });

  it('a SIGKILLed agent leaves its member running, and adopts it when it comes back', async () => {
    const before = await etcdPid('h3');
    await stopAgent(host(t, 'h3'), 'SIGKILL');
    expect(isAlive(before)).toBe(true);
    await restartAgent(t.lab, 'h3');
    expect(await etcdPid('h3')).toBe(before);
    expect(await readFile(host(t, 'h3').logFile, 'utf8')).toMatch(/"daemon":"etcd".*"msg":"adopted a running daemon"/);
  });

  it('a stopped agent stops its member; the other two keep a quorum and take changes; back, it rejoins', async () => {
    const pid = await etcdPid('h3');
    await stopAgent(host(t, 'h3'));
    await waitFor('h3 member to stop', 5000, async () => !isAlive(pid));
    await waitUp(t, ['h1', 'h2'], ['h1', 'h2']);
    await putSubnet(t, ['h1', 'h2'], { vpc: 'm', id: 'mdb', cidr: '198.18.8.0/24', vni: 0 });
    expect((await t.client('h1').host.lookupObject({ id: 'mdb' })).hosts).toEqual(['h1', 'h2']);
    await restartAgent(t.lab, 'h3');
    await waitUp(t, HOSTS, HOSTS);
    await waitFor('h3 member to be healthy', 15_000, async () => {
      const r = await etcdctl('h3', 'endpoint', 'health');
      return /is healthy/.test(r.stdout + r.stderr);
    });
    // Its copy caught up with what was written while it was away.
    expect((await etcdctl('h3', 'get', '--prefix', '--keys-only', '/vxcloud/objects/mdb')).stdout).toContain('/vxcloud/objects/mdb');
  });

  it('lab teardown stops every member and leaves no process of the lab behind', async () => {
    const dir = t.lab.dir;
    await t.down();
    expect(await processesUnder(dir)).toEqual([]);
  });
});
