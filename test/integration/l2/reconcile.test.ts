// Drift made by hand: Get reports what the kernel has, the periodic reconciler restores it within
// a bound, and a Put repairs it at once.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../../lab/lab.js';
import { NicKind } from '../../../gen/vxcloud/agent/v1/network.js';
import { startLab, type TestLab } from '../../harness/lab.js';

const subnet = { id: 's1', vpcId: 'v1', name: 's1', cidr: '198.18.4.0/24', vni: 4001, vlan: 0, gateway: '' };

async function build(t: TestLab): Promise<void> {
  const c = t.client('h1').network;
  await c.putVpc({ vpc: { id: 'v1', name: 'v1', tenant: 't', cidr: '198.18.0.0/16' } });
  await c.putSubnet({ subnet });
  await c.putNic({
    nic: {
      id: 'n1',
      subnetId: 's1',
      kind: NicKind.NIC_KIND_VETH,
      mac: '02:00:c6:12:04:0a',
      ip: '198.18.4.10/24',
      namespace: `${t.lab.name}-n1`,
      createNamespace: true,
      ifname: 'eth0',
      dhcp: false,
      filter: undefined,
    },
  });
}

describe('periodic reconcile (1 s)', () => {
  let t: TestLab;
  beforeAll(async () => {
    t = await startLab({ hosts: 1, reconcileIntervalSeconds: 1 });
    await build(t);
  });
  afterAll(async () => {
    await t?.down();
  });

  // The bound is ten reconcile periods: generous for a loaded CI machine, yet a reconciler that
  // does not run periodically can never meet it.
  it('a bridge deleted by hand is back, with its ports, within 10 reconcile periods', async () => {
    const ns = t.lab.hosts[0]!.namespace;
    await t.exec(ns, ['ip', 'link', 'del', 'vxbr4001']);
    await waitFor('the subnet to be ready again', 10_000, async () => (await t.client('h1').network.getSubnet({ id: 's1' })).status!.ready);
    const ports = (JSON.parse((await t.exec(ns, ['ip', '-j', 'link', 'show', 'master', 'vxbr4001'])).stdout) as { ifname: string }[]).map((p) => p.ifname);
    expect(ports).toHaveLength(2);
    expect(ports).toContain('vxlan4001');
    expect(ports.filter((p) => /^vxn[0-9a-f]{10}$/.test(p))).toHaveLength(1);
    expect((await t.client('h1').network.getNic({ id: 'n1' })).status!.ready).toBe(true);
  });
});

describe('drift seen by Get and repaired by Put (reconcile every hour)', () => {
  let t: TestLab;
  beforeAll(async () => {
    t = await startLab({ hosts: 1, reconcileIntervalSeconds: 3600 });
    await build(t);
  });
  afterAll(async () => {
    await t?.down();
  });

  it('a vxlan device deleted by hand shows as a problem, and Put brings it back', async () => {
    await t.exec(t.lab.hosts[0]!.namespace, ['ip', 'link', 'del', 'vxlan4001']);
    const drifted = await t.client('h1').network.getSubnet({ id: 's1' });
    expect(drifted.status!.ready).toBe(false);
    expect(drifted.status!.problems.join()).toContain('vxlan vxlan4001 is missing');
    const repaired = await t.client('h1').network.putSubnet({ subnet });
    expect(repaired.status).toMatchObject({ ready: true, problems: [] });
  });

  it('a NIC whose address was removed by hand reports it', async () => {
    await t.exec(`${t.lab.name}-n1`, ['ip', 'addr', 'flush', 'dev', 'eth0']);
    const nic = await t.client('h1').network.getNic({ id: 'n1' });
    expect(nic.status!.problems.join()).toContain('lacks address 198.18.4.10/24');
  });
});
