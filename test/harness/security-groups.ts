// Security group rules as tests and benches write them: one port (or every port), and a peer that
// is a CIDR, a remote group, or — neither — anywhere.

import type { SecurityGroupRuleSpec } from '../../gen/vxcloud/agent/v1/security_group.js';

export interface RuleOptions {
  /** 0 or absent: every port. */
  port?: number;
  cidr?: string;
  remote?: string;
}

export const ruleSpec = (id: string, group: string, direction: 'ingress' | 'egress', protocol: string, o: RuleOptions = {}): SecurityGroupRuleSpec => ({
  id,
  securityGroupId: group,
  direction,
  protocol,
  portMin: o.port ?? 0,
  portMax: o.port ?? 0,
  cidr: o.cidr ?? '',
  remoteGroupId: o.remote ?? '',
  description: '',
});
