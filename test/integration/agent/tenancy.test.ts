// Who may do what, through the agent API: two tenants, an operator, a host's agent, a client of
// another CA and a client of the deployment CA whose certificate says nobody. Tenant t1 owns a
// VPC, subnet, NIC, router and NAT rule; every call of every caller is made and its outcome
// compared with the policy. The table this test prints is the one the tenancy issue asks for.

import { type ServiceError, status as Status } from '@grpc/grpc-js';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NicKind, NicSpec } from '../../../gen/vxcloud/agent/v1/network.js';
import { NatProtocol, NatType } from '../../../gen/vxcloud/agent/v1/router.js';
import { AgentClient, readTls, type TlsMaterial } from '../../../lib/agent-client.js';
import { createCa, issue, readPair } from '../../../lib/certs.js';
import { RaftPeerClient } from '../../../agent/sbs/volume/client.js';
import { startRegistryLab } from '../../harness/registry.js';
import { linkOutcome } from '../sbs/harness.js';
import type { TestLab } from '../../harness/lab.js';

let lab: TestLab;
const clients = new Map<string, AgentClient>();
const rafts = new Map<string, RaftPeerClient>();
const CALLERS = ['t1', 't2', 'operator', 'host', 'foreign CA', 'no identity'] as const;
type Caller = (typeof CALLERS)[number];

const h1 = (): string => lab.lab.hosts[0]!.endpoint;
const h2 = (): string => lab.lab.hosts[1]!.endpoint;

async function material(caller: Caller): Promise<TlsMaterial> {
  const base = await readTls(lab.lab.tls);
  const pki = join(lab.lab.dir, 'pki');
  if (caller === 'operator') return base;
  if (caller === 't1' || caller === 't2') {
    const p = lab.lab.tenants![caller]!;
    return { ca: base.ca, cert: await readFile(p.cert), key: await readFile(p.key) };
  }
  if (caller === 'host')
    return { ca: base.ca, cert: await readFile(join(lab.lab.dir, 'h1', 'agent.pem')), key: await readFile(join(lab.lab.dir, 'h1', 'agent-key.pem')) };
  const pair =
    caller === 'foreign CA'
      ? await issue(await createCa('rogue'), { commonName: 'mallory', role: 'client', identity: { kind: 'operator' } })
      : await issue(await readPair(join(pki, 'ca.pem'), join(pki, 'ca-key.pem')), { commonName: 'nobody', role: 'client' });
  return { ca: base.ca, cert: Buffer.from(pair.cert), key: Buffer.from(pair.key) };
}

/** 'ok', or the gRPC status name of the refusal. */
async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return Status[(e as ServiceError).code] ?? String(e);
  }
}

/** Sends raft messages for a volume h2 does not hold on its raft link, as a storage host's agent would. */
async function step(c: Caller): Promise<string> {
  const o = await linkOutcome(lab.lab, 'h2', await material(c), { kind: 'step', volumeId: 'nope', parts: [] });
  return { open: 'ok', closed: D }[o] ?? o;
}

const nic = (id: string, subnetId: string): NicSpec => NicSpec.fromPartial({ id, subnetId, kind: NicKind.NIC_KIND_TAP });

/** Each operation, as any caller makes it; t1 owns v1, s1, n1, r1, nat1 (made in beforeAll). */
const OPS: Record<string, (c: AgentClient) => Promise<unknown>> = {
  'GetVpc v1': (c) => c.network.getVpc({ id: 'v1' }),
  'PutVpc v1 (rename)': (c) => c.network.putVpc({ vpc: { id: 'v1', name: 'renamed', tenant: 't1', cidr: '198.18.0.0/16' } }),
  'PutSubnet into v1': (c) => c.network.putSubnet({ subnet: { id: 'sx', vpcId: 'v1', name: '', cidr: '198.18.9.0/24', vni: 0, vlan: 0, gateway: '' } }),
  'GetSubnet s1': (c) => c.network.getSubnet({ id: 's1' }),
  'PutNic into s1': (c) => c.network.putNic({ nic: nic('nx', 's1') }),
  'GetNic n1': (c) => c.network.getNic({ id: 'n1' }),
  'PutRouter on s1': (c) =>
    c.router.putRouter({
      router: {
        id: 'rx',
        vpcId: 'v1',
        name: '',
        subnetIds: ['s1'],
        externalNetwork: '',
        externalIp: '',
        snat: false,
        dhcpDisabledSubnetIds: [],
        reservations: [],
        dhcpLeaseSeconds: 0,
      },
    }),
  'GetRouter r1': (c) => c.router.getRouter({ id: 'r1' }),
  'PutNatRule on r1': (c) =>
    c.router.putNatRule({
      rule: {
        id: 'natx',
        routerId: 'r1',
        type: NatType.NAT_TYPE_DNAT,
        protocol: NatProtocol.NAT_PROTOCOL_TCP,
        externalIp: '203.0.113.10',
        externalPort: 2222,
        internalIp: '198.18.1.2',
        internalPort: 22,
      },
    }),
  'GetNatRule nat1': (c) => c.router.getNatRule({ id: 'nat1' }),
  'DeleteNic n1': (c) => c.network.deleteNic({ id: 'n1' }),
  'DeleteNatRule nat1': (c) => c.router.deleteNatRule({ id: 'nat1' }),
  GetHost: (c) => c.host.getHost({}),
  ListHosts: (c) => c.host.listHosts({ role: '' }),
  'LookupObject v1': (c) => c.host.lookupObject({ id: 'v1' }),
  'PutVtepTable s1': (c) => c.network.putVtepTable({ table: { subnetId: 's1', floodVteps: [], fdb: [], neighbors: [] } }),
  ListVolumes: (c) => c.volume.listVolumes({}),
};

beforeAll(async () => {
  // h1: compute; h2: compute, route (internet) and storage.
  lab = await startRegistryLab({
    hosts: 2,
    leaseSeconds: 10,
    internet: true,
    roles: (i) => (i === 2 ? ['compute', 'route', 'storage'] : ['compute']),
    reconcileIntervalSeconds: 3600,
  });
  for (const c of CALLERS) {
    const tls = await material(c);
    clients.set(c, new AgentClient(h2(), tls));
    rafts.set(c, new RaftPeerClient(h2(), tls));
  }
  const t1 = clients.get('t1')!;
  await t1.network.putVpc({ vpc: { id: 'v1', name: 'v1', tenant: '', cidr: '198.18.0.0/16' } });
  await t1.network.putSubnet({ subnet: { id: 's1', vpcId: 'v1', name: '', cidr: '198.18.1.0/24', vni: 0, vlan: 0, gateway: '' } });
  await t1.network.putNic({ nic: nic('n1', 's1') });
  await t1.router.putRouter({
    router: {
      id: 'r1',
      vpcId: 'v1',
      name: '',
      subnetIds: ['s1'],
      externalNetwork: 'internet',
      externalIp: '203.0.113.10',
      snat: false,
      dhcpDisabledSubnetIds: [],
      reservations: [],
      dhcpLeaseSeconds: 0,
    },
  });
  await t1.router.putNatRule({
    rule: {
      id: 'nat1',
      routerId: 'r1',
      type: NatType.NAT_TYPE_DNAT,
      protocol: NatProtocol.NAT_PROTOCOL_TCP,
      externalIp: '203.0.113.10',
      externalPort: 8080,
      internalIp: '198.18.1.2',
      internalPort: 80,
    },
  });
  // t2 has objects of its own, with the same CIDR.
  const t2 = clients.get('t2')!;
  await t2.network.putVpc({ vpc: { id: 'v2', name: 'v2', tenant: '', cidr: '198.18.0.0/16' } });
  await t2.network.putSubnet({ subnet: { id: 's2', vpcId: 'v2', name: '', cidr: '198.18.1.0/24', vni: 0, vlan: 0, gateway: '' } });
});
afterAll(async () => {
  for (const c of clients.values()) c.close();
  for (const c of rafts.values()) c.close();
  await lab?.down();
});

const D = 'PERMISSION_DENIED';
const U = 'UNAVAILABLE'; // a foreign CA never gets past the TLS handshake
/** The policy, per operation: t1 (owner), t2, operator, host, foreign CA, no identity. */
const POLICY: Record<string, string[]> = {
  'GetVpc v1': ['ok', D, 'ok', D, U, D],
  'PutVpc v1 (rename)': ['ok', D, 'ok', D, U, D],
  'PutSubnet into v1': ['ok', D, 'ok', D, U, D],
  'GetSubnet s1': ['ok', D, 'ok', D, U, D],
  'PutNic into s1': ['ok', D, 'ok', D, U, D],
  'GetNic n1': ['ok', D, 'ok', D, U, D],
  'PutRouter on s1': [/* s1 has r1's leg */ 'ALREADY_EXISTS', D, 'ALREADY_EXISTS', D, U, D],
  'GetRouter r1': ['ok', D, 'ok', D, U, D],
  'PutNatRule on r1': ['ok', D, 'ok', D, U, D],
  'GetNatRule nat1': ['ok', D, 'ok', D, U, D],
  GetHost: ['ok', 'ok', 'ok', 'ok', U, D],
  ListHosts: ['ok', 'ok', 'ok', 'ok', U, D],
  'LookupObject v1': ['ok', D, 'ok', D, U, D],
  'PutVtepTable s1': [D, D, 'FAILED_PRECONDITION' /* the registry plane fills tables */, D, U, D],
  ListVolumes: ['ok', 'ok', 'ok', D, U, D], // each sees its own volumes (none here)
  'raft LinkAddress': [D, D, D, 'ok', U, D],
  'raft link': [D, D, D, 'ok', D /* closed either way: see linkOutcome */, D],
};

describe('tenancy: every call authorized by who the caller is', () => {
  it('observes the policy for every caller and call; deletes by others change nothing', async () => {
    const seen: Record<string, string[]> = {};
    // Deletes last, and the owner's last of all, so that the objects are there for every other call.
    const order = [...CALLERS.filter((c) => c !== 't1' && c !== 'operator'), 'operator', 't1'] as Caller[];
    for (const [name, op] of Object.entries(OPS).filter(([n]) => !n.startsWith('Delete'))) {
      seen[name] = await Promise.all(CALLERS.map((c) => outcome(op(clients.get(c)!))));
    }
    seen['raft LinkAddress'] = await Promise.all(CALLERS.map((c) => outcome(rafts.get(c)!.raft.linkAddress({}))));
    seen['raft link'] = await Promise.all(CALLERS.map(step));
    const deletes: Record<string, Record<string, string>> = {};
    for (const c of order) {
      for (const [name, op] of Object.entries(OPS).filter(([n]) => n.startsWith('Delete'))) {
        (deletes[name] ??= {})[c] = await outcome(op(clients.get(c)!));
      }
    }
    for (const [name, byCaller] of Object.entries(deletes)) seen[name] = CALLERS.map((c) => byCaller[c]!);
    const table = [
      '| call | ' + CALLERS.join(' | ') + ' |',
      '| --- |' + CALLERS.map(() => ' --- |').join(''),
      ...Object.entries(seen).map(([n, row]) => `| ${n} | ${row.join(' | ')} |`),
    ];
    console.log(`tenancy matrix (h2):\n${table.join('\n')}`);
    expect(seen).toEqual({
      ...POLICY,
      // The operator deletes before the owner: the owner then finds them gone (deletes are idempotent).
      // Own, already gone: the registry's tombstone still says it was t1's.
      'DeleteNic n1': ['ok', D, 'ok', D, U, D],
      'DeleteNatRule nat1': ['ok', D, 'ok', D, U, D],
    });
  });

  it("a tenant's refusal reads the same for another tenant's object and for one nobody has", async () => {
    const t2 = clients.get('t2')!;
    const msg = async (id: string): Promise<string> =>
      ((await t2.network.getSubnet({ id }).catch((e: unknown) => e)) as ServiceError).details.replace(id, 'ID');
    expect(await msg('s1')).toBe(await msg('no-such-subnet'));
    expect(await msg('s1')).toBe('id: subnet "ID" is not an object of tenant t2');
  });

  it("a tenant cannot take another tenant's id, nor attach to another tenant's subnet", async () => {
    const t2 = clients.get('t2')!;
    const code = async (p: Promise<unknown>): Promise<string> => outcome(p);
    expect(await code(t2.network.putNic({ nic: nic('n1', 's2') }))).toBe(D);
    expect(await code(t2.network.putSubnet({ subnet: { id: 's1', vpcId: 'v2', name: '', cidr: '198.18.2.0/24', vni: 0, vlan: 0, gateway: '' } }))).toBe(D);
    expect(await code(t2.network.putVpc({ vpc: { id: 'v9', name: '', tenant: 't1', cidr: '198.18.0.0/16' } }))).toBe(D);
    // On a host that does not hold t1's subnet, the registry refuses it all the same.
    const t2h1 = new AgentClient(h1(), await material('t2'));
    try {
      await t2h1.network.putVpc({ vpc: { id: 'v2', name: 'v2', tenant: '', cidr: '198.18.0.0/16' } });
      expect(await code(t2h1.network.putSubnet({ subnet: { id: 's1', vpcId: 'v2', name: '', cidr: '198.18.1.0/24', vni: 0, vlan: 0, gateway: '' } }))).toBe(D);
    } finally {
      t2h1.close();
    }
  });

  it('lists show a tenant its own objects only', async () => {
    const ids = async (c: Caller): Promise<string[]> => (await clients.get(c)!.network.listSubnets({ parentId: '' })).subnets.map((s) => s.spec!.id).sort();
    expect(await ids('t1')).toEqual(['s1', 'sx']);
    expect(await ids('t2')).toEqual(['s2']);
    expect(await ids('operator')).toEqual(['s1', 's2', 'sx']);
  });

  it('writes an audit line for every change: who, what, which object, result, how long', async () => {
    const log = await readFile(lab.lab.hosts[1]!.logFile, 'utf8');
    const lines = log
      .split('\n')
      .filter((l) => l.includes('"audit"'))
      .map((l) => (JSON.parse(l) as { audit: Record<string, string | number> }).audit);
    for (const a of lines) expect(a.ms).toBeTypeOf('number');
    const audits = lines.map(({ ms: _, ...rest }) => rest);
    expect(audits).toContainEqual({ who: 'tenant t1', rpc: 'PutVpc', object: 'v1', result: 'ok' });
    expect(audits).toContainEqual({ who: 'tenant t2', rpc: 'DeleteNic', object: 'n1', result: D });
    expect(audits).toContainEqual({ who: 'host h1', rpc: 'PutVpc', object: 'v1', result: D });
  });
});
