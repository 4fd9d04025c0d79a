// A lab of storage hosts with volume clients, NBD URIs (unix sockets, reachable from the root
// namespace) and bounded waits for volume states.

import type { Volume } from '../../../gen/vxcloud/agent/v1/volume.js';
import { AGENT_PORT, nbdClientCertDir, nbdSocketPath, type LabOptions } from '../../../lab/lab.js';
import { readTls } from '../../../lib/agent-client.js';
import { VolumeClient } from '../../../agent/sbs/volume/client.js';
import { startLab, type TestLab } from '../../harness/lab.js';
import { waitFor } from '../../../lab/lab.js';

export interface StorageLab {
  t: TestLab;
  volumes(host: string): VolumeClient['volumes'];
  /** Placement of every host of the lab, in order. */
  hosts: { name: string; endpoint: string }[];
  uri(host: string, id: string): string;
  /** nbds+unix:// with a libnbd certificate directory (default: the lab's client certificate). */
  tlsUri(host: string, id: string, certDir?: string): string;
  down(): Promise<void>;
}

export async function startStorageLab(hosts = 3, opts: Pick<LabOptions, 'nbdTls' | 'rebuildAfterSeconds'> = {}): Promise<StorageLab> {
  const t = await startLab({ hosts, roles: () => ['storage'], ...opts });
  const tls = await readTls(t.lab.tls);
  const clients = new Map(t.lab.hosts.map((h) => [h.name, new VolumeClient(h.endpoint, tls)]));
  return {
    t,
    volumes: (host) => clients.get(host)!.volumes,
    hosts: t.lab.hosts.map((h) => ({ name: h.name, endpoint: `${h.underlayAddress}:${AGENT_PORT}` })),
    uri: (host, id) => `nbd+unix:///${id}?socket=${nbdSocketPath(t.lab, host)}`,
    tlsUri: (host, id, certDir = nbdClientCertDir(t.lab)) =>
      `nbds+unix:///${id}?socket=${nbdSocketPath(t.lab, host)}&tls-certificates=${encodeURIComponent(certDir)}`,
    async down() {
      for (const c of clients.values()) c.close();
      await t.down();
    },
  };
}

export async function waitStatus(s: StorageLab, host: string, id: string, want: (v: Volume) => boolean, what: string, timeoutMs = 30_000): Promise<Volume> {
  return waitFor(`volume ${id} ${what} (asked ${host})`, timeoutMs, async () => {
    const v = await s.volumes(host).getVolume({ id }, 5000);
    return want(v) && v;
  });
}
