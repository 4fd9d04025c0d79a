// The agent's gRPC server: mutual TLS only (a client must present a certificate signed by the
// deployment's CA, and every call is authorized by the identity in it: see caller.ts), the
// standard health service, and one bind per configured address.

import { freeSocketPath, parseListen } from '../../lib/listen.js';
import { Server, ServerCredentials, status as Status } from '@grpc/grpc-js';
import { describeIdentity, type Identity } from '../../lib/identity.js';
import { callerOf, type CallWithPeer } from './caller.js';
import { HealthImplementation } from 'grpc-health-check';
import { readFile } from 'node:fs/promises';
import { HostServiceService, type HostServiceServer } from '../../gen/vxcloud/agent/v1/host.js';
import { NetworkServiceService, type NetworkServiceServer } from '../../gen/vxcloud/agent/v1/network.js';
import { RouterServiceService, type RouterServiceServer } from '../../gen/vxcloud/agent/v1/router.js';
import { SecurityGroupServiceService, type SecurityGroupServiceServer } from '../../gen/vxcloud/agent/v1/security_group.js';
import { RaftService, VolumeServiceService } from '../../gen/vxcloud/agent/v1/volume.js';
import type { AgentConfig } from '../config/config.js';
import type { VolumeServices } from './volume-service.js';

export interface AgentServices {
  host: HostServiceServer;
  network: NetworkServiceServer;
  router: RouterServiceServer;
  securityGroups: SecurityGroupServiceServer;
  /** Storage hosts only. */
  volumes?: VolumeServices;
}

/**
 * The raft and replica service is for hosts' agents only: a tenant's or operator's certificate is
 * refused before any handler runs, on unary and streaming calls alike. Raft traffic and proposals
 * are further admitted only from the hosts of the volume's placement (volume-service.ts).
 */
function hostsOnly<S extends object>(impl: S): S {
  const out: Record<string, unknown> = {};
  for (const [name, handler] of Object.entries(impl) as [
    string,
    (call: CallWithPeer & { emit(e: string, v: unknown): void }, cb?: (e: unknown) => void) => void,
  ][]) {
    out[name] = (call: CallWithPeer & { emit(e: string, v: unknown): void }, callback?: (e: unknown) => void) => {
      let who: Identity | undefined;
      try {
        who = callerOf(call);
      } catch {
        who = undefined;
      }
      if (who?.kind === 'host') return handler(call, callback);
      const err = { code: Status.PERMISSION_DENIED, details: `${describeIdentity(who)} may not call the raft service: it is for the agents of storage hosts` };
      if (typeof callback === 'function') callback(err);
      else call.emit('error', err);
    };
  }
  return out as S;
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
  server.addService(SecurityGroupServiceService, services.securityGroups);
  if (services.volumes) {
    server.addService(VolumeServiceService, services.volumes.volume);
    server.addService(RaftService, hostsOnly(services.volumes.raft));
  }
  new HealthImplementation({ '': 'SERVING', 'vxcloud.agent.v1.NetworkService': 'SERVING' }).addToServer(server);
  const creds = await serverCredentials(cfg.tls);
  for (const address of cfg.listen) {
    await freeSocketPath(parseListen(address));
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(address, creds, (err) => (err ? reject(new Error(`listen ${address}: ${err.message}`)) : resolve())),
    );
  }
  return server;
}
