// vxcloud_security_group: a tenant's named set of allow rules (vxcloud_security_group_rule) for
// the NICs that list it. Groups are the registry's, not a host's: every call goes to the host
// that answered for the registry.

import type { SecurityGroup as GroupMessage } from '../../gen/vxcloud/agent/v1/security_group.js';
import { groupProblems } from '../../lib/security-group-validation.js';
import { known, knownOr, t, type Value } from '../plugin/cty.js';
import { defineResource } from '../plugin/framework.js';
import type { StateOf } from '../plugin/schema.js';
import { createRefused, creating, emptyAs, orGone, planTenant, refused, str } from './common.js';
import { problemDiagnostics } from './errors.js';
import type { Fleet } from './fleet.js';

const schema = {
  version: 0,
  description:
    "A security group: a tenant's set of allow rules (vxcloud_security_group_rule) for the NICs that list it in security_group_ids. Rules are stateful: replies of an admitted flow pass. Groups live in the registry, not on a host.",
  attributes: {
    id: { type: t.string, computed: true, description: 'Assigned on create.' },
    tenant: {
      type: t.string,
      optional: true,
      computed: true,
      requiresReplace: true,
      description: "The owning tenant, as a VPC's (default: the tenant of the provider's certificate). A tenant's certificate may name only its own.",
    },
    name: { type: t.string, required: true, description: 'A name for people, at most 255 characters. Changes in place.' },
    description: { type: t.string, optional: true, description: 'Free text, at most 1024 characters (default ""). Changes in place.' },
  },
} as const;

type GroupState = StateOf<typeof schema>;
const ATTRS = Object.keys(schema.attributes);

function toState(g: GroupMessage, like: { description: Value }): GroupState {
  const s = g.spec!;
  return { id: s.id, tenant: s.tenant, name: s.name, description: emptyAs(s.description, '', like.description) };
}

export const securityGroup = defineResource<typeof schema, Fleet>({
  typeName: 'vxcloud_security_group',
  schema,
  validate(c) {
    // The agent's check; the id is the provider's to make, so a valid one stands in for it.
    const name = typeof c.name === 'string' ? c.name : '';
    const description = typeof c.description === 'string' ? c.description : '';
    return problemDiagnostics('Invalid security group', groupProblems({ id: 'sg-0', name, description }), ATTRS);
  },
  plan({ planned }, { provider }) {
    const t = planTenant(provider, planned, 'security groups');
    return { planned: t.planned, diagnostics: t.diagnostics };
  },
  async create({ planned }, { provider }) {
    const c = provider.registryClient();
    const made = await creating(provider, 'sg', (id) =>
      c.securityGroups
        .putSecurityGroup(
          { group: { id, tenant: knownOr(planned.tenant, null) ?? '', name: known(planned.name), description: knownOr(planned.description, null) ?? '' } },
          provider.timeoutMs,
        )
        .catch(createRefused('Creating the security group', ATTRS)),
    );
    return toState(made, planned);
  },
  async read(state, { provider }) {
    const g = await orGone(provider.registryClient().securityGroups.getSecurityGroup({ id: str(state.id) }, provider.timeoutMs));
    return g ? toState(g, state) : null;
  },
  async update({ prior, planned }, { provider }) {
    const group = { id: str(prior.id), tenant: str(prior.tenant, 'tenant'), name: known(planned.name), description: knownOr(planned.description, null) ?? '' };
    const g = await provider
      .registryClient()
      .securityGroups.putSecurityGroup({ group }, provider.timeoutMs)
      .catch(refused('Updating the security group', ATTRS));
    return toState(g, planned);
  },
  async delete(state, { provider }) {
    // Refused while NICs are members or other groups' rules name it: the agent's message says which.
    await provider
      .registryClient()
      .securityGroups.deleteSecurityGroup({ id: str(state.id) }, provider.timeoutMs)
      .catch(refused('Deleting the security group', ATTRS));
  },
  async importState(id, { provider }) {
    const g = await orGone(provider.registryClient().securityGroups.getSecurityGroup({ id }, provider.timeoutMs));
    if (!g) throw new Error(`the registry has no security group with id "${id}"`);
    return { id };
  },
});
