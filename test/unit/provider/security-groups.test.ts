// vxcloud_security_group, vxcloud_security_group_rule and the NIC's filter attributes without an
// agent: validation on the attribute the shared rules name, the NIC's filter planned in place,
// and CRUD against an in-memory registry (a refused delete keeps the agent's words).

import { Metadata, status as grpcStatus } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import type { ObjectPlacement } from '../../../gen/vxcloud/agent/v1/host.js';
import type { Nic, NicSpec } from '../../../gen/vxcloud/agent/v1/network.js';
import type { SecurityGroup, SecurityGroupRule, SecurityGroupRuleSpec, SecurityGroupSpec } from '../../../gen/vxcloud/agent/v1/security_group.js';
import type { AgentClient } from '../../../lib/agent-client.js';
import type { Identity } from '../../../lib/identity.js';
import { FIELD_METADATA } from '../../../lib/wire.js';
import { isUnknown, record, unknown, type Value, type ValueRecord } from '../../../provider/plugin/cty.js';
import { Fleet } from '../../../provider/resources/fleet.js';
import { nic } from '../../../provider/resources/nic.js';
import { securityGroupRule } from '../../../provider/resources/security-group-rule.js';
import { securityGroup } from '../../../provider/resources/security-group.js';
import { apply, configOf, ctx, failure, paths, plan, text, validate } from './resource-harness.js';

const rpcError = (code: grpcStatus, details: string, field?: string): Error => {
  const metadata = new Metadata();
  if (field) metadata.set(FIELD_METADATA, field);
  return Object.assign(new Error(details), { code, details, metadata });
};

/** The registry's security groups and one host's NICs, in memory. */
class FakeAgent {
  readonly groups = new Map<string, SecurityGroup>();
  readonly rules = new Map<string, SecurityGroupRule>();
  readonly nics = new Map<string, Nic>();
  readonly puts: NicSpec[] = [];

  group(id: string): SecurityGroup {
    const g = this.groups.get(id);
    if (!g) throw rpcError(grpcStatus.NOT_FOUND, `security group "${id}" does not exist`, 'id');
    return g;
  }

  client(): AgentClient {
    const fake = {
      host: {
        lookupObject: async ({ id }: { id: string }): Promise<Partial<ObjectPlacement>> => {
          if (id !== 'subnet-1') throw rpcError(grpcStatus.NOT_FOUND, `no object "${id}"`);
          return { id, kind: 'subnet', tenant: 'acme', hosts: ['h1'], cidr: '198.18.1.0/24' };
        },
      },
      securityGroups: {
        putSecurityGroup: async ({ group }: { group: SecurityGroupSpec }): Promise<SecurityGroup> => {
          const cur = this.groups.get(group.id);
          const g: SecurityGroup = { memberNicIds: [], ruleIds: [], referencingRuleIds: [], ...cur, spec: { ...group, tenant: group.tenant || 'acme' } };
          this.groups.set(group.id, g);
          return g;
        },
        getSecurityGroup: async ({ id }: { id: string }): Promise<SecurityGroup> => this.group(id),
        deleteSecurityGroup: async ({ id }: { id: string }): Promise<{ existed: boolean }> => {
          const g = this.groups.get(id);
          if (!g) return { existed: false };
          if (g.memberNicIds.length > 0) {
            throw rpcError(
              grpcStatus.FAILED_PRECONDITION,
              `security group "${id}" is in use by NICs ${g.memberNicIds.join(', ')}: take it out of their security_group_ids first`,
              'id',
            );
          }
          this.groups.delete(id);
          return { existed: true };
        },
        putSecurityGroupRule: async ({ rule }: { rule: SecurityGroupRuleSpec }): Promise<SecurityGroupRule> => {
          this.group(rule.securityGroupId);
          this.rules.set(rule.id, { spec: rule });
          return { spec: rule };
        },
        getSecurityGroupRule: async ({ id }: { id: string }): Promise<SecurityGroupRule> => {
          const r = this.rules.get(id);
          if (!r) throw rpcError(grpcStatus.NOT_FOUND, `security group rule "${id}" does not exist`, 'id');
          return r;
        },
        deleteSecurityGroupRule: async ({ id }: { id: string }): Promise<{ existed: boolean }> => ({ existed: this.rules.delete(id) }),
      },
      network: {
        getNic: async ({ id }: { id: string }): Promise<Nic> => this.nics.get(id)!,
        putNic: async ({ nic: spec }: { nic: NicSpec }): Promise<Nic> => {
          this.puts.push(spec);
          const unfiltered = spec.filter?.portSecurityDisabled === true && (spec.filter.securityGroupIds.length > 0 || spec.filter.allowedAddresses.length > 0);
          if (unfiltered) throw rpcError(grpcStatus.INVALID_ARGUMENT, 'port security off leaves the port unfiltered', 'port_security');
          const n: Nic = {
            spec: { ...spec, mac: spec.mac || '02:00:00:00:00:01', ip: spec.ip || '198.18.1.10/24' },
            observed: { hostIfname: `nv-${spec.id}`, mtu: 1450, gateway: '198.18.1.1', dhcpAddress: '', ruleCounters: [] },
            status: { ready: true, devices: [], problems: [] },
          };
          this.nics.set(spec.id, n);
          return n;
        },
      },
    };
    return fake as unknown as AgentClient;
  }
}

class FakeFleet extends Fleet {
  override readonly identity: Identity | undefined;

  constructor(
    readonly agent = new FakeAgent(),
    identity?: Identity,
  ) {
    super(
      [{ name: 'h1', endpoint: 'unix:///run/h1.sock', roles: ['compute'], up: true }],
      { ca: Buffer.alloc(0), cert: Buffer.alloc(0), key: Buffer.alloc(0) },
      2000,
    );
    this.identity = identity;
  }

  override client(): AgentClient {
    return this.agent.client();
  }

  override registryClient(): AgentClient {
    return this.agent.client();
  }
}

const veth = { subnet_id: 'subnet-1', host: 'h1', namespace: 'ns1' };

describe("vxcloud_nic's filter at validation", () => {
  it('accepts groups, virtual addresses, and port security off alone', () => {
    expect(validate(nic, { ...veth, security_group_ids: ['sg-a', 'sg-b'], allowed_addresses: ['198.18.1.100', '198.18.1.96/28'] })).toEqual([]);
    expect(validate(nic, { ...veth, port_security: false })).toEqual([]);
    expect(validate(nic, { ...veth, port_security: false, security_group_ids: [], allowed_addresses: [] })).toEqual([]);
  });

  it('refuses port security off with groups or allowed addresses, on the attribute the rule names', () => {
    const groups = validate(nic, { ...veth, port_security: false, security_group_ids: ['sg-a'] });
    expect(paths(groups)).toEqual([['port_security']]);
    expect(text(groups)).toMatch(/port security off leaves the port unfiltered, so security_group_ids would not apply/);
    const addresses = validate(nic, { ...veth, port_security: false, allowed_addresses: ['198.18.1.100'] });
    expect(paths(addresses)).toEqual([['allowed_addresses']]);
    expect(text(addresses)).toMatch(/with port security off the NIC may send from any address already/);
  });

  it('refuses bad addresses, bad or repeated group ids and too many groups', () => {
    const cases: [Record<string, Value>, string, RegExp][] = [
      [{ allowed_addresses: ['198.18.1'] }, 'allowed_addresses', /"198\.18\.1" is not an IPv4 address or CIDR/],
      [{ allowed_addresses: ['198.18.1.97/28'] }, 'allowed_addresses', /has host bits set: the network is 198\.18\.1\.96\/28/],
      [{ security_group_ids: ['sg a'] }, 'security_group_ids', /"sg a" is not a valid id/],
      [{ security_group_ids: ['sg-a', 'sg-a'] }, 'security_group_ids', /names a group twice/],
      [{ security_group_ids: Array.from({ length: 17 }, (_, i) => `sg-${i}`) }, 'security_group_ids', /17 groups: a NIC is in at most 16/],
    ];
    for (const [filter, attribute, message] of cases) {
      const ds = validate(nic, { ...veth, ...filter });
      expect(paths(ds), JSON.stringify(filter)).toEqual([[attribute]]);
      expect(text(ds)).toMatch(message);
    }
  });

  it('waits for unknown values, but knows that a list with unknown elements is not empty', () => {
    expect(validate(nic, { ...veth, port_security: unknown, security_group_ids: ['sg-a'], allowed_addresses: unknown })).toEqual([]);
    expect(validate(nic, { ...veth, security_group_ids: [unknown, unknown], allowed_addresses: [unknown] })).toEqual([]);
    expect(paths(validate(nic, { ...veth, port_security: false, security_group_ids: [unknown] }))).toEqual([['port_security']]);
    expect(paths(validate(nic, { ...veth, port_security: false, allowed_addresses: [unknown] }))).toEqual([['allowed_addresses']]);
  });
});

describe("vxcloud_nic's filter changes in place", () => {
  const prior = (): ValueRecord =>
    configOf(nic, {
      ...veth,
      id: 'nic-1',
      kind: 'veth',
      create_namespace: true,
      ifname: 'eth0',
      mac: '02:00:00:00:00:01',
      ip: '198.18.1.10/24',
      dhcp: false,
      security_group_ids: null,
      port_security: true,
      allowed_addresses: null,
      gateway: '198.18.1.1',
      mtu: 1450,
      host_ifname: 'nv-nic-1',
      status: 'ready',
    });

  it('plans groups, addresses and port security as an update, not a replacement', async () => {
    const fleet = new FakeFleet();
    const changes: Record<string, Value>[] = [{ security_group_ids: ['sg-a'] }, { allowed_addresses: ['198.18.1.100'] }, { port_security: false }];
    for (const change of changes) {
      const p = await plan(nic, fleet, prior(), { ...veth, ...change });
      expect(p.diagnostics).toEqual([]);
      expect(p.requiresReplace, JSON.stringify(change)).toEqual([]);
      expect(isUnknown(p.planned.status)).toBe(true);
    }
  });

  it('plans port_security true when it is unset, so that removing "false" turns it back on', async () => {
    const fleet = new FakeFleet();
    const created = await plan(nic, fleet, null, veth);
    expect(created.planned.port_security).toBe(true);
    const off = record(Object.entries({ ...prior(), port_security: false }));
    const back = await plan(nic, fleet, off, veth);
    expect(back.planned.port_security).toBe(true);
    expect(back.requiresReplace).toEqual([]);
    expect((await plan(nic, fleet, prior(), veth)).planned).toEqual(prior());
  });

  it('creates with the filter, and an update puts the NIC again with the new one', async () => {
    const fleet = new FakeFleet();
    fleet.agent.groups.set('sg-a', { spec: { id: 'sg-a', tenant: 'acme', name: 'a', description: '' }, memberNicIds: [], ruleIds: [], referencingRuleIds: [] });
    // Placement is the registry's: a NIC planned without one is created here straight from a plan.
    const planned = { ...configOf(nic, { ...veth, security_group_ids: [], allowed_addresses: ['198.18.1.100'] }), port_security: true };
    const state = await nic.create({ planned, config: planned }, ctx(fleet));
    expect(fleet.agent.puts[0]!.filter).toEqual({ securityGroupIds: [], portSecurityDisabled: false, allowedAddresses: ['198.18.1.100'] });
    // [] stays [] (and unset stays null): terraform compares state with the config it had.
    expect([state.security_group_ids, state.port_security, state.allowed_addresses]).toEqual([[], true, ['198.18.1.100']]);

    const next = { ...state, security_group_ids: ['sg-a'], allowed_addresses: null, status: unknown };
    const updated = await nic.update({ prior: state, planned: next, config: next }, ctx(fleet));
    expect(fleet.agent.puts[1]).toMatchObject({ id: state.id, mac: state.mac, ip: state.ip, filter: { securityGroupIds: ['sg-a'], allowedAddresses: [] } });
    expect([updated.security_group_ids, updated.allowed_addresses, updated.status]).toEqual([['sg-a'], null, 'ready']);
    expect(await nic.read(updated, ctx(fleet))).toEqual(updated);
  });

  it("names the attribute of an agent's refusal of an update", async () => {
    const fleet = new FakeFleet();
    const planned = { ...configOf(nic, veth), port_security: true };
    const state = await nic.create({ planned, config: planned }, ctx(fleet));
    const next = { ...state, port_security: false, allowed_addresses: ['198.18.1.100'] };
    const e = await failure(nic.update({ prior: state, planned: next, config: next }, ctx(fleet)));
    expect(paths(e.diagnostics)).toEqual([['port_security']]);
    expect(text(e.diagnostics)).toMatch(/^Updating the NIC failed on host h1: port security off/);
  });
});

describe('vxcloud_security_group', () => {
  it('refuses a name or description longer than the agent takes, on that attribute', () => {
    expect(validate(securityGroup, { name: 'web', description: 'HTTP in' })).toEqual([]);
    expect(paths(validate(securityGroup, { name: 'x'.repeat(256) }))).toEqual([['name']]);
    const long = validate(securityGroup, { name: 'web', description: 'x'.repeat(1025) });
    expect(paths(long)).toEqual([['description']]);
    expect(text(long)).toMatch(/is longer than 1024 characters/);
    expect(validate(securityGroup, { name: unknown, description: unknown })).toEqual([]);
  });

  it("defaults the tenant to the certificate's and refuses another tenant's; an operator may name any", async () => {
    const tenant = new FakeFleet(undefined, { kind: 'tenant', tenant: 'acme' });
    expect((await plan(securityGroup, tenant, null, { name: 'web' })).planned.tenant).toBe('acme');
    const other = await plan(securityGroup, tenant, null, { name: 'web', tenant: 'globex' });
    expect(paths(other.diagnostics)).toEqual([['tenant']]);
    expect(text(other.diagnostics)).toMatch(/certificate is tenant acme's: it may create security groups of tenant "acme" only, not "globex"/);

    const operator = new FakeFleet(undefined, { kind: 'operator' });
    expect((await plan(securityGroup, operator, null, { name: 'web', tenant: 'globex' })).diagnostics).toEqual([]);
  });

  it('replaces on a new tenant and renames in place', async () => {
    const fleet = new FakeFleet(undefined, { kind: 'tenant', tenant: 'acme' });
    const state = await apply(securityGroup, fleet, { name: 'web' });
    expect(state.id).toMatch(/^sg-[0-9a-f]{10}$/);
    expect(state).toMatchObject({ tenant: 'acme', name: 'web', description: null });
    const renamed = await plan(securityGroup, fleet, state, { name: 'www', description: 'HTTP' });
    expect(renamed.requiresReplace).toEqual([]);
    const updated = await securityGroup.update({ prior: state, planned: renamed.planned, config: renamed.planned }, ctx(fleet));
    expect(updated).toEqual({ ...state, name: 'www', description: 'HTTP' });
    const operator = new FakeFleet(fleet.agent, { kind: 'operator' });
    expect((await plan(securityGroup, operator, updated, { name: 'www', description: 'HTTP', tenant: 'globex' })).requiresReplace).toEqual([['tenant']]);
  });

  it("reads a deleted group as gone, and a refused delete says why in the agent's words", async () => {
    const fleet = new FakeFleet();
    const state = await apply(securityGroup, fleet, { name: 'web', tenant: 'acme', description: '' });
    const id = state.id as string;
    expect(state.description).toBe('');
    expect(await securityGroup.read(state, ctx(fleet))).toEqual(state);
    fleet.agent.group(id).memberNicIds.push('nic-1', 'nic-2');
    const e = await failure(securityGroup.delete(state, ctx(fleet)));
    expect(paths(e.diagnostics)).toEqual([['id']]);
    expect(text(e.diagnostics)).toBe(
      `Deleting the security group failed: security group "${id}" is in use by NICs nic-1, nic-2: take it out of their security_group_ids first`,
    );
    fleet.agent.group(id).memberNicIds.length = 0;
    await securityGroup.delete(state, ctx(fleet));
    expect(await securityGroup.read(state, ctx(fleet))).toBeNull();
    await expect(Promise.resolve(securityGroup.importState!(id, ctx(fleet)))).rejects.toThrow(/no security group with id/);
  });
});

describe('vxcloud_security_group_rule', () => {
  const tcp = { security_group_id: 'sg-a', direction: 'ingress', protocol: 'tcp' };

  it('replaces on any change: a rule never changes', () => {
    for (const [name, a] of Object.entries(securityGroupRule.schema.attributes)) expect(name === 'id' || a.requiresReplace === true, name).toBe(true);
  });

  it('accepts every port, a range, a CIDR, a remote group, or anywhere', () => {
    expect(validate(securityGroupRule, tcp)).toEqual([]);
    expect(validate(securityGroupRule, { ...tcp, port_min: 8000, port_max: 8080, cidr: '198.18.0.0/16' })).toEqual([]);
    expect(validate(securityGroupRule, { ...tcp, direction: 'egress', protocol: 'any', remote_group_id: 'sg-b' })).toEqual([]);
    expect(validate(securityGroupRule, { ...tcp, protocol: 'icmp', port_min: 0, port_max: 0, cidr: '0.0.0.0/0' })).toEqual([]);
  });

  it('refuses what the agent refuses, once, on the attribute it names', () => {
    const cases: [Record<string, Value>, string, RegExp][] = [
      [{ direction: 'inbound' }, 'direction', /"inbound" is not one of "ingress", "egress"/],
      [{ protocol: 'sctp' }, 'protocol', /"sctp" is not one of "tcp", "udp", "icmp", "any"/],
      [{ protocol: 'icmp', port_min: 8 }, 'port_min', /protocol icmp has no ports: leave port_min and port_max unset/],
      [{ protocol: 'any', port_max: 80 }, 'port_min', /protocol any has no ports/],
      [{ port_min: 70000, port_max: 80 }, 'port_min', /70000 is not a port: use 1\.\.65535/],
      [{ port_min: 22 }, 'port_max', /0 is not a port: use 1\.\.65535 \(both unset: every port\)/],
      [{ port_min: 90, port_max: 80 }, 'port_max', /80 is below port_min 90/],
      [{ port_min: 1.5, port_max: 2 }, 'port_min', /1\.5 is not a port/],
      [{ cidr: '198.18.1.1/16' }, 'cidr', /has host bits set: the network is 198\.18\.0\.0\/16/],
      [{ cidr: '198.18.0.0/16', remote_group_id: 'sg-b' }, 'remote_group_id', /either a cidr or a remote group, not both: remove one/],
      [{ remote_group_id: 'sg b' }, 'remote_group_id', /"sg b" is not a valid id/],
      [{ security_group_id: '' }, 'security_group_id', /"" is not a valid id/],
    ];
    for (const [change, attribute, message] of cases) {
      const ds = validate(securityGroupRule, { ...tcp, ...change });
      expect(paths(ds), JSON.stringify(change)).toEqual([[attribute]]);
      expect(text(ds)).toMatch(message);
    }
  });

  it('waits for unknown values', () => {
    expect(validate(securityGroupRule, { security_group_id: unknown, direction: unknown, protocol: unknown, port_min: 8, port_max: 9 })).toEqual([]);
    expect(validate(securityGroupRule, { ...tcp, port_min: 22, port_max: unknown })).toEqual([]);
    expect(validate(securityGroupRule, { ...tcp, cidr: unknown, remote_group_id: 'sg-b' })).toEqual([]);
    expect(validate(securityGroupRule, { ...tcp, cidr: '198.18.0.0/16', remote_group_id: unknown })).toEqual([]);
  });

  it('plans a rule of a group the registry lacks as an error on that attribute', async () => {
    const fleet = new FakeFleet(undefined, { kind: 'tenant', tenant: 'acme' });
    const sg = (id: string, tenant: string): SecurityGroup => ({
      spec: { id, tenant, name: id, description: '' },
      memberNicIds: [],
      ruleIds: [],
      referencingRuleIds: [],
    });
    fleet.agent.groups.set('sg-a', sg('sg-a', 'acme'));
    fleet.agent.groups.set('sg-x', sg('sg-x', 'globex'));
    expect((await plan(securityGroupRule, fleet, null, { ...tcp, remote_group_id: 'sg-a' })).diagnostics).toEqual([]);
    expect((await plan(securityGroupRule, fleet, null, { ...tcp, security_group_id: unknown, remote_group_id: unknown })).diagnostics).toEqual([]);
    const missing = await plan(securityGroupRule, fleet, null, { ...tcp, security_group_id: 'sg-z' });
    expect(paths(missing.diagnostics)).toEqual([['security_group_id']]);
    expect(text(missing.diagnostics)).toMatch(/no security group "sg-z" of tenant acme: create it first/);
    const remote = await plan(securityGroupRule, fleet, null, { ...tcp, remote_group_id: 'sg-x' });
    expect(paths(remote.diagnostics)).toEqual([['remote_group_id']]);
    expect(text(remote.diagnostics)).toMatch(/"sg-x" is tenant globex's, and the rule's group "sg-a" is acme's/);
  });

  it('creates, reads and deletes, keeping unset attributes unset', async () => {
    const fleet = new FakeFleet();
    fleet.agent.groups.set('sg-a', { spec: { id: 'sg-a', tenant: 'acme', name: 'a', description: '' }, memberNicIds: [], ruleIds: [], referencingRuleIds: [] });
    const state = await apply(securityGroupRule, fleet, { ...tcp, port_min: 443, port_max: 443 });
    expect(state.id).toMatch(/^sgr-[0-9a-f]{10}$/);
    expect(state).toMatchObject({ cidr: null, remote_group_id: null, description: null });
    expect(fleet.agent.rules.get(state.id as string)!.spec).toMatchObject({ portMin: 443, portMax: 443, cidr: '', remoteGroupId: '' });
    const zeros = await apply(securityGroupRule, fleet, { ...tcp, port_min: 0, port_max: 0, cidr: '0.0.0.0/0', description: '' });
    expect(await securityGroupRule.read(zeros, ctx(fleet))).toEqual(zeros);
    await securityGroupRule.delete(state, ctx(fleet));
    expect(await securityGroupRule.read(state, ctx(fleet))).toBeNull();
    expect(await securityGroupRule.importState!(zeros.id as string, ctx(fleet))).toEqual({ id: zeros.id });
  });
});
