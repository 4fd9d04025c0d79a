// Every tfplugin6 RPC, served generically over a provider definition. Problems are returned as
// diagnostics (terraform shows them with context); a gRPC error is left for failures the
// protocol cannot express.

import type { sendUnaryData, ServerUnaryCall, UntypedServiceImplementation } from '@grpc/grpc-js';
import { status } from '@grpc/grpc-js';
import { containsUnknown, isRecord, record } from './cty.js';
import type { Value, ValueRecord } from './cty.js';
import { CodecError, decodeJsonValue, decodeValue, encodeValue } from './codec.js';
import { diagnosticsOf, DiagnosticsError, diagnosticToProto, error, fromError, hasErrors, pathToProto, pathToString } from './diagnostics.js';
import type { Diagnostic, Path } from './diagnostics.js';
import { validateBlock } from './framework.js';
import type { Context, DataSource, Provider, Resource } from './framework.js';
import type { Logger } from './log.js';
import { defaultPlan } from './plan.js';
import { blockType, schemaToProto } from './schema.js';
import type { Schema } from './schema.js';
import { ProviderService } from '../../gen/tfplugin6/tfplugin6.js';
import type {
  ApplyResourceChange_Request,
  ApplyResourceChange_Response,
  ConfigureProvider_Request,
  ConfigureProvider_Response,
  DynamicValue,
  GetProviderSchema_Response,
  ImportResourceState_Request,
  ImportResourceState_Response,
  PlanResourceChange_Request,
  PlanResourceChange_Response,
  ReadDataSource_Request,
  ReadDataSource_Response,
  ReadResource_Request,
  ReadResource_Response,
  StopProvider_Response,
  UpgradeResourceState_Request,
  UpgradeResourceState_Response,
  ValidateDataResourceConfig_Request,
  ValidateProviderConfig_Request,
  ValidateResourceConfig_Request,
} from '../../gen/tfplugin6/tfplugin6.js';

type Diags = { diagnostics: ReturnType<typeof diagnosticToProto>[] };

const EMPTY = Buffer.alloc(0);
const toProto = (diags: readonly Diagnostic[]): Diags['diagnostics'] => diags.map(diagnosticToProto);

function decodeDynamic(dv: DynamicValue | undefined, schema: Schema): ValueRecord | null {
  if (!dv || dv.msgpack.length === 0) {
    // Only JSON, or nothing at all (an absent value is null).
    if (dv && dv.json.length > 0) return asObject(decodeJsonValue(dv.json, blockType(schema)));
    return null;
  }
  return asObject(decodeValue(dv.msgpack, blockType(schema)));
}

function asObject(v: Value): ValueRecord | null {
  if (v === null || isRecord(v)) return v;
  throw new CodecError('', 'expected an object for a whole resource');
}

const encodeDynamic = (v: ValueRecord | null, schema: Schema): DynamicValue => ({
  msgpack: Buffer.from(encodeValue(v, blockType(schema))),
  json: EMPTY,
});

export interface ProviderServer {
  readonly service: typeof ProviderService;
  readonly implementation: UntypedServiceImplementation;
  /** The provider's shutdown hook, on what configure returned (nothing when it was never configured). A property: it is passed on unbound. */
  readonly shutdown: () => Promise<void>;
}

export function createProviderServer<M>(provider: Provider<M>, log: Logger): ProviderServer {
  let configured: { value: M } | undefined;
  const inFlight = new Set<AbortController>();
  const validateCtx = { log };

  /** Runs a handler with a signal that StopProvider aborts. */
  async function withContext<T>(fn: (ctx: Context<M>) => Promise<T>): Promise<T> {
    const ac = new AbortController();
    inFlight.add(ac);
    try {
      if (!configured) throw new Error('the provider was not configured (no ConfigureProvider call)');
      return await fn({ signal: ac.signal, provider: configured.value, log });
    } finally {
      inFlight.delete(ac);
    }
  }

  function lookup<T>(map: ReadonlyMap<string, T>, typeName: string, what: string): T {
    const found = map.get(typeName);
    if (!found) throw new UnknownType(`${provider.name} has no ${what} type "${typeName}"`);
    return found;
  }
  const resource = (name: string): Resource<M> => lookup(provider.resources, name, 'resource');
  const dataSource = (name: string): DataSource<M> => lookup(provider.dataSources, name, 'data source');

  function validateConfig(
    schema: Schema,
    dv: DynamicValue | undefined,
    hook: ((c: ValueRecord, ctx: typeof validateCtx) => readonly Diagnostic[]) | undefined,
  ): Diagnostic[] {
    const config = decodeDynamic(dv, schema) ?? record();
    const diags = validateBlock(schema, config);
    if (hook) diags.push(...hook(config, validateCtx));
    return diags;
  }

  const schemaResponse: GetProviderSchema_Response = {
    provider: schemaToProto(provider.schema),
    resourceSchemas: Object.fromEntries([...provider.resources].map(([n, r]) => [n, schemaToProto(r.schema)])),
    dataSourceSchemas: Object.fromEntries([...provider.dataSources].map(([n, d]) => [n, schemaToProto(d.schema)])),
    diagnostics: [],
    providerMeta: undefined,
    serverCapabilities: { planDestroy: false },
  };

  const handlers = {
    getProviderSchema: async (): Promise<GetProviderSchema_Response> => schemaResponse,

    validateProviderConfig: async (req: ValidateProviderConfig_Request): Promise<Diags> => ({
      diagnostics: toProto(validateConfig(provider.schema, req.config, provider.validate?.bind(provider))),
    }),

    validateResourceConfig: async (req: ValidateResourceConfig_Request): Promise<Diags> => {
      const r = resource(req.typeName);
      return { diagnostics: toProto(validateConfig(r.schema, req.config, r.validate?.bind(r))) };
    },

    validateDataResourceConfig: async (req: ValidateDataResourceConfig_Request): Promise<Diags> => {
      const d = dataSource(req.typeName);
      return { diagnostics: toProto(validateConfig(d.schema, req.config, d.validate?.bind(d))) };
    },

    upgradeResourceState: async (req: UpgradeResourceState_Request): Promise<UpgradeResourceState_Response> => {
      const r = resource(req.typeName);
      const json = req.rawState?.json ?? EMPTY;
      if (json.length === 0) {
        return {
          upgradedState: undefined,
          diagnostics: toProto([error('Unsupported state format', 'Stored state has no JSON form (legacy flatmap state is not supported).')]),
        };
      }
      const current = r.schema.version ?? 0;
      let state: ValueRecord | null;
      if (req.version === current) {
        // Attributes dropped from the schema without a version bump are ignored, not fatal.
        state = asObject(decodeJsonValue(json, blockType(r.schema), { ignoreUndefinedAttributes: true }));
      } else if (req.version < current && r.upgradeState) {
        state = r.upgradeState(req.version, JSON.parse(json.toString('utf8')));
      } else {
        return {
          upgradedState: undefined,
          diagnostics: toProto([
            error('Cannot upgrade state', `${req.typeName} state is at schema version ${req.version}; this provider reads version ${current}.`),
          ]),
        };
      }
      return { upgradedState: encodeDynamic(state, r.schema), diagnostics: [] };
    },

    configureProvider: async (req: ConfigureProvider_Request): Promise<ConfigureProvider_Response> => {
      const config = decodeDynamic(req.config, provider.schema) ?? record();
      const ac = new AbortController();
      inFlight.add(ac);
      try {
        const value = await provider.configure(config, { terraformVersion: req.terraformVersion, signal: ac.signal, log });
        configured = { value };
        return { diagnostics: [] };
      } catch (err) {
        return { diagnostics: toProto(diagnosticsOf('Cannot configure the provider', err)) };
      } finally {
        inFlight.delete(ac);
      }
    },

    readResource: async (req: ReadResource_Request): Promise<ReadResource_Response> => {
      const r = resource(req.typeName);
      const current = decodeDynamic(req.currentState, r.schema);
      if (current === null) return { newState: req.currentState, diagnostics: [], private: req.private };
      try {
        const next = await withContext((ctx) => r.read(current, ctx));
        return { newState: encodeDynamic(next, r.schema), diagnostics: toProto(unknownsIn(next)), private: req.private };
      } catch (err) {
        // Keep the stored state: a failed read must not look like a deleted object.
        return { newState: req.currentState, diagnostics: toProto(diagnosticsOf(`Cannot read ${req.typeName}`, err)), private: req.private };
      }
    },

    planResourceChange: async (req: PlanResourceChange_Request): Promise<PlanResourceChange_Response> => {
      const r = resource(req.typeName);
      const prior = decodeDynamic(req.priorState, r.schema);
      const proposed = decodeDynamic(req.proposedNewState, r.schema);
      const config = decodeDynamic(req.config, r.schema);
      const outcome = defaultPlan(r.schema, prior, proposed, config);
      let planned = outcome.planned;
      let requiresReplace: readonly Path[] = outcome.requiresReplace;
      const diags: Diagnostic[] = [];
      if (r.plan && planned !== null && proposed !== null) {
        const base = planned;
        try {
          const res = await withContext((ctx) =>
            Promise.resolve(r.plan!({ prior, proposed, config: config ?? record(), planned: base, requiresReplace }, ctx)),
          );
          planned = res.planned ?? planned;
          requiresReplace = res.requiresReplace ?? requiresReplace;
          diags.push(...(res.diagnostics ?? []));
        } catch (err) {
          diags.push(...diagnosticsOf(`Cannot plan ${req.typeName}`, err));
        }
      }
      return {
        plannedState: encodeDynamic(planned, r.schema),
        requiresReplace: requiresReplace.map(pathToProto),
        plannedPrivate: req.priorPrivate,
        diagnostics: toProto(diags),
      };
    },

    applyResourceChange: async (req: ApplyResourceChange_Request): Promise<ApplyResourceChange_Response> => {
      const r = resource(req.typeName);
      const prior = decodeDynamic(req.priorState, r.schema);
      const planned = decodeDynamic(req.plannedState, r.schema);
      const config = decodeDynamic(req.config, r.schema) ?? record();
      const reply = (state: ValueRecord | null, diags: Diagnostic[]): ApplyResourceChange_Response => ({
        newState: encodeDynamic(state, r.schema),
        private: req.plannedPrivate,
        diagnostics: toProto(diags),
      });
      try {
        if (planned === null) {
          if (prior !== null) await withContext((ctx) => r.delete(prior, ctx));
          return reply(null, []);
        }
        const next = await withContext((ctx) => (prior === null ? r.create({ planned, config }, ctx) : r.update({ prior, planned, config }, ctx)));
        const diags = unknownsIn(next);
        // An unknown cannot be stored: keep what was there before.
        return hasErrors(diags) ? reply(prior, diags) : reply(next, diags);
      } catch (err) {
        const verb = planned === null ? 'delete' : prior === null ? 'create' : 'update';
        // Unless the handler says what exists, a failed create made nothing (null) and a failed
        // update or delete left the prior object as it was.
        const partial = planned !== null && err instanceof DiagnosticsError ? err.state : undefined;
        return reply(partial ?? prior, diagnosticsOf(`Cannot ${verb} ${req.typeName}`, err));
      }
    },

    importResourceState: async (req: ImportResourceState_Request): Promise<ImportResourceState_Response> => {
      const r = resource(req.typeName);
      let partial: ValueRecord;
      if (r.importState) {
        try {
          partial = await withContext((ctx) => Promise.resolve(r.importState!(req.id, ctx)));
        } catch (err) {
          return { importedResources: [], diagnostics: toProto(diagnosticsOf(`Cannot import ${req.typeName}`, err)) };
        }
      } else if ('id' in r.schema.attributes) {
        partial = record([['id', req.id]]);
      } else {
        return { importedResources: [], diagnostics: toProto([error('Resource import not supported', `${req.typeName} cannot be imported.`)]) };
      }
      const state = record(Object.keys(blockTypeAttributes(r.schema)).map((k) => [k, partial[k] ?? null] as const));
      return { importedResources: [{ typeName: req.typeName, state: encodeDynamic(state, r.schema), private: EMPTY }], diagnostics: [] };
    },

    readDataSource: async (req: ReadDataSource_Request): Promise<ReadDataSource_Response> => {
      const d = dataSource(req.typeName);
      const config = decodeDynamic(req.config, d.schema) ?? record();
      try {
        const state = await withContext((ctx) => d.read(config, ctx));
        return { state: encodeDynamic(state, d.schema), diagnostics: toProto(unknownsIn(state)) };
      } catch (err) {
        return { state: undefined, diagnostics: toProto(diagnosticsOf(`Cannot read data source ${req.typeName}`, err)) };
      }
    },

    stopProvider: async (): Promise<StopProvider_Response> => {
      log.info({ inFlight: inFlight.size }, 'stop requested');
      for (const ac of inFlight) ac.abort(new Error('terraform stopped the provider'));
      return { Error: '' };
    },
  };

  const implementation: UntypedServiceImplementation = {};
  for (const [name, fn] of Object.entries(handlers) as [string, (req: unknown) => Promise<object>][]) {
    implementation[name] = (call: ServerUnaryCall<unknown, object>, callback: sendUnaryData<object>) => {
      const started = Date.now();
      const typeName = (call.request as { typeName?: string }).typeName;
      fn(call.request).then(
        (res) => {
          log.debug({ rpc: name, typeName, ms: Date.now() - started }, 'rpc');
          callback(null, res);
        },
        (err: unknown) => {
          // Undecodable values and unknown type names: still a diagnostic where the reply has room.
          log.error({ rpc: name, typeName, err }, 'rpc failed');
          const diag = err instanceof CodecError ? fromError(`Invalid value${err.path ? ` at ${err.path}` : ''}`, err) : fromError('Provider error', err);
          if (err instanceof CodecError || err instanceof UnknownType) callback(null, { diagnostics: toProto([diag]) });
          else callback({ code: status.INTERNAL, details: err instanceof Error ? err.message : String(err) });
        },
      );
    };
  }
  return {
    service: ProviderService,
    implementation,
    shutdown: async () => {
      if (configured && provider.shutdown) await provider.shutdown(configured.value);
    },
  };
}

class UnknownType extends Error {}

const blockTypeAttributes = (schema: Schema): Record<string, unknown> => {
  const type = blockType(schema);
  return typeof type === 'object' && type.kind === 'object' ? type.attributes : {};
};

/** A provider bug terraform would report vaguely; name the attribute instead. */
function unknownsIn(state: ValueRecord | null): Diagnostic[] {
  if (state === null) return [];
  return Object.entries(state)
    .filter(([, v]) => containsUnknown(v))
    .map(([k]) =>
      error('Provider returned an unknown value', `${pathToString([k])} is still unknown after the operation; this is a bug in the provider.`, [k]),
    );
}
