// The agents' volume client against a peer that is not up yet: by default a call fails at once;
// asked to wait for the connection, it succeeds when the peer comes up before the deadline (a
// CreateVolume right after a host restarted depends on this).

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Server, ServerCredentials, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { VolumeServiceService } from '../../../gen/vxcloud/agent/v1/volume.js';
import { VolumeClient, type Tls } from '../../../agent/sbs/volume/client.js';
import { createCa, issue } from '../../../lib/certs.js';

let dir: string;
let serverTls: Tls;
let clientTls: Tls;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vx-client-'));
  const ca = await createCa('test CA');
  const host = await issue(ca, { commonName: 'h9', dnsNames: ['h9'], role: 'host', identity: { kind: 'host', host: 'h9' } });
  const client = await issue(ca, { commonName: 'h1', dnsNames: ['h1'], role: 'host', identity: { kind: 'host', host: 'h1' } });
  serverTls = { ca: Buffer.from(ca.cert), cert: Buffer.from(host.cert), key: Buffer.from(host.key) };
  clientTls = { ca: Buffer.from(ca.cert), cert: Buffer.from(client.cert), key: Buffer.from(client.key) };
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function serve(address: string): Promise<Server> {
  const server = new Server();
  const notFound = (_: unknown, cb: (e: { code: number; details: string }) => void): void => cb({ code: status.NOT_FOUND, details: 'no such volume' });
  server.addService(VolumeServiceService, { getVolume: notFound });
  const creds = ServerCredentials.createSsl(serverTls.ca, [{ private_key: serverTls.key, cert_chain: serverTls.cert }], true);
  return new Promise((resolve, reject) => server.bindAsync(address, creds, (e) => (e ? reject(e) : resolve(server))));
}

it('fails at once while the peer is down, and waits for it when asked to', async () => {
  const address = `unix://${join(dir, 'peer.sock')}`;
  const c = new VolumeClient(address, clientTls, 'h9');
  try {
    await expect(c.volumes.getVolume({ id: 'v' }, 5000)).rejects.toMatchObject({ code: status.UNAVAILABLE });
    const call = c.volumes.getVolume({ id: 'v' }, 10_000, true);
    const up = new Promise<Server>((resolve) => setTimeout(() => resolve(serve(address)), 1500));
    // The peer answers (NOT_FOUND), so the call reached it rather than giving up on the channel.
    await expect(call).rejects.toMatchObject({ code: status.NOT_FOUND });
    (await up).forceShutdown();
  } finally {
    c.close();
  }
});
