// The agent API only answers clients holding a certificate signed by the deployment's CA; the
// standard health service is served to those that do.

import { ChannelCredentials, credentials, loadPackageDefinition, type ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { protoPath } from 'grpc-health-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createCa, issue } from '../../../lib/certs.js';
import { AgentClient, readTls } from '../../../lib/agent-client.js';
import { startLab, type TestLab } from '../../harness/lab.js';

let t: TestLab;

beforeAll(async () => {
  t = await startLab({ hosts: 1 });
});
afterAll(async () => {
  await t?.down();
});

const endpoint = (): string => t.lab.hosts[0]!.endpoint;

/** The standard health service's client, loaded from its .proto (grpc-health-check ships no typed client). */
interface HealthClient {
  check(req: { service: string }, options: { deadline: number }, callback: (e: ServiceError | null, r: { status: string }) => void): void;
  close(): void;
}
type HealthPackage = { grpc: { health: { v1: { Health: new (address: string, creds: ChannelCredentials) => HealthClient } } } };

function healthClient(creds: ChannelCredentials): HealthClient {
  const pkg = loadPackageDefinition(loadSync(protoPath, { enums: String })) as unknown as HealthPackage;
  return new pkg.grpc.health.v1.Health(endpoint(), creds);
}

it('serves a client with a CA-signed certificate', async () => {
  expect((await t.client('h1').host.getHost({})).name).toBe('h1');
});

it('refuses a client whose certificate another CA signed', async () => {
  const rogueCa = await createCa('rogue');
  const rogue = await issue(rogueCa, { commonName: 'mallory', role: 'client' });
  const { ca } = await readTls(t.lab.tls);
  const client = new AgentClient(endpoint(), { ca, cert: Buffer.from(rogue.cert), key: Buffer.from(rogue.key) });
  try {
    const err = (await client.host.getHost({}, 5000).catch((e: unknown) => e)) as ServiceError;
    expect(err).toBeInstanceOf(Error);
    expect(err.code).toBe(14); // UNAVAILABLE: the TLS handshake failed
  } finally {
    client.close();
  }
});

it('refuses a client that presents no certificate', async () => {
  const { ca } = await readTls(t.lab.tls);
  const anonymous = healthClient(ChannelCredentials.createSsl(ca));
  try {
    const err = await new Promise<ServiceError | null>((resolve) =>
      anonymous.check({ service: '' }, { deadline: Date.now() + 5000 }, (e: ServiceError | null) => resolve(e)),
    );
    expect(err?.code).toBe(14);
  } finally {
    anonymous.close();
  }
});

it('serves the gRPC health service', async () => {
  const tls = await readTls(t.lab.tls);
  const health = healthClient(credentials.createSsl(tls.ca, tls.key, tls.cert));
  try {
    const res = await new Promise<{ status: string }>((resolve, reject) =>
      health.check({ service: 'vxcloud.agent.v1.NetworkService' }, { deadline: Date.now() + 5000 }, (e: ServiceError | null, r: { status: string }) =>
        e ? reject(e) : resolve(r),
      ),
    );
    expect(res.status).toBe('SERVING');
  } finally {
    health.close();
  }
});
