// Storage hosts: the volume store, its gRPC services and the NBD listeners, started and stopped
// together by the agent.

import { mkdir, readFile, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { volumeServices, type VolumeServices } from '../../api/volume-service.js';
import type { AgentConfig } from '../../config/config.js';
import { NbdServer } from '../nbd/server.js';
import { VolumeStore } from './store.js';

export interface StorageRuntime {
  services: VolumeServices;
  stop(): Promise<void>;
}

export async function startStorage(cfg: AgentConfig, storage: NonNullable<AgentConfig['storage']>, log: Logger): Promise<StorageRuntime> {
  const [ca, cert, key] = await Promise.all([readFile(cfg.tls.ca), readFile(cfg.tls.cert), readFile(cfg.tls.key)]);
  const slog = log.child({ component: 'sbs' });
  const store = await VolumeStore.open(cfg.host.name, storage.dataDir, { ca, cert, key }, slog);
  const servers: NbdServer[] = [];
  try {
    for (const address of storage.nbdListen) {
      const server = new NbdServer({ resolver: store, log: { debug: (o, m) => slog.debug(o, m), warn: (o, m) => slog.warn(o, m) } });
      if (address.startsWith('unix://')) {
        const path = address.slice('unix://'.length);
        await mkdir(dirname(path), { recursive: true, mode: 0o755 });
        await rm(path, { force: true }); // left by a killed agent
        await server.listenPath(path);
      } else {
        const at = address.lastIndexOf(':');
        await server.listen(Number(address.slice(at + 1)), address.slice(0, at));
      }
      servers.push(server);
    }
  } catch (e) {
    await Promise.all(servers.map((s) => s.close()));
    await store.close();
    throw e;
  }
  const tcp = storage.nbdListen.find((a) => !a.startsWith('unix://'));
  slog.info({ nbd: storage.nbdListen }, 'storage serving');
  return {
    services: volumeServices(store, tcp, slog),
    async stop() {
      await Promise.all(servers.map((s) => s.close()));
      await store.close();
    },
  };
}
