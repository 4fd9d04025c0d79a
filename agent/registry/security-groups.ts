// Security groups and their rules, as transaction functions over the registry (see txn.ts and
// claims.ts). A group records its members, its rules and the rules that name it, so that a
// delete refused "in use" and a NIC joining at the same moment conflict in one transaction
// instead of leaving a NIC in a group that is gone. No I/O but the Txn.

import { ApiError } from '../state/errors.js';
import { fresh, KIND_NAMES, readAs, remove } from './claims.js';
import type { Keys, SecurityGroupObject, SecurityGroupRuleObject } from './model.js';
import type { Txn } from './txn.js';

export interface GroupSpec {
  id: string;
  tenant: string;
  name: string;
  description: string;
}

export type RuleSpec = Omit<SecurityGroupRuleObject, 'kind' | 'tenant'> & { id: string };

const sorted = (xs: Iterable<string>): string[] => [...new Set(xs)].sort();
const put = (tx: Txn, k: Keys, id: string, o: SecurityGroupObject | SecurityGroupRuleObject): void => tx.put(k.object(id), JSON.stringify(o));

/** The group `id` of `tenant`, for `field` of a caller's object; another tenant's reads as missing, in the same words. */
async function groupOf(tx: Txn, k: Keys, id: string, tenant: string, field: string): Promise<SecurityGroupObject> {
  const g = await readAs(tx, k, id, 'sg').catch(() => undefined);
  if (!g || g.tenant !== tenant) {
    throw new ApiError(
      'FAILED_PRECONDITION',
      field,
      `security group "${id}" is not a group of tenant ${tenant}: create it first, or name one of the tenant's own`,
    );
  }
  return g;
}

export async function putGroup(tx: Txn, k: Keys, g: GroupSpec, as?: string): Promise<SecurityGroupObject> {
  const cur = await readAs(tx, k, g.id, 'sg', as);
  if (cur) {
    if (cur.tenant !== g.tenant) throw new ApiError('FAILED_PRECONDITION', 'tenant', `security group "${g.id}" belongs to ${cur.tenant}, not ${g.tenant}`);
    if (cur.name === g.name && cur.description === g.description) return cur;
    const next = { ...cur, name: g.name, description: g.description };
    put(tx, k, g.id, next);
    return next;
  }
  await fresh(tx, k, g.id, 'sg');
  const o: SecurityGroupObject = { kind: 'sg', tenant: g.tenant, name: g.name, description: g.description, members: [], rules: [], refs: [] };
  put(tx, k, g.id, o);
  return o;
}

/** False when it was gone already. Its own rules go with it; members or other groups' rules keep it. */
export async function deleteGroup(tx: Txn, k: Keys, id: string, as?: string): Promise<boolean> {
  const cur = await readAs(tx, k, id, 'sg', as);
  if (!cur) return false;
  if (cur.members.length > 0) {
    throw new ApiError(
      'FAILED_PRECONDITION',
      'id',
      `security group "${id}" is in use by NICs ${cur.members.join(', ')}: take it out of their security_group_ids first`,
    );
  }
  const others = cur.refs.filter((r) => !cur.rules.includes(r));
  if (others.length > 0) {
    throw new ApiError('FAILED_PRECONDITION', 'id', `security group "${id}" is the remote group of rules ${others.join(', ')}: delete those rules first`);
  }
  for (const r of cur.rules) await deleteRule(tx, k, r);
  await remove(tx, k, id, cur, false);
  return true;
}

function sameRule(a: RuleSpec, b: SecurityGroupRuleObject): boolean {
  return (['group', 'direction', 'protocol', 'portMin', 'portMax', 'cidr', 'remote', 'description'] as const).every((f) => a[f] === b[f]);
}

export async function putRule(tx: Txn, k: Keys, r: RuleSpec, as?: string): Promise<SecurityGroupRuleObject> {
  const cur = await readAs(tx, k, r.id, 'sgrule', as);
  if (cur) {
    if (sameRule(r, cur)) return cur;
    throw new ApiError(
      'FAILED_PRECONDITION',
      'id',
      `${KIND_NAMES.sgrule} "${r.id}" exists with other fields: a rule never changes; create a new one and delete this one`,
    );
  }
  await fresh(tx, k, r.id, 'sgrule');
  const g = await readAs(tx, k, r.group, 'sg', as).catch(() => undefined);
  if (!g)
    throw new ApiError(
      'FAILED_PRECONDITION',
      'security_group_id',
      `security group "${r.group}" does not exist${as ? ` for tenant ${as}` : ''}: create it first`,
    );
  const o: SecurityGroupRuleObject = { kind: 'sgrule', tenant: g.tenant, ...r };
  delete (o as Partial<RuleSpec>).id;
  put(tx, k, r.id, o);
  put(tx, k, r.group, { ...g, rules: sorted([...g.rules, r.id]) });
  if (r.remote !== '') {
    const remote = await groupOf(tx, k, r.remote, g.tenant, 'remote_group_id');
    put(tx, k, r.remote, { ...remote, refs: sorted([...remote.refs, r.id]) });
  }
  return o;
}

export async function deleteRule(tx: Txn, k: Keys, id: string, as?: string): Promise<boolean> {
  const cur = await readAs(tx, k, id, 'sgrule', as);
  if (!cur) return false;
  const g = await readAs(tx, k, cur.group, 'sg');
  if (g) put(tx, k, cur.group, { ...g, rules: g.rules.filter((x) => x !== id) });
  const remote = cur.remote === '' ? undefined : await readAs(tx, k, cur.remote, 'sg');
  if (remote) put(tx, k, cur.remote, { ...remote, refs: remote.refs.filter((x) => x !== id) });
  await remove(tx, k, id, cur, false);
  return true;
}

/** Moves NIC `nic` (of `tenant`) from the groups `before` to `after`; a group that is not the tenant's is refused. */
export async function moveMember(tx: Txn, k: Keys, nic: string, tenant: string, before: readonly string[], after: readonly string[]): Promise<void> {
  for (const id of after.filter((g) => !before.includes(g))) {
    const g = await groupOf(tx, k, id, tenant, 'security_group_ids');
    put(tx, k, id, { ...g, members: sorted([...g.members, nic]) });
  }
  for (const id of before.filter((g) => !after.includes(g))) {
    const g = await readAs(tx, k, id, 'sg');
    if (g) put(tx, k, id, { ...g, members: g.members.filter((m) => m !== nic) });
  }
}
