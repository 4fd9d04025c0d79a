// Registry labs for tests: hosts whose agents register in, allocate from and (under the registry
// control plane) derive their VTEP tables from the lab's own etcd.

import { etcdctlTls, etcdMember, waitFor, type LabOptions } from '../../lab/lab.js';
import { startLab, type TestLab } from './lab.js';

export interface RegistryLabOptions extends Omit<LabOptions, 'name' | 'registry'> {
  leaseSeconds: number;
}

/** A lab whose hosts all see each other up in the registry. */
export async function startRegistryLab(o: RegistryLabOptions): Promise<TestLab> {
  const { leaseSeconds, ...rest } = o;
  const t = await startLab({ ...rest, registry: { leaseSeconds } });
  try {
    const names = t.lab.hosts.map((h) => h.name);
    await waitUp(t, names, names);
  } catch (e) {
    await t.down();
    throw e;
  }
  return t;
}

/** Host names that `host` sees up in the registry. */
export async function upHosts(t: TestLab, host: string): Promise<string[]> {
  const r = (await t.client(host).host.getHost({}, 5000)).registry;
  return (r?.members ?? [])
    .filter((m) => m.up)
    .map((m) => m.name)
    .sort();
}

/** Waits until each of `watchers` sees exactly `expected` up. */
export async function waitUp(t: TestLab, watchers: string[], expected: string[], timeoutMs = 20_000): Promise<void> {
  const want = [...expected].sort().join();
  await waitFor(`${watchers.join(', ')} to see ${want} up`, timeoutMs, async () => {
    for (const w of watchers) if ((await upHosts(t, w)).join() !== want) return false;
    return true;
  });
}

/** Keys under a prefix, read with etcdctl (over the registry's TLS) inside the etcd's namespace. */
export async function registryKeys(t: TestLab, prefix: string): Promise<string[]> {
  const m = etcdMember(t.lab.name, t.lab.dir, 1);
  const { stdout } = await t.exec(m.namespace, ['etcdctl', '--endpoints', m.endpoint, ...etcdctlTls(t.lab.dir), 'get', '--prefix', '--keys-only', prefix]);
  return stdout.split('\n').filter((l) => l !== '');
}

/** The value of one key (undefined when absent), read like registryKeys. */
export async function registryValue(t: TestLab, key: string): Promise<string | undefined> {
  const m = etcdMember(t.lab.name, t.lab.dir, 1);
  const { stdout } = await t.exec(m.namespace, ['etcdctl', '--endpoints', m.endpoint, ...etcdctlTls(t.lab.dir), 'get', '--print-value-only', key]);
  return stdout.trim() === '' ? undefined : stdout.trim();
}
