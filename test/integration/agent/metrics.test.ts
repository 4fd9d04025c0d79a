// Prometheus metrics of a lab agent: scraped over mutual TLS with the operator's certificate (a
// tenant's is refused), they count the objects the host holds, time every API call by method and
// status, and count reconcile passes; `vxctl metrics` prints the same scrape.

import { afterAll, beforeAll, expect, it } from 'vitest';
import { NicKind } from '../../../gen/vxcloud/agent/v1/network.js';
import { waitFor } from '../../../lab/lab.js';
import { labFilePath } from '../../../lab/labfile.js';
import { readTls } from '../../../lib/agent-client.js';
import { run, startLab, type TestLab } from '../../harness/lab.js';
import { metric, parseMetrics, scrape } from '../../harness/metrics.js';

let t: TestLab;

beforeAll(async () => {
  t = await startLab({ hosts: 1, reconcileIntervalSeconds: 1 });
  const c = t.client('h1').network;
  await c.putVpc({ vpc: { id: 'v1', name: 'v1', tenant: 't1', cidr: '198.18.0.0/16' } });
  await c.putSubnet({ subnet: { id: 's1', vpcId: 'v1', name: 's1', cidr: '198.18.4.0/24', vni: 4001, vlan: 0, gateway: '' } });
  const nic = {
    subnetId: 's1',
    kind: NicKind.NIC_KIND_VETH,
    namespace: `${t.lab.name}-n1`,
    createNamespace: true,
    ifname: 'eth0',
    dhcp: false,
    filter: undefined,
  };
  await c.putNic({ nic: { ...nic, id: 'n1', mac: '02:00:c6:12:04:0a', ip: '198.18.4.10/24' } });
  // Outside the subnet: refused, and counted as such.
  await expect(c.putNic({ nic: { ...nic, id: 'n2', mac: '02:00:c6:12:04:0b', ip: '198.18.9.10/24' } })).rejects.toThrow(/ip/);
});
afterAll(async () => {
  await t?.down();
});

it('counts the objects the host holds, by kind', async () => {
  const { status, samples } = await scrape(t, 'h1');
  expect(status).toBe(200);
  expect(metric(samples, 'vxcloud_objects', { host: 'h1', kind: 'vpc' })).toBe(1);
  expect(metric(samples, 'vxcloud_objects', { kind: 'subnet' })).toBe(1);
  expect(metric(samples, 'vxcloud_objects', { kind: 'nic' })).toBe(1);
  expect(metric(samples, 'vxcloud_objects', { kind: 'router' })).toBe(0);
});

it('times every API call by method and status code', async () => {
  const { samples } = await scrape(t, 'h1');
  const count = (method: string, code: string) => metric(samples, 'vxcloud_rpc_duration_seconds_count', { method, code });
  expect(count('NetworkService/PutVpc', 'OK')).toBe(1);
  expect(count('NetworkService/PutNic', 'OK')).toBe(1);
  expect(count('NetworkService/PutNic', 'INVALID_ARGUMENT')).toBe(1);
  expect(metric(samples, 'vxcloud_rpc_duration_seconds_sum', { method: 'NetworkService/PutNic', code: 'OK' })).toBeGreaterThan(0);
});

it('counts reconcile passes, converged or not', async () => {
  const before = metric((await scrape(t, 'h1')).samples, 'vxcloud_reconcile_runs_total', { result: 'converged' }) ?? 0;
  // Passes run every second here.
  await waitFor('two more reconcile passes', 10_000, async () => {
    const now = metric((await scrape(t, 'h1')).samples, 'vxcloud_reconcile_runs_total', { result: 'converged' }) ?? 0;
    return now >= before + 2;
  });
  const { samples } = await scrape(t, 'h1');
  expect(metric(samples, 'vxcloud_reconcile_runs_total', { result: 'error' }) ?? 0).toBe(0);
  expect(metric(samples, 'vxcloud_reconcile_duration_seconds_count')).toBeGreaterThanOrEqual(before + 2);
});

it("refuses a tenant's certificate: metrics name every tenant's objects", async () => {
  const tenant = t.lab.tenants!['t1']!;
  const r = await scrape(t, 'h1', await readTls({ ca: t.lab.tls.ca, ...tenant }));
  expect(r.status).toBe(403);
  expect(r.body).toMatch(/tenant t1 may not read metrics: use an operator's certificate/);
});

it('vxctl metrics prints the scrape of each lab host', async () => {
  const { stdout } = await run(process.execPath, ['dist/vxctl/main.js', 'metrics', '--lab-file', labFilePath(t.lab.dir)], { timeout: 20_000 });
  expect(metric(parseMetrics(stdout), 'vxcloud_objects', { host: 'h1', kind: 'nic' })).toBe(1);
  expect(stdout).toMatch(/^# HELP vxcloud_rpc_duration_seconds /m);
});
