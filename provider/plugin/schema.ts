// The schema model resources are written in, and its two renderings: tfplugin6.Schema for the
// protocol and the `terraform providers schema -json` document (what CDKTF generates from).

import { t, typeToJson } from './cty.js';
import type { CtyType, TypeJson, ValueOf } from './cty.js';
import type { Validator } from './validators.js';
import { Schema as ProtoSchema, Schema_NestedBlock_NestingMode, StringKind } from '../../gen/tfplugin6/tfplugin6.js';
import type { Schema_Attribute, Schema_Block, Schema_NestedBlock } from '../../gen/tfplugin6/tfplugin6.js';

interface AttributeCommon<T extends CtyType = CtyType> {
  readonly type: T;
  readonly description?: string;
  readonly sensitive?: boolean;
  readonly deprecated?: boolean;
  /** A change to this attribute replaces the object instead of updating it in place. */
  readonly requiresReplace?: boolean;
  /** Checks on known, non-null config values; each reports on this attribute's path. */
  readonly validators?: readonly Validator[];
}

/** Exactly the combinations terraform accepts: required alone; optional and/or computed. */
export type AttributeSchema<T extends CtyType = CtyType> = AttributeCommon<T> &
  (
    | { readonly required: true; readonly optional?: never; readonly computed?: never }
    | { readonly optional: true; readonly computed?: boolean; readonly required?: never }
    | { readonly computed: true; readonly optional?: boolean; readonly required?: never }
  );

export type NestingMode = 'single' | 'list' | 'set' | 'map';

export interface NestedBlockSchema {
  readonly nesting: NestingMode;
  readonly block: BlockSchema;
  readonly minItems?: number;
  readonly maxItems?: number;
}

export interface BlockSchema {
  readonly attributes: { readonly [name: string]: AttributeSchema };
  readonly blocks?: { readonly [name: string]: NestedBlockSchema };
  readonly description?: string;
  readonly deprecated?: boolean;
}

/** A top-level schema: a block with the version its stored state is written in. */
export interface Schema extends BlockSchema {
  readonly version?: number;
}

const NAME = /^[a-z0-9_]+$/;

/** Throws on a schema terraform would reject or crash on; called once per definition. */
export function checkSchema(block: BlockSchema, where: string): void {
  const names = [...Object.keys(block.attributes), ...Object.keys(block.blocks ?? {})];
  for (const name of names) if (!NAME.test(name)) throw new Error(`${where}: name ${JSON.stringify(name)} is not ${NAME}`);
  for (const [name, a] of Object.entries(block.attributes)) {
    const modes = [a.required, a.optional, a.computed].filter(Boolean).length;
    if (modes === 0 || (a.required && modes > 1)) {
      throw new Error(`${where}.${name}: an attribute is required, or optional and/or computed`);
    }
    typeToJson(a.type);
  }
  for (const [name, b] of Object.entries(block.blocks ?? {})) {
    if (name in block.attributes) throw new Error(`${where}.${name}: both an attribute and a block`);
    checkSchema(b.block, `${where}.${name}`);
  }
}

/** The cty object type of a block: its attributes plus its nested blocks as collections. */
export function blockType(block: BlockSchema): CtyType {
  const attributes: Record<string, CtyType> = {};
  for (const [name, a] of Object.entries(block.attributes)) attributes[name] = a.type;
  for (const [name, b] of Object.entries(block.blocks ?? {})) {
    const inner = blockType(b.block);
    attributes[name] = b.nesting === 'single' ? inner : { kind: b.nesting, element: inner };
  }
  return t.object(attributes);
}

// ---- tfplugin6 ----

const NESTING: Record<NestingMode, Schema_NestedBlock_NestingMode> = {
  single: Schema_NestedBlock_NestingMode.SINGLE,
  list: Schema_NestedBlock_NestingMode.LIST,
  set: Schema_NestedBlock_NestingMode.SET,
  map: Schema_NestedBlock_NestingMode.MAP,
};

const typeBytes = (type: CtyType): Buffer => Buffer.from(JSON.stringify(typeToJson(type)));

function blockToProto(block: BlockSchema, version: number): Schema_Block {
  // Sorted, so the schema (and anything generated from it) does not depend on key order.
  const attributes: Schema_Attribute[] = Object.keys(block.attributes)
    .sort()
    .map((name) => {
      const a = block.attributes[name] as AttributeSchema;
      return {
        name,
        type: typeBytes(a.type),
        nestedType: undefined,
        description: a.description ?? '',
        required: a.required === true,
        optional: a.optional === true,
        computed: a.computed === true,
        sensitive: a.sensitive === true,
        descriptionKind: StringKind.PLAIN,
        deprecated: a.deprecated === true,
      };
    });
  const blockTypes: Schema_NestedBlock[] = Object.keys(block.blocks ?? {})
    .sort()
    .map((name) => {
      const b = (block.blocks ?? {})[name] as NestedBlockSchema;
      return {
        typeName: name,
        block: blockToProto(b.block, 0),
        nesting: NESTING[b.nesting],
        minItems: b.minItems ?? 0,
        maxItems: b.maxItems ?? 0,
      };
    });
  return {
    version,
    attributes,
    blockTypes,
    description: block.description ?? '',
    descriptionKind: StringKind.PLAIN,
    deprecated: block.deprecated === true,
  };
}

export function schemaToProto(schema: Schema): ProtoSchema {
  return { version: schema.version ?? 0, block: blockToProto(schema, schema.version ?? 0) };
}

// ---- `terraform providers schema -json` ----

export interface JsonAttribute {
  type: TypeJson;
  description?: string;
  description_kind: 'plain';
  deprecated?: true;
  required?: true;
  optional?: true;
  computed?: true;
  sensitive?: true;
}
export interface JsonBlock {
  attributes?: Record<string, JsonAttribute>;
  block_types?: Record<string, { nesting_mode: NestingMode; block: JsonBlock; min_items?: number; max_items?: number }>;
  description?: string;
  description_kind: 'plain';
  deprecated?: true;
}
export interface JsonSchema {
  version: number;
  block: JsonBlock;
}

/** Same shape and omissions as terraform's jsonprovider package (false and empty are left out). */
function blockToJson(block: BlockSchema): JsonBlock {
  const out: JsonBlock = { description_kind: 'plain' };
  const attrNames = Object.keys(block.attributes).sort();
  if (attrNames.length > 0) {
    out.attributes = {};
    for (const name of attrNames) {
      const a = block.attributes[name] as AttributeSchema;
      const j: JsonAttribute = { type: typeToJson(a.type), description_kind: 'plain' };
      if (a.description) j.description = a.description;
      if (a.deprecated) j.deprecated = true;
      if (a.required) j.required = true;
      if (a.optional) j.optional = true;
      if (a.computed) j.computed = true;
      if (a.sensitive) j.sensitive = true;
      out.attributes[name] = j;
    }
  }
  const blockNames = Object.keys(block.blocks ?? {}).sort();
  if (blockNames.length > 0) {
    out.block_types = {};
    for (const name of blockNames) {
      const b = (block.blocks ?? {})[name] as NestedBlockSchema;
      out.block_types[name] = {
        nesting_mode: b.nesting,
        block: blockToJson(b.block),
        ...(b.minItems ? { min_items: b.minItems } : {}),
        ...(b.maxItems ? { max_items: b.maxItems } : {}),
      };
    }
  }
  if (block.description) out.description = block.description;
  if (block.deprecated) out.deprecated = true;
  return out;
}

export function schemaToJson(schema: Schema): JsonSchema {
  return { version: schema.version ?? 0, block: blockToJson(schema) };
}

// ---- static typing: the state object a schema describes ----

type AttrValue<A> = A extends AttributeSchema<infer T> ? ValueOf<T> | (A extends { required: true } ? never : null) : never;
type BlockValue<B> = B extends NestedBlockSchema
  ? B['nesting'] extends 'single'
    ? StateOf<B['block']> | null
    : B['nesting'] extends 'map'
      ? { [key: string]: StateOf<B['block']> }
      : StateOf<B['block']>[]
  : never;

/** The known object a block's schema describes: required attributes are never null. */
export type StateOf<B extends BlockSchema> = {
  -readonly [K in keyof B['attributes']]: AttrValue<B['attributes'][K]>;
} & (B['blocks'] extends { readonly [name: string]: NestedBlockSchema } ? { -readonly [K in keyof B['blocks']]: BlockValue<B['blocks'][K]> } : unknown);

export interface ProviderSchemaDocument {
  format_version: '1.0';
  provider_schemas: Record<string, { provider: JsonSchema; resource_schemas?: Record<string, JsonSchema>; data_source_schemas?: Record<string, JsonSchema> }>;
}

/**
 * What `terraform providers schema -json` prints for one provider at `sourceAddress`, built from
 * the definition without running terraform (CDKTF's generator reads this).
 */
export function providerSchemaDocument(
  provider: { schema: Schema; resources: ReadonlyMap<string, { schema: Schema }>; dataSources: ReadonlyMap<string, { schema: Schema }> },
  sourceAddress: string,
): ProviderSchemaDocument {
  const render = (m: ReadonlyMap<string, { schema: Schema }>): Record<string, JsonSchema> | undefined =>
    m.size === 0 ? undefined : Object.fromEntries([...m].sort(([a], [b]) => a.localeCompare(b)).map(([n, r]) => [n, schemaToJson(r.schema)]));
  const resources = render(provider.resources);
  const dataSources = render(provider.dataSources);
  return {
    format_version: '1.0',
    provider_schemas: {
      [sourceAddress]: {
        provider: schemaToJson(provider.schema),
        ...(resources ? { resource_schemas: resources } : {}),
        ...(dataSources ? { data_source_schemas: dataSources } : {}),
      },
    },
  };
}
