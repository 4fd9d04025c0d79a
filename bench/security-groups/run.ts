// Security groups: what filtering costs and how fast changes take effect, in a two-host registry lab.
//
// 1. Throughput: iperf3 TCP from a NIC on h1 to a NIC on h2 whose group has 1,000 ingress rules
//    (the one admitting iperf3 last), vs the same two NICs with port security off (no filtering),
//    interleaved, medians and their ratio.
// 2. Rule change → effect: a watcher in the client NIC connects to the server NIC again and again
//    (a refused SYN waits TIMEOUT ms, the resolution of the figure); the time from a Put/Delete of
//    the rule admitting it returning to the watcher seeing the port open/closed, p50/p99. The rule
//    is one of the 1,000 of the group, so each change rewrites a 1,000-rule chain.
// 3. Membership → effect: a third NIC on h1 joins/leaves a group that a rule on h2 names as its
//    remote group; the time from its PutNic returning to the watcher seeing the port open/closed.
// 4. Programming: 200 NICs on one host moved, by PutNic, into a group of 50 rules, vs the same 200
//    PutNic calls turning port security off (no firewall work), seconds and ratio; and one nft
//    transaction loading the host's whole table into an empty namespace.
//
// Run (as root; `npm run build` first):
//   npx tsc -p bench/security-groups/tsconfig.json && node bench/security-groups/.build/bench/security-groups/run.js [reps=3] [seconds=5] [changes=30] [nics=200]

import os from 'node:os';
import { writeFile, rm } from 'node:fs/promises';
import { NicKind, NicSpec, type NicFilter } from '../../gen/vxcloud/agent/v1/network.js';
import { iperf } from '../common/iperf.js';
import { ROOT, withLab } from '../common/lab.js';
import { pool } from '../common/pool.js';
import { median, percentile, samples } from '../common/stats.js';
import { ruleSpec } from '../../test/harness/security-groups.js';

const reps = Number(process.argv[2] ?? 3);
const seconds = Number(process.argv[3] ?? 5);
const changes = Number(process.argv[4] ?? 30);
const manyNics = Number(process.argv[5] ?? 200);
const RULES = 1000;
const WATCH_TIMEOUT_MS = 20;
const PROBE = `${ROOT}/test/harness/netprobe.py`;
const TENANT = 'bench';

await withLab('s', { hosts: 2, registry: { leaseSeconds: 5 }, reconcileIntervalSeconds: 3600 }, async (b) => {
  console.log(
    `security-groups bench: ${RULES} rules, iperf3 ${seconds} s x ${reps} per side, ${changes} changes, ${manyNics} NICs; kernel ${os.release()}, ${os.cpus().length} CPUs, load ${os.loadavg()[0]!.toFixed(1)}`,
  );
  const sg = b.client('h1').securityGroups;
  const nicNs = (id: string): string => `${b.lab.name}-${id}`;
  const putNic = (id: string, host: string, ip: string, filter: Partial<NicFilter>) =>
    b.client(host).network.putNic({
      nic: NicSpec.fromPartial({
        id,
        subnetId: 'web',
        kind: NicKind.NIC_KIND_VETH,
        ip,
        namespace: nicNs(id),
        createNamespace: true,
        ifname: 'eth0',
        filter: { securityGroupIds: [], portSecurityDisabled: false, allowedAddresses: [], ...filter },
      }),
    });
  const rule = (id: string, group: string, protocol: string, port: number, peer: { cidr?: string; remote?: string }) =>
    sg.putSecurityGroupRule({ rule: ruleSpec(id, group, 'ingress', protocol, { port, ...peer }) });

  for (const h of ['h1', 'h2']) {
    await b.client(h).network.putVpc({ vpc: { id: 'v', name: 'v', tenant: TENANT, cidr: '198.18.0.0/16' } });
    await b.client(h).network.putSubnet({ subnet: { id: 'web', vpcId: 'v', name: 'web', cidr: '198.18.0.0/16', vni: 0, vlan: 0, gateway: '' } });
  }
  for (const [id, desc] of [
    ['sg-client', 'clients'],
    ['sg-big', `${RULES} rules`],
    ['sg-members', 'joins and leaves'],
    ['sg-fifty', '50 rules'],
  ]) {
    await sg.putSecurityGroup({ group: { id: id!, tenant: TENANT, name: id!, description: desc! } });
  }
  await sg.putSecurityGroupRule({ rule: ruleSpec('client-out', 'sg-client', 'egress', 'any', { cidr: '0.0.0.0/0' }) });
  const start = performance.now();
  await pool(
    Array.from({ length: RULES - 3 }, (_, i) => i),
    8,
    (i) => rule(`big-${i}`, 'sg-big', 'tcp', 10_000 + i, { cidr: `203.0.113.${i % 256}/32` }),
  );
  await rule('big-members', 'sg-big', 'tcp', 9090, { remote: 'sg-members' });
  await rule('big-iperf', 'sg-big', 'tcp', 5201, { remote: 'sg-client' });
  console.log(`  ${RULES - 1} rules put through the API in ${((performance.now() - start) / 1000).toFixed(1)} s`);

  await putNic('src', 'h1', '198.18.1.1/16', { securityGroupIds: ['sg-client'] });
  await putNic('joiner', 'h1', '198.18.1.2/16', { securityGroupIds: ['sg-client'] });
  await putNic('dst', 'h2', '198.18.2.1/16', { securityGroupIds: ['sg-big'] });
  const programmed = async (n: number): Promise<void> => {
    const until = Date.now() + 60_000;
    while ((await b.client('h2').network.getNic({ id: 'dst' })).observed!.ruleCounters.length < n) {
      if (Date.now() > until) throw new Error(`dst never got ${n} rule counters`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  await programmed(RULES);

  // ---- 1. throughput ----
  const filtered = async (on: boolean): Promise<void> => {
    await putNic('src', 'h1', '198.18.1.1/16', on ? { securityGroupIds: ['sg-client'] } : { portSecurityDisabled: true });
    await putNic('dst', 'h2', '198.18.2.1/16', on ? { securityGroupIds: ['sg-big'] } : { portSecurityDisabled: true });
    if (on) await programmed(RULES);
  };
  const got = { filtered: [] as number[], open: [] as number[] };
  for (let i = 0; i < reps; i++) {
    for (const side of i % 2 ? (['open', 'filtered'] as const) : (['filtered', 'open'] as const)) {
      await filtered(side === 'filtered');
      got[side].push((await iperf(b, nicNs('dst'), nicNs('src'), '198.18.2.1', seconds)).gbps);
    }
  }
  await filtered(true);
  const mf = median(got.filtered);
  const mo = median(got.open);
  console.log(`  throughput, ${RULES} rules at the receiver: median ${mf.toFixed(2)} Gbit/s ${samples(got.filtered, 2)}`);
  console.log(`  throughput, no filtering:            median ${mo.toFixed(2)} Gbit/s ${samples(got.open, 2)}`);
  console.log(`  ratio filtered/unfiltered throughput: ${(mf / mo).toFixed(2)} (goal >= 0.9)`);

  // ---- 2 and 3. change → effect, through a watcher in the client ----
  const servers = [8080, 9090].map((p) => b.background(nicNs('dst'), ['/usr/bin/python3', PROBE, 'serve', 'tcp', String(p)]));
  const watch = async (from: string, port: number) => {
    const w = b.background(nicNs(from), ['/usr/bin/python3', PROBE, 'watch', '198.18.2.1', String(port), String(WATCH_TIMEOUT_MS)]);
    const events: { at: number; state: string }[] = [];
    let buf = '';
    w.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const [at, state] = buf.slice(0, nl).split(' ');
        events.push({ at: Number(at), state: state! });
        buf = buf.slice(nl + 1);
      }
    });
    /** When the watcher first saw `state` after `since` (epoch ms). */
    const until = async (state: string, since: number): Promise<number> => {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const e = events.find((x) => x.state === state && x.at >= since);
        if (e) return e.at;
        if (Date.now() > deadline) throw new Error(`watcher never saw ${state}`);
        await new Promise((r) => setTimeout(r, 2));
      }
    };
    await until('closed', 0);
    return { w, until, clear: () => events.splice(0) };
  };

  /** ms from the call returning (or, with fromCall, starting) to the watcher seeing `state`; 0 if it saw it before the return. */
  const timed = async (w: Awaited<ReturnType<typeof watch>>, state: string, call: () => Promise<unknown>, fromCall = false): Promise<number> => {
    w.clear();
    const started = Date.now();
    await call();
    const returned = Date.now();
    return Math.max(0, (await w.until(state, started)) - (fromCall ? started : returned));
  };
  const lat = { open: [] as number[], closed: [] as number[] };
  const rw = await watch('src', 8080);
  for (let i = 0; i < changes; i++) {
    lat.open.push(await timed(rw, 'open', () => rule(`lat-${i}`, 'sg-big', 'tcp', 8080, { remote: 'sg-client' })));
    lat.closed.push(await timed(rw, 'closed', () => sg.deleteSecurityGroupRule({ id: `lat-${i}` })));
  }
  b.stop(rw.w);
  console.log(
    `  rule change returned → effect (${changes} each): allow p50 ${percentile(lat.open, 50).toFixed(0)} ms p99 ${percentile(lat.open, 99).toFixed(0)} ms; revoke p50 ${percentile(lat.closed, 50).toFixed(0)} ms p99 ${percentile(lat.closed, 99).toFixed(0)} ms (goal p99 <= 100 ms; resolution ${WATCH_TIMEOUT_MS} ms)`,
  );

  // Measured from the PutNic call: the other host may well act before the call returns.
  const mem = { join: [] as number[], leave: [] as number[] };
  const mw = await watch('joiner', 9090);
  for (let i = 0; i < changes; i++) {
    mem.join.push(await timed(mw, 'open', () => putNic('joiner', 'h1', '198.18.1.2/16', { securityGroupIds: ['sg-client', 'sg-members'] }), true));
    mem.leave.push(await timed(mw, 'closed', () => putNic('joiner', 'h1', '198.18.1.2/16', { securityGroupIds: ['sg-client'] }), true));
  }
  b.stop(mw.w);
  for (const s of servers) b.stop(s);
  console.log(
    `  membership → remote-group rule on the other host, from the PutNic call (${changes} each): join p50 ${percentile(mem.join, 50).toFixed(0)} ms p99 ${percentile(mem.join, 99).toFixed(0)} ms; leave p50 ${percentile(mem.leave, 50).toFixed(0)} ms p99 ${percentile(mem.leave, 99).toFixed(0)} ms (goal p99 <= 1000 ms)`,
  );

  // ---- 4. programming many NICs ----
  await pool(
    Array.from({ length: 50 }, (_, i) => i),
    8,
    (i) => rule(`fifty-${i}`, 'sg-fifty', 'tcp', 20_000 + i, { cidr: '198.18.0.0/16' }),
  );
  const ids = Array.from({ length: manyNics }, (_, i) => `m${i}`);
  const ipOf = (i: number): string => `198.18.${10 + Math.floor(i / 250)}.${1 + (i % 250)}/16`;
  await pool(
    ids.map((id, i) => [id, i] as const),
    4,
    ([id, i]) => putNic(id, 'h1', ipOf(i), { portSecurityDisabled: true }),
  );
  const h1 = b.lab.hosts.find((h) => h.name === 'h1')!.namespace;
  const chainsWithFifty = async (): Promise<number> => {
    const { stdout } = await b.exec(h1, ['nft', '-j', 'list', 'table', 'inet', 'vxsg'], 30_000);
    const perChain = new Map<string, number>();
    for (const it of (JSON.parse(stdout) as { nftables: { rule?: { chain: string; comment?: string } }[] }).nftables) {
      if (it.rule?.comment?.startsWith('fifty-')) perChain.set(it.rule.chain, (perChain.get(it.rule.chain) ?? 0) + 1);
    }
    return [...perChain.values()].filter((n) => n === 50).length;
  };
  const move = async (filter: Partial<NicFilter>, done: () => Promise<boolean>): Promise<number> => {
    const t0 = performance.now();
    await pool(
      ids.map((id, i) => [id, i] as const),
      8,
      ([id, i]) => putNic(id, 'h1', ipOf(i), filter),
    );
    while (!(await done())) await new Promise((r) => setTimeout(r, 50));
    return (performance.now() - t0) / 1000;
  };
  const tFifty = await move({ securityGroupIds: ['sg-fifty'] }, async () => (await chainsWithFifty()) === manyNics);
  const { stdout: whole } = await b.exec(h1, ['nft', 'list', 'table', 'inet', 'vxsg'], 30_000);
  const tOff = await move({ portSecurityDisabled: true }, async () => (await chainsWithFifty()) === 0);
  console.log(
    `  ${manyNics} NICs x 50 rules programmed on one host: ${tFifty.toFixed(1)} s; the same PutNic calls with no filtering: ${tOff.toFixed(1)} s; ratio ${(tFifty / tOff).toFixed(2)}`,
  );

  // One transaction of the whole table, into a namespace of the bench's own.
  const scratch = `${b.lab.name}-nft`;
  const file = `/tmp/${scratch}.nft`;
  await writeFile(file, whole);
  await b.run('ip', ['netns', 'add', scratch], 10_000);
  try {
    const t0 = performance.now();
    await b.run('ip', ['netns', 'exec', scratch, 'nft', '-f', file], 60_000);
    const rules = whole.split('\n').filter((l) => /counter|return|drop|accept|jump/.test(l)).length;
    console.log(`  one nft transaction of that host's whole table (${rules} rules): ${((performance.now() - t0) / 1000).toFixed(2)} s`);
  } finally {
    await b.run('ip', ['netns', 'del', scratch], 10_000);
    await rm(file, { force: true });
  }
});
