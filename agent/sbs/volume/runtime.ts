// Storage hosts: the volume store, its gRPC services, the raft link and the NBD listeners,
// started and stopped together by the agent.

import { freeSocketPath, parseListen } from '../../../lib/listen.js';
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { peerEndpoint } from '../../api/host-service.js';
import { volumeServices, type VolumeServices } from '../../api/volume-service.js';
import type { AgentConfig, NbdTlsSetting } from '../../config/config.js';
import type { Authorities } from '../../registry/authority.js';
import { NbdServer, type NbdTlsOptions } from '../nbd/server.js';
import { LinkServer } from './link-server.js';
import { VolumeStore } from './store.js';
import { startUpkeep, type StorageHosts } from './upkeep.js';
import type { AgentMetrics } from '../../metrics/metrics.js';
import type { StorageSource } from '../../metrics/sources.js';

export interface StorageRuntime {
  services: VolumeServices;
  metrics: StorageSource;
  stop(): Promise<void>;
}

/** `storageHosts`: the deployment inventory's storage hosts. */
export async function startStorage(
  cfg: AgentConfig,
  storage: NonNullable<AgentConfig['storage']>,
  authorities: Authorities,
  storageHosts: StorageHosts,
  log: Logger,
  metrics: AgentMetrics,
): Promise<StorageRuntime> {
  const [ca, cert, key] = await Promise.all([readFile(cfg.tls.ca), readFile(cfg.tls.cert), readFile(cfg.tls.key)]);
  const slog = log.child({ component: 'sbs' });
  const store = await VolumeStore.open(cfg.host.name, storage.dataDir, { ca, cert, key }, slog);
  const servers: NbdServer[] = [];
  const tls = nbdTls(storage.nbdTls, { ca, cert, key });
  const tcp = storage.nbdListen.find((a) => !a.startsWith('unix://'));
  const services = volumeServices(store, tcp, storage.nbdTls, authorities, storageHosts, peerEndpoint(storage.raftListen, cfg.underlay.address), slog);
  const links: LinkServer[] = [];
  try {
    for (const address of storage.raftListen) {
      const link = new LinkServer({ ca, cert, key }, services.inbox, slog);
      const at = parseListen(address);
      await freeSocketPath(at);
      await link.listen(at);
      links.push(link);
    }
    for (const address of storage.nbdListen) {
      const server = new NbdServer({
        resolver: store,
        ...(tls ? { tls } : {}),
        log: { debug: (o, m) => slog.debug(o, m), warn: (o, m) => slog.warn(o, m) },
        io: (volume, op, bytes) => {
          metrics.nbdRequests.inc({ volume, op });
          if (bytes > 0 && (op === 'read' || op === 'write')) metrics.nbdBytes.inc({ volume, op }, bytes);
        },
      });
      const at = parseListen(address);
      await freeSocketPath(at);
      if ('path' in at) await server.listenPath(at.path);
      else await server.listen(at.port, at.host);
      servers.push(server);
    }
  } catch (e) {
    await Promise.all([...servers.map((s) => s.close()), ...links.map((l) => l.close())]);
    await store.close();
    throw e;
  }
  const upkeep = startUpkeep(store, storageHosts, (id, hosts) => authorities(undefined).placeVolume(id, hosts), storage.rebuildAfterSeconds * 1000, slog);
  slog.info({ nbd: storage.nbdListen, nbdTls: storage.nbdTls, raft: storage.raftListen }, 'storage serving');
  return {
    services,
    metrics: {
      replicas: () => store.all().map((r) => ({ volume: r.spec.id, ...r.state() })),
      nbdConnections: () => servers.flatMap((s) => s.exportNames()),
    },
    async stop() {
      upkeep.stop();
      await Promise.all([...servers.map((s) => s.close()), ...links.map((l) => l.close())]);
      await store.close();
    },
  };
}

/**
 * The agent's own certificate serves NBD too, and clients must hold one of the deployment CA —
 * mutual TLS as on the agent API. Every listener gets the same policy: a unix socket is as
 * reachable as the file's permissions allow, which is not an identity.
 */
export function nbdTls(setting: NbdTlsSetting, pem: { ca: Buffer; cert: Buffer; key: Buffer }): NbdTlsOptions | undefined {
  if (setting === 'off') return undefined;
  return { key: pem.key, cert: pem.cert, ca: pem.ca, requireClientCert: true, mandatory: setting === 'required' };
}
