// The SecurityGroupService: groups and rules are the registry's, so any agent with a registry
// serves them; reads of one object are consistent (a transaction), lists come from the watched view.

import type { Logger } from 'pino';
import type { SecurityGroup, SecurityGroupRule, SecurityGroupServiceServer } from '../../gen/vxcloud/agent/v1/security_group.js';
import { groupProblems, ruleProblems } from '../../lib/security-group-validation.js';
import { KIND_NAMES, readAs } from '../registry/claims.js';
import type { Direction, RuleProtocol, SecurityGroupObject, SecurityGroupRuleObject } from '../registry/model.js';
import type { Registry } from '../registry/registry.js';
import { deleteGroup, deleteRule, putGroup, putRule } from '../registry/security-groups.js';
import { ApiError } from '../state/errors.js';
import { tenantFor, type Ownership } from './ownership.js';
import { required, unary } from './unary.js';

const group = (id: string, g: SecurityGroupObject): SecurityGroup => ({
  spec: { id, tenant: g.tenant, name: g.name, description: g.description },
  memberNicIds: g.members,
  ruleIds: g.rules,
  referencingRuleIds: g.refs,
});

const rule = (id: string, r: SecurityGroupRuleObject): SecurityGroupRule => ({
  spec: {
    id,
    securityGroupId: r.group,
    direction: r.direction,
    protocol: r.protocol,
    portMin: r.portMin,
    portMax: r.portMax,
    cidr: r.cidr,
    remoteGroupId: r.remote,
    description: r.description,
  },
});

function refuse(problems: ReturnType<typeof ruleProblems>): void {
  if (problems.length > 0) throw ApiError.of(problems);
}

export function securityGroupService(registry: Registry | undefined, own: Ownership, log: Logger): SecurityGroupServiceServer {
  const reg = (): Registry => {
    if (!registry) throw new ApiError('FAILED_PRECONDITION', '', 'this host has no registry, and security groups live there: ask an agent configured with one');
    return registry;
  };
  /** One object, read consistently; to a tenant, another tenant's reads as missing, in the same words. */
  const mine = async <K extends 'sg' | 'sgrule'>(id: string, kind: K, as: string | undefined) => {
    const o = await reg().transact((tx, k) => readAs(tx, k, id, kind).catch(() => undefined));
    if (!o || (as !== undefined && (o as { tenant: string }).tenant !== as))
      throw new ApiError('NOT_FOUND', 'id', `${KIND_NAMES[kind]} "${id}" does not exist`);
    return o;
  };
  const visible = (tenant: string, as: string | undefined): boolean => as === undefined || tenant === as;

  return {
    putSecurityGroup: unary(log, 'PutSecurityGroup', async (req, caller) => {
      const s = required(req.group, 'group');
      refuse(groupProblems(s));
      const tenant = tenantFor(caller, s.tenant, 'security groups');
      const g = await reg().transact((tx, k) =>
        putGroup(tx, k, { id: s.id, tenant, name: s.name, description: s.description }, own.scope(caller, 'put security groups')),
      );
      return group(s.id, g);
    }),
    getSecurityGroup: unary(log, 'GetSecurityGroup', async (req, caller) => {
      return group(req.id, await mine(req.id, 'sg', own.scope(caller, 'read security groups')));
    }),
    listSecurityGroups: unary(log, 'ListSecurityGroups', async (_req, caller) => {
      const as = own.scope(caller, 'list security groups');
      const groups: SecurityGroup[] = [];
      for (const [id, o] of reg().view?.objects ?? []) if (o.kind === 'sg' && visible(o.tenant, as)) groups.push(group(id, o));
      return { groups: groups.sort((a, b) => a.spec!.id.localeCompare(b.spec!.id)) };
    }),
    deleteSecurityGroup: unary(log, 'DeleteSecurityGroup', async (req, caller) => {
      return { existed: await reg().transact((tx, k) => deleteGroup(tx, k, req.id, own.scope(caller, 'delete security groups'))) };
    }),

    putSecurityGroupRule: unary(log, 'PutSecurityGroupRule', async (req, caller) => {
      const s = required(req.rule, 'rule');
      refuse(
        ruleProblems({
          id: s.id,
          security_group_id: s.securityGroupId,
          direction: s.direction,
          protocol: s.protocol,
          port_min: s.portMin,
          port_max: s.portMax,
          cidr: s.cidr,
          remote_group_id: s.remoteGroupId,
        }),
      );
      const spec = {
        id: s.id,
        group: s.securityGroupId,
        direction: s.direction as Direction,
        protocol: s.protocol as RuleProtocol,
        portMin: s.portMin,
        portMax: s.portMax,
        cidr: s.cidr,
        remote: s.remoteGroupId,
        description: s.description,
      };
      return rule(s.id, await reg().transact((tx, k) => putRule(tx, k, spec, own.scope(caller, 'put security group rules'))));
    }),
    getSecurityGroupRule: unary(log, 'GetSecurityGroupRule', async (req, caller) => {
      return rule(req.id, await mine(req.id, 'sgrule', own.scope(caller, 'read security group rules')));
    }),
    listSecurityGroupRules: unary(log, 'ListSecurityGroupRules', async (req, caller) => {
      const as = own.scope(caller, 'list security group rules');
      const rules: SecurityGroupRule[] = [];
      for (const [id, o] of reg().view?.objects ?? []) {
        if (o.kind === 'sgrule' && visible(o.tenant, as) && (req.parentId === '' || o.group === req.parentId)) rules.push(rule(id, o));
      }
      return { rules: rules.sort((a, b) => a.spec!.id.localeCompare(b.spec!.id)) };
    }),
    deleteSecurityGroupRule: unary(log, 'DeleteSecurityGroupRule', async (req, caller) => {
      return { existed: await reg().transact((tx, k) => deleteRule(tx, k, req.id, own.scope(caller, 'delete security group rules'))) };
    }),
  };
}
