// How a provider is written: one definition per resource or data source (schema, validation,
// plan, CRUD, import) and one for the provider (its config schema and a configure hook that
// builds what the handlers share, e.g. agent clients). The server speaks the protocol over these.

import { isRecord, isUnknown } from './cty.js';
import type { Unknowable, Value, ValueRecord } from './cty.js';
import type { Diagnostic, Path } from './diagnostics.js';
import type { Logger } from './log.js';
import { checkSchema } from './schema.js';
import type { BlockSchema, Schema, StateOf } from './schema.js';

/** Config and plans: the state shape, except that unknown may stand anywhere. */
export type Config<B extends BlockSchema> = { [K in keyof StateOf<B>]: Unknowable<StateOf<B>[K]> };
export type Planned<B extends BlockSchema> = Config<B>;

export interface Context<out M> {
  /** Aborted when terraform stops the provider (Ctrl-C): stop waiting and return. */
  readonly signal: AbortSignal;
  /** What the provider's configure hook returned. */
  readonly provider: M;
  readonly log: Logger;
}

export interface ValidateContext {
  readonly log: Logger;
}

export interface PlanRequest<B extends BlockSchema> {
  /** Null on create. */
  readonly prior: StateOf<B> | null;
  /** Terraform's proposal: config merged with prior values of unset computed attributes. */
  readonly proposed: Config<B>;
  readonly config: Config<B>;
  /** The framework's plan by the default rules; start from it. */
  readonly planned: Planned<B>;
  readonly requiresReplace: readonly Path[];
}

export interface PlanResult<B extends BlockSchema> {
  readonly planned?: Planned<B>;
  readonly requiresReplace?: readonly Path[];
  readonly diagnostics?: readonly Diagnostic[];
}

type Awaitable<T> = T | Promise<T>;

export interface ResourceDefinition<B extends Schema, M> {
  /** Full type name as written in configuration, e.g. `vxcloud_vpc`. */
  readonly typeName: string;
  readonly schema: B;
  /** Checks across attributes; attribute validators in the schema run first. Config may hold unknowns. */
  validate?(config: Config<B>, ctx: ValidateContext): readonly Diagnostic[];
  /** Adjusts the default plan, e.g. marks a computed value unknown when an input changes. */
  plan?(req: PlanRequest<B>, ctx: Context<M>): Awaitable<PlanResult<B>>;
  /**
   * Returns the new object, fully known and matching every known planned value. Throw
   * DiagnosticsError to fail with diagnostics and, when something was made, its state.
   */
  create(req: { planned: Planned<B>; config: Config<B> }, ctx: Context<M>): Promise<StateOf<B>>;
  /** Returns the object as it is now, or null when it no longer exists. */
  read(state: StateOf<B>, ctx: Context<M>): Promise<StateOf<B> | null>;
  update(req: { prior: StateOf<B>; planned: Planned<B>; config: Config<B> }, ctx: Context<M>): Promise<StateOf<B>>;
  /** Deleting an object that is already gone succeeds. */
  delete(state: StateOf<B>, ctx: Context<M>): Promise<void>;
  /**
   * The state to read for an imported id: enough for `read` to find the object; attributes left
   * out are null. Without it, resources with an `id` attribute import as `{ id }`.
   */
  importState?(id: string, ctx: Context<M>): Awaitable<Partial<StateOf<B>>>;
  /** Converts state stored under an older schema version (raw JSON) to the current schema. */
  upgradeState?(fromVersion: number, raw: unknown): StateOf<B>;
}

export interface DataSourceDefinition<B extends Schema, M> {
  readonly typeName: string;
  readonly schema: B;
  validate?(config: Config<B>, ctx: ValidateContext): readonly Diagnostic[];
  /** Config is known when terraform reads (it defers reads with unknown config to apply). */
  read(config: StateOf<B>, ctx: Context<M>): Promise<StateOf<B>>;
}

export interface ProviderDefinition<B extends Schema, M> {
  /** The provider's type name, e.g. `vxcloud`; resource type names start with it and `_`. */
  readonly name: string;
  readonly version: string;
  readonly schema: B;
  // Function-typed properties, not methods: defineProvider hands them on unbound.
  readonly validate?: (config: Config<B>, ctx: ValidateContext) => readonly Diagnostic[];
  /** Runs once per provider process before any read, plan or apply. Throw to fail with a diagnostic. */
  readonly configure: (config: Config<B>, ctx: { terraformVersion: string; signal: AbortSignal; log: Logger }) => Awaitable<M>;
  /** Runs when terraform shuts the provider down in order (not when it is killed); briefly: terraform kills it two seconds later. */
  readonly shutdown?: (meta: M) => Promise<void>;
  readonly resources: readonly Resource<M>[];
  readonly dataSources?: readonly DataSource<M>[];
}

/** The untyped form the server drives; definitions are typed, the wire is not. */
export interface Resource<in out M> {
  readonly kind: 'resource';
  readonly typeName: string;
  readonly schema: Schema;
  validate?(config: ValueRecord, ctx: ValidateContext): readonly Diagnostic[];
  plan?(req: UntypedPlanRequest, ctx: Context<M>): Awaitable<UntypedPlanResult>;
  create(req: { planned: ValueRecord; config: ValueRecord }, ctx: Context<M>): Promise<ValueRecord>;
  read(state: ValueRecord, ctx: Context<M>): Promise<ValueRecord | null>;
  update(req: { prior: ValueRecord; planned: ValueRecord; config: ValueRecord }, ctx: Context<M>): Promise<ValueRecord>;
  delete(state: ValueRecord, ctx: Context<M>): Promise<void>;
  importState?(id: string, ctx: Context<M>): Awaitable<ValueRecord>;
  upgradeState?(fromVersion: number, raw: unknown): ValueRecord;
}
export interface UntypedPlanRequest {
  prior: ValueRecord | null;
  proposed: ValueRecord;
  config: ValueRecord;
  planned: ValueRecord;
  requiresReplace: readonly Path[];
}
export interface UntypedPlanResult {
  planned?: ValueRecord;
  requiresReplace?: readonly Path[];
  diagnostics?: readonly Diagnostic[];
}

export interface DataSource<in out M> {
  readonly kind: 'data';
  readonly typeName: string;
  readonly schema: Schema;
  validate?(config: ValueRecord, ctx: ValidateContext): readonly Diagnostic[];
  read(config: ValueRecord, ctx: Context<M>): Promise<ValueRecord>;
}

export interface Provider<in out M> {
  readonly name: string;
  readonly version: string;
  readonly schema: Schema;
  validate?(config: ValueRecord, ctx: ValidateContext): readonly Diagnostic[];
  configure(config: ValueRecord, ctx: { terraformVersion: string; signal: AbortSignal; log: Logger }): Awaitable<M>;
  shutdown?(meta: M): Promise<void>;
  readonly resources: ReadonlyMap<string, Resource<M>>;
  readonly dataSources: ReadonlyMap<string, DataSource<M>>;
}

// The typed definitions and the untyped form differ only in static types: values are the same
// ValueRecords at run time. These casts are the one place the two meet.

export function defineResource<const B extends Schema, M = unknown>(def: ResourceDefinition<B, M>): Resource<M> {
  checkSchema(def.schema, def.typeName);
  return { kind: 'resource', ...(def as unknown as Omit<Resource<M>, 'kind'>) };
}

export function defineDataSource<const B extends Schema, M = unknown>(def: DataSourceDefinition<B, M>): DataSource<M> {
  checkSchema(def.schema, def.typeName);
  return { kind: 'data', ...(def as unknown as Omit<DataSource<M>, 'kind'>) };
}

export function defineProvider<const B extends Schema, M>(def: ProviderDefinition<B, M>): Provider<M> {
  checkSchema(def.schema, def.name);
  const index = <T extends { typeName: string }>(items: readonly T[]): Map<string, T> => {
    const map = new Map<string, T>();
    for (const item of items) {
      if (!item.typeName.startsWith(`${def.name}_`)) throw new Error(`${item.typeName}: type names start with "${def.name}_"`);
      if (map.has(item.typeName)) throw new Error(`${item.typeName}: defined twice`);
      map.set(item.typeName, item);
    }
    return map;
  };
  return {
    name: def.name,
    version: def.version,
    schema: def.schema,
    // The assertions keep tsc from instantiating the schema's value types again (TS2589).
    /* eslint-disable @typescript-eslint/no-unnecessary-type-assertion */
    validate: def.validate as Provider<M>['validate'],
    configure: def.configure as unknown as Provider<M>['configure'],
    /* eslint-enable @typescript-eslint/no-unnecessary-type-assertion */
    ...(def.shutdown ? { shutdown: def.shutdown } : {}),
    resources: index(def.resources),
    dataSources: index(def.dataSources ?? []),
  };
}

/** Runs the schema's attribute validators over known values, nested blocks included. */
export function validateBlock(block: BlockSchema, value: Value, at: Path = []): Diagnostic[] {
  if (!isRecord(value)) return [];
  const out: Diagnostic[] = [];
  for (const [name, a] of Object.entries(block.attributes)) {
    const v = value[name] ?? null;
    if (v === null || isUnknown(v)) continue;
    for (const check of a.validators ?? []) out.push(...check(v, [...at, name]));
  }
  for (const [name, b] of Object.entries(block.blocks ?? {})) {
    const v = value[name] ?? null;
    // A set element has no index terraform could resolve: point at the block.
    if (Array.isArray(v)) v.forEach((e, i) => out.push(...validateBlock(b.block, e, b.nesting === 'set' ? [...at, name] : [...at, name, i])));
    else if (b.nesting === 'map' && isRecord(v)) for (const [k, e] of Object.entries(v)) out.push(...validateBlock(b.block, e, [...at, name, { key: k }]));
    else out.push(...validateBlock(b.block, v, [...at, name]));
  }
  return out;
}
