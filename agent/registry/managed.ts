// The managed registry: an agent on a management host runs a member of the deployment's etcd under
// its supervisor (restarted when it dies, adopted after an agent restart, stopped with the agent),
// as it runs FRR. The member listens on the host's underlay address; its data stays in dataDir.

import { join } from 'node:path';
import type { AgentConfig } from '../config/config.js';
import type { ManagedMember } from '../config/registry.js';
import type { Supervisor } from '../process/supervisor.js';
import { etcdArgv } from './etcd-member.js';

const ETCD_CLIENT_PORT = 2379;

/** Returns once the member runs; it serves once a majority of the cluster's members do. */
export async function runRegistryMember(cfg: AgentConfig, m: ManagedMember, supervisor: Supervisor): Promise<void> {
  const self = m.cluster.find((c) => c.name === cfg.host.name)!; // the config checked it is there
  const argv = etcdArgv({
    name: self.name,
    dataDir: join(m.dataDir, 'data'),
    clientUrl: `https://${cfg.underlay.address}:${ETCD_CLIENT_PORT}`,
    peerUrl: self.peerUrl,
    cluster: m.cluster.map((c) => `${c.name}=${c.peerUrl}`),
    tls: { ca: cfg.registry!.tls!.ca, cert: m.cert, key: m.key },
  });
  await supervisor.ensure({ key: 'etcd', netns: '', argv, dir: m.dataDir }, false);
}
