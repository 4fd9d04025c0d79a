// vxcloud_security_group_rule: one allow rule of a security group. A rule never changes (the
// agent refuses a Put of an existing id with other fields), so every attribute replaces it.

import type { SecurityGroupRule as RuleMessage, SecurityGroupRuleSpec } from '../../gen/vxcloud/agent/v1/security_group.js';
import { checkRuleCidr, DIRECTIONS, PROTOCOLS, ruleProblems } from '../../lib/security-group-validation.js';
import { asNumber, isUnknown, known, knownOr, t, type Value } from '../plugin/cty.js';
import { attributeError, type Diagnostic } from '../plugin/diagnostics.js';
import { defineResource, type Config, type Planned } from '../plugin/framework.js';
import type { StateOf } from '../plugin/schema.js';
import { oneOf } from '../plugin/validators.js';
import { createRefused, creating, emptyAs, orGone, refused, rule, str } from './common.js';
import { problemDiagnostics } from './errors.js';
import type { Fleet } from './fleet.js';

const schema = {
  version: 0,
  description:
    "A rule of a security group: lets traffic of a protocol (and port range) in to the group's NICs (ingress) or out of them (egress), from or to a CIDR, the NICs of another group of the tenant, or anywhere. Rules only allow, and are stateful; a rule never changes: any change replaces it.",
  attributes: {
    id: { type: t.string, computed: true, description: 'Assigned on create.' },
    security_group_id: {
      type: t.string,
      required: true,
      requiresReplace: true,
      description: 'The group it belongs to.',
    },
    direction: {
      type: t.string,
      required: true,
      requiresReplace: true,
      validators: [oneOf(...DIRECTIONS)],
      description: '"ingress" (to the group\'s NICs) or "egress" (from them).',
    },
    protocol: {
      type: t.string,
      required: true,
      requiresReplace: true,
      validators: [oneOf(...PROTOCOLS)],
      description: '"tcp", "udp", "icmp" or "any".',
    },
    port_min: {
      type: t.number,
      optional: true,
      requiresReplace: true,
      description: 'tcp/udp: the first destination port, 1-65535 (default: with port_max unset, every port).',
    },
    port_max: {
      type: t.number,
      optional: true,
      requiresReplace: true,
      description: 'tcp/udp: the last destination port, at least port_min (for one port, the same as port_min).',
    },
    cidr: {
      type: t.string,
      optional: true,
      requiresReplace: true,
      validators: [rule(checkRuleCidr)],
      description:
        'The other end (source for ingress, destination for egress) as an IPv4 CIDR, e.g. 198.18.0.0/16. Neither cidr nor remote_group_id: anywhere.',
    },
    remote_group_id: {
      type: t.string,
      optional: true,
      requiresReplace: true,
      description: 'The other end as the NICs of a group of the same tenant, followed as they join and leave; instead of cidr.',
    },
    description: { type: t.string, optional: true, requiresReplace: true, description: 'Free text (default "").' },
  },
} as const;

type RuleState = StateOf<typeof schema>;
type RuleConfig = Config<typeof schema>;
const ATTRS = Object.keys(schema.attributes);

/** A port as the agent takes it: unset is 0 (every port). */
const port = (v: Value): number => asNumber(v) ?? 0;

function toState(r: RuleMessage, like: Pick<RuleConfig, 'port_min' | 'port_max' | 'cidr' | 'remote_group_id' | 'description'>): RuleState {
  const s = r.spec!;
  return {
    id: s.id,
    security_group_id: s.securityGroupId,
    direction: s.direction,
    protocol: s.protocol,
    port_min: emptyAs(s.portMin, 0, like.port_min),
    port_max: emptyAs(s.portMax, 0, like.port_max),
    cidr: emptyAs(s.cidr, '', like.cidr),
    remote_group_id: emptyAs(s.remoteGroupId, '', like.remote_group_id),
    description: emptyAs(s.description, '', like.description),
  };
}

const specOf = (id: string, p: Planned<typeof schema>): SecurityGroupRuleSpec => ({
  id,
  securityGroupId: known(p.security_group_id),
  direction: known(p.direction),
  protocol: known(p.protocol),
  portMin: port(known(p.port_min)),
  portMax: port(known(p.port_max)),
  cidr: knownOr(p.cidr, null) ?? '',
  remoteGroupId: knownOr(p.remote_group_id, null) ?? '',
  description: knownOr(p.description, null) ?? '',
});

/** What the attribute validators check already (and the id, the provider's): ruleProblems would say it twice. */
const BY_VALIDATORS = new Set(['id', 'direction', 'protocol', 'cidr']);

/**
 * The agent's rule check (ruleProblems), on the attribute each problem names: the group ids, and
 * what spans attributes — ports against the protocol, cidr and remote_group_id together. Unknown
 * values stand in as valid ones, and problems on them (or, while the protocol is unknown, on
 * ports) wait for the plan that knows them.
 */
function crossProblems(c: RuleConfig): Diagnostic[] {
  const s = (v: Value, standIn: string): string => (typeof v === 'string' ? v : isUnknown(v) ? standIn : '');
  const problems = ruleProblems({
    id: 'sgr-0',
    security_group_id: s(c.security_group_id, 'sg-0'),
    direction: s(c.direction, DIRECTIONS[0]),
    protocol: s(c.protocol, 'any'),
    port_min: port(c.port_min),
    port_max: port(c.port_max),
    cidr: s(c.cidr, ''),
    remote_group_id: s(c.remote_group_id, ''),
  }).filter((p) => {
    if (BY_VALIDATORS.has(p.field) || isUnknown(c[p.field as keyof RuleConfig])) return false;
    return !(p.field.startsWith('port_') && (isUnknown(c.port_min) || isUnknown(c.port_max) || isUnknown(c.protocol)));
  });
  return problemDiagnostics('Invalid security group rule', problems, ATTRS);
}

/**
 * A new rule's groups must exist, the remote one of the same tenant: asked of the registry when
 * the ids are known, so that the plan, not the apply, says so.
 */
async function groupChecks(fleet: Fleet, p: Planned<typeof schema>): Promise<Diagnostic[]> {
  if (typeof p.security_group_id !== 'string') return [];
  const c = fleet.registryClient().securityGroups;
  const get = (id: string) => orGone(c.getSecurityGroup({ id }, fleet.timeoutMs));
  const remoteId = typeof p.remote_group_id === 'string' ? p.remote_group_id : undefined;
  const [group, remote] = await Promise.all([get(p.security_group_id), remoteId === undefined ? undefined : get(remoteId)]);
  const d: Diagnostic[] = [];
  // To a tenant, another tenant's group reads as missing.
  const whose = fleet.identity?.kind === 'tenant' ? ` of tenant ${fleet.identity.tenant}` : '';
  const missing = (id: string): string => `The registry has no security group "${id}"${whose}: create it first, or name an existing one.`;
  if (!group) d.push(attributeError(['security_group_id'], 'No such security group', missing(p.security_group_id)));
  if (remote === null) d.push(attributeError(['remote_group_id'], 'No such security group', missing(remoteId!)));
  else if (group && remote && remote.spec!.tenant !== group.spec!.tenant) {
    d.push(
      attributeError(
        ['remote_group_id'],
        'Group of another tenant',
        `Security group "${remote.spec!.id}" is tenant ${remote.spec!.tenant}'s, and the rule's group "${group.spec!.id}" is ${group.spec!.tenant}'s: a remote group is of the same tenant.`,
      ),
    );
  }
  return d;
}

export const securityGroupRule = defineResource<typeof schema, Fleet>({
  typeName: 'vxcloud_security_group_rule',
  schema,
  validate: crossProblems,
  async plan({ prior, planned }, { provider }) {
    return { planned, diagnostics: prior === null ? await groupChecks(provider, planned) : [] };
  },
  async create({ planned }, { provider }) {
    const c = provider.registryClient();
    const made = await creating(provider, 'sgr', (id) =>
      c.securityGroups.putSecurityGroupRule({ rule: specOf(id, planned) }, provider.timeoutMs).catch(createRefused('Creating the security group rule', ATTRS)),
    );
    return toState(made, planned);
  },
  async read(state, { provider }) {
    const r = await orGone(provider.registryClient().securityGroups.getSecurityGroupRule({ id: str(state.id) }, provider.timeoutMs));
    return r ? toState(r, state) : null;
  },
  async update({ prior, planned }, { provider }) {
    // Every attribute replaces the rule: this only puts the same rule again.
    const r = await provider
      .registryClient()
      .securityGroups.putSecurityGroupRule({ rule: specOf(str(prior.id), planned) }, provider.timeoutMs)
      .catch(refused('Updating the security group rule', ATTRS));
    return toState(r, planned);
  },
  async delete(state, { provider }) {
    await provider
      .registryClient()
      .securityGroups.deleteSecurityGroupRule({ id: str(state.id) }, provider.timeoutMs)
      .catch(refused('Deleting the security group rule', ATTRS));
  },
  async importState(id, { provider }) {
    const r = await orGone(provider.registryClient().securityGroups.getSecurityGroupRule({ id }, provider.timeoutMs));
    if (!r) throw new Error(`the registry has no security group rule with id "${id}"`);
    return { id };
  },
});
