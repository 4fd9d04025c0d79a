// The agent's gRPC server: mutual TLS only (a client must present a certificate signed by the
// deployment's CA), the standard health service, and one bind per configured address.

import { Server, ServerCredentials } from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { HostServiceService, type HostServiceServer } from '../../gen/vxcloud/agent/v1/host.js';
import { NetworkServiceService, type NetworkServiceServer } from '../../gen/vxcloud/agent/v1/network.js';
import { RouterServiceService, type RouterServiceServer } from '../../gen/vxcloud/agent/v1/router.js';
import { RaftService, VolumeServiceService } from '../../gen/vxcloud/agent/v1/volume.js';
import type { AgentConfig } from '../config/config.js';
import type { VolumeServices } from './volume-service.js';

export interface AgentServices {
  host: HostServiceServer;
  network: NetworkServiceServer;
  router: RouterServiceServer;
  /** Storage hosts only. */
  volumes?: VolumeServices;
}

export async function serverCredentials(tls: AgentConfig['tls']): Promise<ServerCredentials> {
  const [ca, cert, key] = await Promise.all([readFile(tls.ca), readFile(tls.cert), readFile(tls.key)]);
  return ServerCredentials.createSsl(ca, [{ cert_chain: cert, private_key: key }], true);
}

export async function startServer(cfg: AgentConfig, services: AgentServices): Promise<Server> {
  const server = new Server();
  server.addService(HostServiceService, services.host);
  server.addService(NetworkServiceService, services.network);
  server.addService(RouterServiceService, services.router);
  if (services.volumes) {
    server.addService(VolumeServiceService, services.volumes.volume);
    server.addService(RaftService, services.volumes.raft);
  }
  new HealthImplementation({ '': 'SERVING', 'vxcloud.agent.v1.NetworkService': 'SERVING' }).addToServer(server);
  const creds = await serverCredentials(cfg.tls);
  for (const address of cfg.listen) {
    if (address.startsWith('unix://')) {
      const path = address.slice('unix://'.length);
      await mkdir(dirname(path), { recursive: true, mode: 0o755 });
      await rm(path, { force: true }); // a socket left by a killed agent would make bind fail
    }
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(address, creds, (err) => (err ? reject(new Error(`listen ${address}: ${err.message}`)) : resolve())),
    );
  }
  return server;
}
