import { describe, expect, it } from 'vitest';
import { t } from '../../../provider/plugin/cty.js';
import { diagnosticToProto, pathToProto, pathToString } from '../../../provider/plugin/diagnostics.js';
import { error } from '../../../provider/plugin/diagnostics.js';
import { logLevel } from '../../../provider/plugin/log.js';
import { blockType, checkSchema, schemaToJson, schemaToProto } from '../../../provider/plugin/schema.js';
import type { Schema } from '../../../provider/plugin/schema.js';
import { intBetween, oneOf } from '../../../provider/plugin/validators.js';
import { Diagnostic_Severity, Schema_NestedBlock_NestingMode } from '../../../gen/tfplugin6/tfplugin6.js';

const schema: Schema = {
  version: 2,
  description: 'A VPC.',
  attributes: {
    name: { type: t.string, required: true, description: 'Name.' },
    cidr: { type: t.string, optional: true, computed: true, requiresReplace: true },
    token: { type: t.string, optional: true, sensitive: true },
    tags: { type: t.map(t.string), optional: true },
    id: { type: t.string, computed: true },
  },
  blocks: {
    route: { nesting: 'list', maxItems: 8, block: { attributes: { to: { type: t.string, required: true } } } },
  },
};

describe('schema', () => {
  it('renders the `terraform providers schema -json` shape, leaving false and empty out', () => {
    expect(schemaToJson(schema)).toEqual({
      version: 2,
      block: {
        attributes: {
          cidr: { type: 'string', description_kind: 'plain', optional: true, computed: true },
          id: { type: 'string', description_kind: 'plain', computed: true },
          name: { type: 'string', description: 'Name.', description_kind: 'plain', required: true },
          tags: { type: ['map', 'string'], description_kind: 'plain', optional: true },
          token: { type: 'string', description_kind: 'plain', optional: true, sensitive: true },
        },
        block_types: {
          route: {
            nesting_mode: 'list',
            max_items: 8,
            block: { attributes: { to: { type: 'string', description_kind: 'plain', required: true } }, description_kind: 'plain' },
          },
        },
        description: 'A VPC.',
        description_kind: 'plain',
      },
    });
  });

  it('renders tfplugin6 attributes with cty type JSON, sorted by name', () => {
    const p = schemaToProto(schema);
    expect(p.version).toBe(2);
    expect(p.block!.attributes.map((a) => a.name)).toEqual(['cidr', 'id', 'name', 'tags', 'token']);
    expect(p.block!.attributes.find((a) => a.name === 'tags')!.type.toString()).toBe('["map","string"]');
    expect(p.block!.blockTypes[0]).toMatchObject({ typeName: 'route', nesting: Schema_NestedBlock_NestingMode.LIST, maxItems: 8 });
  });

  it('gives the object type of a block, nested blocks as collections', () => {
    expect(blockType(schema)).toEqual(
      t.object({ name: 'string', cidr: 'string', token: 'string', tags: t.map('string'), id: 'string', route: t.list(t.object({ to: 'string' })) }),
    );
  });

  it('rejects schemas terraform would reject', () => {
    expect(() => checkSchema({ attributes: { Name: { type: t.string, required: true } } }, 'x')).toThrow(/not/);
    expect(() => checkSchema({ attributes: { a: { type: t.string } as never } }, 'x')).toThrow(/required, or optional/);
    expect(() => checkSchema({ attributes: { a: { type: t.string, required: true, computed: true } as never } }, 'x')).toThrow(/required, or optional/);
  });
});

describe('diagnostics and validators', () => {
  it('turns paths into attribute steps, list indexes and map keys', () => {
    expect(pathToProto(['rule', 0, 'port']).steps).toEqual([{ attributeName: 'rule' }, { elementKeyInt: 0 }, { attributeName: 'port' }]);
    expect(pathToProto(['tags', { key: 'env' }]).steps).toEqual([{ attributeName: 'tags' }, { elementKeyString: 'env' }]);
    expect(pathToString(['rule', 0, 'tags', { key: 'a b' }])).toBe('rule[0].tags["a b"]');
    const d = diagnosticToProto(error('Bad', 'detail', ['name']));
    expect(d.severity).toBe(Diagnostic_Severity.ERROR);
    expect(d.attribute!.steps).toEqual([{ attributeName: 'name' }]);
  });

  it('validators report on the given path and ignore other types', () => {
    expect(intBetween(1, 10)(11, ['size'])[0]).toMatchObject({ severity: 'error', path: ['size'] });
    expect(intBetween(1, 10)(1.5, ['size'])).toHaveLength(1);
    expect(intBetween(1, 10)(5, ['size'])).toEqual([]);
    expect(oneOf('tcp', 'udp')('icmp', ['proto'])[0]!.detail).toContain('"icmp" is not one of "tcp", "udp"');
  });

  it('logs at TF_LOG_PROVIDER, else TF_LOG, else warnings only', () => {
    expect(logLevel({ TF_LOG: 'debug' })).toBe('debug');
    expect(logLevel({ TF_LOG: 'DEBUG', TF_LOG_PROVIDER: 'TRACE' })).toBe('trace');
    expect(logLevel({ TF_LOG: 'JSON' })).toBe('trace');
    expect(logLevel({ TF_LOG: 'off' })).toBe('silent');
    expect(logLevel({})).toBe('warn');
  });
});
