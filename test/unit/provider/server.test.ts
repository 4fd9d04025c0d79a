// The server and handshake in-process, through a real gRPC client on the unix socket: plaintext
// and AutoMTLS, diagnostics with paths, CRUD dispatch, StopProvider cancelling work in flight,
// and Shutdown ending the process.

import { X509Certificate } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { createServerCertificate } from '../../../provider/plugin/certs.js';
import { decodeValue, encodeValue } from '../../../provider/plugin/codec.js';
import { isUnknown, record, t, unknown } from '../../../provider/plugin/cty.js';
import type { Value, ValueRecord } from '../../../provider/plugin/cty.js';
import { attributeError, DiagnosticsError } from '../../../provider/plugin/diagnostics.js';
import { defineProvider, defineResource } from '../../../provider/plugin/framework.js';
import { checkEnvironment, MAGIC_COOKIE_VALUE, serve } from '../../../provider/plugin/handshake.js';
import type { Served } from '../../../provider/plugin/handshake.js';
import { createLogger } from '../../../provider/plugin/log.js';
import { blockType } from '../../../provider/plugin/schema.js';
import { createProviderServer } from '../../../provider/plugin/server.js';
import { ProviderClient } from '../../../gen/tfplugin6/tfplugin6.js';
import type {
  ApplyResourceChange_Response,
  ConfigureProvider_Response,
  DynamicValue,
  GetProviderSchema_Response,
  ImportResourceState_Response,
  PlanResourceChange_Response,
  StopProvider_Response,
  UpgradeResourceState_Response,
  ValidateResourceConfig_Response,
} from '../../../gen/tfplugin6/tfplugin6.js';
import { GRPCControllerClient } from '../../../gen/plugin/grpc_controller.js';

const widgetSchema = {
  attributes: {
    id: { type: t.string, computed: true },
    name: { type: t.string, required: true },
    port: { type: t.number, optional: true, validators: [] },
    hang: { type: t.bool, optional: true },
  },
} as const;

const started: string[] = [];
const widget = defineResource<typeof widgetSchema, { prefix: string }>({
  typeName: 'vxunit_widget',
  schema: widgetSchema,
  validate: (c) => (c.port === 0 ? [{ severity: 'error', summary: 'Port 0', path: ['port'] }] : []),
  async create({ planned }, { provider, signal }) {
    if (planned.name === 'partial') {
      throw new DiagnosticsError(
        [attributeError(['name'], 'Half made', 'one host failed')],
        record(Object.entries({ id: 'p-half', name: 'partial', port: null, hang: null })),
      );
    }
    if (planned.hang === true) {
      started.push('hang');
      // Work that only ends when terraform stops the provider.
      await new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error)));
    }
    return { id: `${provider.prefix}-1`, name: planned.name as string, port: null, hang: null };
  },
  read: async (s) => s,
  update: async ({ prior }) => prior,
  delete: async () => {},
});

const provider = defineProvider<{ attributes: { prefix: { type: 'string'; required: true } } }, { prefix: string }>({
  name: 'vxunit',
  version: '0.0.1',
  schema: { attributes: { prefix: { type: t.string, required: true } } },
  configure: (c) => ({ prefix: c.prefix as string }),
  resources: [widget],
});

const schemaType = blockType(widget.schema);
const dv = (v: ValueRecord | null): DynamicValue => ({ msgpack: Buffer.from(encodeValue(v, schemaType)), json: Buffer.alloc(0) });
const val = (d: DynamicValue | undefined): Value => decodeValue(d!.msgpack, schemaType);
const widgetConfig = (o: Record<string, Value>): ValueRecord => record(Object.entries({ id: null, name: 'w', port: null, hang: null, ...o }));

type Callback<Res> = (err: grpc.ServiceError | null, res: Res) => void;
/** Promise form of a generated unary method (their overloads defeat inference, hence Res). */
/** `fn` is a client method bound to its client. */
const call = <Res>(fn: (req: never, cb: Callback<Res>) => grpc.ClientUnaryCall, req: object): Promise<Res> =>
  new Promise((resolve, reject) => (fn as unknown as (req: object, cb: Callback<Res>) => void)(req, (err, res) => (err ? reject(err) : resolve(res))));

interface Running {
  served: Served;
  client: ProviderClient;
  controller: GRPCControllerClient;
  exits: number[];
  line: string;
}

const running: Running[] = [];
afterEach(() => {
  for (const r of running.splice(0)) {
    r.client.close();
    r.controller.close();
    r.served.close();
  }
});

async function start(env: NodeJS.ProcessEnv, creds = grpc.credentials.createInsecure()): Promise<Running> {
  const log = createLogger('test', { TF_LOG: 'OFF' });
  const exits: number[] = [];
  let line = '';
  const served = await serve({
    services: [createProviderServer(provider, log)],
    log,
    env,
    announce: (l) => (line = l),
    exit: (code) => exits.push(code),
  });
  const address = `unix://${served.socketPath}`;
  const options = { 'grpc.ssl_target_name_override': 'localhost' };
  const r: Running = {
    served,
    client: new ProviderClient(address, creds, options),
    controller: new GRPCControllerClient(address, creds, options),
    exits,
    line,
  };
  running.push(r);
  return r;
}

const baseEnv = { TF_PLUGIN_MAGIC_COOKIE: MAGIC_COOKIE_VALUE, PLUGIN_PROTOCOL_VERSIONS: '5,6' };

describe('handshake', () => {
  it('refuses to run outside terraform or without protocol 6', () => {
    expect(() => checkEnvironment({})).toThrow(/This binary is a plugin/);
    expect(() => checkEnvironment({ ...baseEnv, PLUGIN_PROTOCOL_VERSIONS: '4,5' })).toThrow(/protocol 6/);
    expect(() => checkEnvironment(baseEnv)).not.toThrow();
  });

  it('announces 1|6|unix|PATH|grpc| and serves plaintext without a client certificate', async () => {
    const r = await start(baseEnv);
    expect(r.line).toBe(`1|6|unix|${r.served.socketPath}|grpc|`);
    const schema = await call<GetProviderSchema_Response>(r.client.getProviderSchema.bind(r.client), {});
    expect(Object.keys(schema.resourceSchemas)).toEqual(['vxunit_widget']);
  });

  it('with PLUGIN_CLIENT_CERT serves mutual TLS, announcing its certificate, and rejects other clients', async () => {
    const clientCert = await createServerCertificate();
    const env = { ...baseEnv, PLUGIN_CLIENT_CERT: clientCert.certPem };
    const probe = await start(env);
    const field = probe.line.split('|')[5]!;
    expect(field).toMatch(/^[A-Za-z0-9+/]{100,}$/);
    // Node writes the PEM: a hand-made one gets a blank line before END when the DER is a multiple
    // of 48 bytes, which OpenSSL refuses (this test failed 1 run in ~250 that way).
    const serverPem = new X509Certificate(Buffer.from(field, 'base64')).toString();

    const good = new ProviderClient(
      `unix://${probe.served.socketPath}`,
      grpc.credentials.createSsl(Buffer.from(serverPem), Buffer.from(clientCert.keyPem), Buffer.from(clientCert.certPem)),
      {
        'grpc.ssl_target_name_override': 'localhost',
      },
    );
    const schema = await call<GetProviderSchema_Response>(good.getProviderSchema.bind(good), {});
    expect(schema.provider).toBeDefined();
    good.close();

    const stranger = await createServerCertificate();
    const bad = new ProviderClient(
      `unix://${probe.served.socketPath}`,
      grpc.credentials.createSsl(Buffer.from(serverPem), Buffer.from(stranger.keyPem), Buffer.from(stranger.certPem)),
      {
        'grpc.ssl_target_name_override': 'localhost',
      },
    );
    bad.waitForReady(Date.now() + 3000, () => {});
    await expect(call<GetProviderSchema_Response>(bad.getProviderSchema.bind(bad), {})).rejects.toThrow();
    bad.close();
  });

  it('exits when the controller asks for shutdown', async () => {
    const r = await start(baseEnv);
    await call<object>(r.controller.shutdown.bind(r.controller), {});
    // Graceful at first, forced after a second at most.
    for (let i = 0; i < 150 && r.exits.length === 0; i++) await new Promise((res) => setTimeout(res, 20));
    expect(r.exits).toEqual([0]);
  });
});

describe('server', () => {
  it('returns validation problems as diagnostics with the attribute path', async () => {
    const r = await start(baseEnv);
    const res = await call<ValidateResourceConfig_Response>(r.client.validateResourceConfig.bind(r.client), {
      typeName: 'vxunit_widget',
      config: dv(widgetConfig({ port: 0 })),
    });
    expect(res.diagnostics).toHaveLength(1);
    expect(res.diagnostics[0]!.attribute!.steps).toEqual([{ attributeName: 'port' }]);
    const unknownType = await call<ValidateResourceConfig_Response>(r.client.validateResourceConfig.bind(r.client), {
      typeName: 'vxunit_nope',
      config: dv(widgetConfig({})),
    });
    expect(unknownType.diagnostics[0]!.detail).toMatch(/no resource type "vxunit_nope"/);
  });

  it('plans a create with unknown computed values, then applies it with the configured provider', async () => {
    const r = await start(baseEnv);
    const configured = await call<ConfigureProvider_Response>(r.client.configureProvider.bind(r.client), {
      terraformVersion: '1.5.7',
      config: { msgpack: Buffer.from(encodeValue(record([['prefix', 'p']]), t.object({ prefix: t.string }))), json: Buffer.alloc(0) },
    });
    expect(configured.diagnostics).toEqual([]);
    const cfg = widgetConfig({});
    const plan = await call<PlanResourceChange_Response>(r.client.planResourceChange.bind(r.client), {
      typeName: 'vxunit_widget',
      priorState: dv(null),
      proposedNewState: dv(cfg),
      config: dv(cfg),
      priorPrivate: Buffer.alloc(0),
      providerMeta: undefined,
    });
    const planned = val(plan.plannedState) as ValueRecord;
    expect(isUnknown(planned.id)).toBe(true);
    const applied = await call<ApplyResourceChange_Response>(r.client.applyResourceChange.bind(r.client), {
      typeName: 'vxunit_widget',
      priorState: dv(null),
      plannedState: plan.plannedState,
      config: dv(cfg),
      plannedPrivate: Buffer.alloc(0),
      providerMeta: undefined,
    });
    expect(applied.diagnostics).toEqual([]);
    expect((val(applied.newState) as ValueRecord).id).toBe('p-1');
  });

  it('a handler failing with DiagnosticsError returns its diagnostics and the partial state', async () => {
    const r = await start(baseEnv);
    await call<ConfigureProvider_Response>(r.client.configureProvider.bind(r.client), {
      terraformVersion: '1.5.7',
      config: { msgpack: Buffer.from(encodeValue(record([['prefix', 'p']]), t.object({ prefix: t.string }))), json: Buffer.alloc(0) },
    });
    const cfg = widgetConfig({ name: 'partial' });
    const res = await call<ApplyResourceChange_Response>(r.client.applyResourceChange.bind(r.client), {
      typeName: 'vxunit_widget',
      priorState: dv(null),
      plannedState: dv(widgetConfig({ name: 'partial', id: unknown })),
      config: dv(cfg),
      plannedPrivate: Buffer.alloc(0),
      providerMeta: undefined,
    });
    expect(res.diagnostics[0]).toMatchObject({ summary: 'Half made', detail: 'one host failed', attribute: { steps: [{ attributeName: 'name' }] } });
    expect(val(res.newState)).toMatchObject({ id: 'p-half' });
  });

  it('upgrades JSON state and imports by id', async () => {
    const r = await start(baseEnv);
    const up = await call<UpgradeResourceState_Response>(r.client.upgradeResourceState.bind(r.client), {
      typeName: 'vxunit_widget',
      version: 0,
      rawState: { json: Buffer.from('{"id":"a","name":"w","port":8080,"removed":1}') },
    });
    expect(val(up.upgradedState)).toMatchObject({ id: 'a', port: 8080, hang: null });
    const imp = await call<ImportResourceState_Response>(r.client.importResourceState.bind(r.client), { typeName: 'vxunit_widget', id: 'abc' });
    expect(val(imp.importedResources[0]!.state)).toMatchObject({ id: 'abc', name: null });
  });

  it('StopProvider aborts work in flight, which ends as a diagnostic', async () => {
    const r = await start(baseEnv);
    await call<ConfigureProvider_Response>(r.client.configureProvider.bind(r.client), {
      terraformVersion: '1.5.7',
      config: { msgpack: Buffer.from(encodeValue(record([['prefix', 'p']]), t.object({ prefix: t.string }))), json: Buffer.alloc(0) },
    });
    const cfg = widgetConfig({ hang: true });
    const planned = widgetConfig({ hang: true, id: unknown });
    const apply = call<ApplyResourceChange_Response>(r.client.applyResourceChange.bind(r.client), {
      typeName: 'vxunit_widget',
      priorState: dv(null),
      plannedState: dv(planned),
      config: dv(cfg),
      plannedPrivate: Buffer.alloc(0),
      providerMeta: undefined,
    });
    for (let i = 0; i < 100 && !started.includes('hang'); i++) await new Promise((res) => setTimeout(res, 20));
    expect(started).toContain('hang');
    await call<StopProvider_Response>(r.client.stopProvider.bind(r.client), {});
    const res = await apply;
    expect(res.diagnostics[0]!.summary).toBe('Cannot create vxunit_widget');
    expect(res.diagnostics[0]!.detail).toMatch(/terraform stopped the provider/);
    expect(val(res.newState)).toBeNull();
  });
});
