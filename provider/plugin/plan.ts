// The plan rules terraform enforces, applied to terraform's proposed new state. Terraform has
// already merged config with prior state for computed attributes left unset, so what is left is:
// on create (and for new nested elements) unset computed attributes become unknown, and replace-
// only attributes that change ask for replacement. Nothing is normalised: a plan that differs
// from config is rejected, so inputs are validated instead.

import { isRecord, isUnknown, unknown, valueEquals } from './cty.js';
import type { Value, ValueRecord } from './cty.js';
import type { Path } from './diagnostics.js';
import type { BlockSchema, NestedBlockSchema } from './schema.js';

export interface PlanOutcome {
  planned: ValueRecord | null;
  requiresReplace: Path[];
}

export function defaultPlan(schema: BlockSchema, prior: ValueRecord | null, proposed: ValueRecord | null, config: ValueRecord | null): PlanOutcome {
  if (proposed === null) return { planned: null, requiresReplace: [] };
  const planned = planBlock(schema, prior, proposed, config);
  const requiresReplace: Path[] = [];
  if (prior !== null) collectReplace(schema, prior, planned, [], requiresReplace);
  return { planned, requiresReplace };
}

const field = (v: Value | undefined, name: string): Value => (isRecord(v) ? (v[name] ?? null) : null);
const asRecord = (v: Value | undefined): ValueRecord | null => (isRecord(v) ? v : null);

function planBlock(schema: BlockSchema, prior: ValueRecord | null, proposed: ValueRecord, config: ValueRecord | null): ValueRecord {
  const out: ValueRecord = Object.assign(Object.create(null) as ValueRecord, proposed);
  for (const [name, a] of Object.entries(schema.attributes)) {
    // An object that did not exist has no value to keep: terraform must show "known after apply".
    if (a.computed && prior === null && field(config, name) === null && (out[name] ?? null) === null) out[name] = unknown;
  }
  for (const [name, b] of Object.entries(schema.blocks ?? {})) {
    out[name] = planNested(b, prior === null ? null : field(prior, name), out[name] ?? null, field(config, name));
  }
  return out;
}

function planNested(b: NestedBlockSchema, prior: Value, proposed: Value, config: Value): Value {
  if (proposed === null || isUnknown(proposed)) return proposed;
  if (b.nesting === 'single') return isRecord(proposed) ? planBlock(b.block, asRecord(prior), proposed, asRecord(config)) : proposed;
  if (b.nesting === 'map') {
    if (!isRecord(proposed)) return proposed;
    const out = Object.create(null) as ValueRecord;
    for (const [k, e] of Object.entries(proposed)) {
      out[k] = isRecord(e) ? planBlock(b.block, asRecord(field(prior, k)), e, asRecord(field(config, k))) : e;
    }
    return out;
  }
  if (!Array.isArray(proposed)) return proposed;
  const priorList = Array.isArray(prior) ? prior : [];
  const configList = Array.isArray(config) ? config : [];
  return proposed.map((e, i) => {
    if (!isRecord(e)) return e;
    // Lists pair elements by index; a set element is "new" unless the prior set holds it as is.
    const p = b.nesting === 'list' ? asRecord(priorList[i]) : priorList.some((x) => valueEquals(x, e)) ? e : null;
    return planBlock(b.block, p, e, asRecord(configList[i]));
  });
}

function collectReplace(schema: BlockSchema, prior: ValueRecord, planned: ValueRecord, at: Path, out: Path[]): void {
  for (const [name, a] of Object.entries(schema.attributes)) {
    if (a.requiresReplace && !valueEquals(prior[name] ?? null, planned[name] ?? null)) out.push([...at, name]);
  }
  for (const [name, b] of Object.entries(schema.blocks ?? {})) {
    const p = prior[name] ?? null;
    const n = planned[name] ?? null;
    if (valueEquals(p, n) || !hasReplaceOnly(b.block)) continue;
    if (b.nesting === 'single' && isRecord(p) && isRecord(n)) collectReplace(b.block, p, n, [...at, name], out);
    else if (b.nesting === 'list' && Array.isArray(p) && Array.isArray(n) && p.length === n.length) {
      n.forEach((e, i) => {
        const pe = p[i];
        if (isRecord(pe) && isRecord(e)) collectReplace(b.block, pe, e, [...at, name, i], out);
      });
    } else {
      // Added or removed elements, sets and maps: the block as a whole forces replacement.
      out.push([...at, name]);
    }
  }
}

function hasReplaceOnly(block: BlockSchema): boolean {
  return Object.values(block.attributes).some((a) => a.requiresReplace) || Object.values(block.blocks ?? {}).some((b) => hasReplaceOnly(b.block));
}
