// etcd labs for tests: compute hosts whose agents register in and watch the lab's own etcd.

import { etcdNamespace, ETCD_ENDPOINT, waitFor } from '../../lab/lab.js';
import { startLab, type TestLab } from './lab.js';

export interface EtcdLabOptions {
  hosts: number;
  leaseSeconds: number;
}

export async function startEtcdLab(o: EtcdLabOptions): Promise<TestLab> {
  const t = await startLab({ hosts: o.hosts, controlPlane: 'etcd', etcd: { leaseSeconds: o.leaseSeconds } });
  try {
    await waitMembers(t, t.lab.hosts.map((h) => h.name), t.lab.hosts.map((h) => h.name));
  } catch (e) {
    await t.down();
    throw e;
  }
  return t;
}

/** Host names that `host` sees registered in etcd. */
export async function members(t: TestLab, host: string): Promise<string[]> {
  const cp = (await t.client(host).host.getHost({}, 5000)).controlPlane;
  return (cp?.etcd?.members ?? []).map((m) => m.name).sort();
}

/** Waits until each of `watchers` sees exactly `expected` as members. */
export async function waitMembers(t: TestLab, watchers: string[], expected: string[], timeoutMs = 20_000): Promise<void> {
  const want = [...expected].sort().join();
  await waitFor(`${watchers.join(', ')} to see members ${want}`, timeoutMs, async () => {
    for (const w of watchers) if ((await members(t, w)).join() !== want) return false;
    return true;
  });
}

/** Keys under a prefix, read with etcdctl inside the etcd's namespace. */
export async function etcdKeys(t: TestLab, prefix: string): Promise<string[]> {
  const { stdout } = await t.exec(etcdNamespace(t.lab.name), ['etcdctl', '--endpoints', ETCD_ENDPOINT, 'get', '--prefix', '--keys-only', prefix]);
  return stdout.split('\n').filter((l) => l !== '');
}
