// Security groups in the registry: membership moves with a NIC's claim, a group in use cannot be
// deleted (even by a delete racing a join), rules are immutable and stay within one tenant.

import { describe, expect, it } from 'vitest';
import { claimNic, joinSubnet, joinVpc, releaseNic } from '../../../agent/registry/claims.js';
import { keys, parseObject, type SecurityGroupObject } from '../../../agent/registry/model.js';
import { deleteGroup, deleteRule, putGroup, putRule, type RuleSpec } from '../../../agent/registry/security-groups.js';
import { optimistic, type Txn } from '../../../agent/registry/txn.js';
import { MemoryBackend } from './memory-backend.js';
import { refused } from './refused.js';

const k = keys('/vx/');

function setup() {
  const b = new MemoryBackend();
  const run = <T>(fn: (tx: Txn) => Promise<T>): Promise<T> => optimistic(b, fn);
  const group = (id: string): SecurityGroupObject => parseObject(b.kv.get(k.object(id))!.value) as SecurityGroupObject;
  return { b, run, group };
}

const rule = (id: string, over: Partial<RuleSpec> = {}): RuleSpec => ({
  id,
  group: 'web',
  direction: 'ingress',
  protocol: 'tcp',
  portMin: 80,
  portMax: 80,
  cidr: '',
  remote: '',
  description: '',
  ...over,
});

async function tenantWithSubnet(run: ReturnType<typeof setup>['run'], tenant = 'a', suffix = '') {
  await run((tx) => joinVpc(tx, k, { id: `v${suffix}`, tenant, name: 'v', cidr: '198.18.0.0/16' }, 'h1'));
  await run((tx) => joinSubnet(tx, k, { id: `s${suffix}`, vpc_id: `v${suffix}`, cidr: '198.18.1.0/24', gateway: '', vni: 0 }, 'h1'));
}

describe('security groups in the registry', () => {
  it('records members as NICs join and leave, and refuses deleting a group in use, naming the NICs', async () => {
    const { run, group } = setup();
    await tenantWithSubnet(run);
    await run((tx) => putGroup(tx, k, { id: 'web', tenant: 'a', name: 'web', description: '' }));
    await run((tx) => claimNic(tx, k, { id: 'n1', subnet_id: 's', mac: '', ip: '', security_group_ids: ['web'] }, 'h1', true));
    expect(group('web').members).toEqual(['n1']);
    const e = await refused(run((tx) => deleteGroup(tx, k, 'web')));
    expect(e.code).toBe('FAILED_PRECONDITION');
    expect(e.message).toMatch(/in use by NICs n1/);
    // A Put of the same NIC with no groups moves it to the default group.
    await run((tx) => claimNic(tx, k, { id: 'n1', subnet_id: 's', mac: '', ip: '', security_group_ids: [] }, 'h1', true));
    expect(group('web').members).toEqual([]);
    await run((tx) => claimNic(tx, k, { id: 'n1', subnet_id: 's', mac: '', ip: '', security_group_ids: ['web'] }, 'h1', true));
    await run((tx) => releaseNic(tx, k, 'n1', 'h1'));
    expect(group('web').members).toEqual([]);
    expect(await run((tx) => deleteGroup(tx, k, 'web'))).toBe(true);
  });

  it('never leaves a member in a deleted group when the delete races the join', async () => {
    for (let i = 0; i < 10; i++) {
      const { run, b } = setup();
      await tenantWithSubnet(run);
      await run((tx) => putGroup(tx, k, { id: 'web', tenant: 'a', name: 'web', description: '' }));
      const [join, del] = await Promise.allSettled([
        run((tx) => claimNic(tx, k, { id: 'n1', subnet_id: 's', mac: '', ip: '', security_group_ids: ['web'] }, 'h1', true)),
        run((tx) => deleteGroup(tx, k, 'web')),
      ]);
      // Exactly one wins: the NIC joined (and the delete was refused) or the group went (and the join was refused).
      expect([join.status, del.status].sort()).toEqual(['fulfilled', 'rejected']);
      const groupLeft = b.kv.has(k.object('web'));
      expect(groupLeft).toBe(join.status === 'fulfilled');
    }
  });

  it("refuses another tenant's group, for a NIC and as a rule's remote group, in the same words as a missing one", async () => {
    const { run } = setup();
    await tenantWithSubnet(run, 'a');
    await run((tx) => putGroup(tx, k, { id: 'web', tenant: 'a', name: 'web', description: '' }));
    await run((tx) => putGroup(tx, k, { id: 'theirs', tenant: 'b', name: 'x', description: '' }));
    const nic = await refused(run((tx) => claimNic(tx, k, { id: 'n1', subnet_id: 's', mac: '', ip: '', security_group_ids: ['theirs'] }, 'h1', true, 'a')));
    expect(nic.field).toBe('security_group_ids');
    const missing = await refused(run((tx) => claimNic(tx, k, { id: 'n1', subnet_id: 's', mac: '', ip: '', security_group_ids: ['nope'] }, 'h1', true, 'a')));
    expect(missing.message.replace('nope', 'theirs')).toBe(nic.message);
    const remote = await refused(run((tx) => putRule(tx, k, rule('r1', { remote: 'theirs' }), 'a')));
    expect(remote.field).toBe('remote_group_id');
    const put = await refused(run((tx) => putRule(tx, k, rule('r2', { group: 'theirs' }), 'a')));
    expect(put.field).toBe('security_group_id');
  });

  it('keeps rules immutable, links remote groups both ways, and deletes a group with its own rules', async () => {
    const { run, group, b } = setup();
    await run((tx) => putGroup(tx, k, { id: 'web', tenant: 'a', name: 'web', description: '' }));
    await run((tx) => putGroup(tx, k, { id: 'db', tenant: 'a', name: 'db', description: '' }));
    await run((tx) => putRule(tx, k, rule('r1', { group: 'db', remote: 'web', portMin: 5432, portMax: 5432 })));
    await run((tx) => putRule(tx, k, rule('r1', { group: 'db', remote: 'web', portMin: 5432, portMax: 5432 }))); // a retry
    expect(group('db').rules).toEqual(['r1']);
    expect(group('web').refs).toEqual(['r1']);
    const changed = await refused(run((tx) => putRule(tx, k, rule('r1', { group: 'db', remote: 'web', portMin: 5433, portMax: 5433 }))));
    expect(changed.message).toMatch(/never changes/);
    const inUse = await refused(run((tx) => deleteGroup(tx, k, 'web')));
    expect(inUse.message).toMatch(/remote group of rules r1/);
    expect(await run((tx) => deleteGroup(tx, k, 'db'))).toBe(true);
    expect(b.kv.has(k.object('r1'))).toBe(false);
    expect(group('web').refs).toEqual([]);
    expect(await run((tx) => deleteRule(tx, k, 'r1'))).toBe(false);
    expect(await run((tx) => deleteGroup(tx, k, 'web'))).toBe(true);
  });
});
