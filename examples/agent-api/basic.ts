// The agent API by hand: a VPC with two subnets across the hosts of a lab and a NIC per host in
// each subnet. The agents record them in the lab's registry and derive from it where the other
// NICs are (no VTEP table is put by hand). Run: node dist/examples/agent-api/basic.js --lab NAME [--delete]

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Command } from 'commander';
import { NicKind, type NicSpec, type SubnetSpec } from '../../gen/vxcloud/agent/v1/network.js';
import { AgentClient, readTls } from '../../lib/agent-client.js';
import { labDir, labFilePath, readLabFile, type LabFile } from '../../lab/labfile.js';

const run = promisify(execFile);

export interface Placement {
  host: string;
  nic: NicSpec;
}

/** The example's objects for a lab: NIC namespaces carry the lab's prefix so `lab down` removes them. */
export function basicObjects(lab: LabFile): { vpc: { id: string; name: string; tenant: string; cidr: string }; subnets: SubnetSpec[]; nics: Placement[] } {
  const subnets: SubnetSpec[] = [
    { id: 'web', vpcId: 'demo', name: 'web', cidr: '198.18.1.0/24', vni: 1001, vlan: 0, gateway: '' },
    { id: 'db', vpcId: 'demo', name: 'db', cidr: '198.18.2.0/24', vni: 1002, vlan: 0, gateway: '' },
  ];
  const nics = lab.hosts.slice(0, 2).flatMap((h, i) =>
    subnets.map((s, j) => ({
      host: h.name,
      nic: {
        id: `${s.id}-${h.name}`,
        subnetId: s.id,
        kind: NicKind.NIC_KIND_VETH,
        mac: `02:00:c6:12:${(j + 1).toString(16).padStart(2, '0')}:${(i + 10).toString(16).padStart(2, '0')}`,
        ip: `198.18.${j + 1}.${i + 10}/24`,
        namespace: `${lab.name}-${s.id}-${h.name}`,
        createNamespace: true,
        ifname: 'eth0',
        dhcp: false,
        filter: undefined,
      },
    })),
  );
  return { vpc: { id: 'demo', name: 'demo', tenant: 'acme', cidr: '198.18.0.0/16' }, subnets, nics };
}

export async function applyBasic(lab: LabFile): Promise<ReturnType<typeof basicObjects>> {
  const objs = basicObjects(lab);
  const tls = await readTls(lab.tls);
  const hosts = lab.hosts.slice(0, 2);
  const clients = new Map(hosts.map((h) => [h.name, new AgentClient(h.endpoint, tls)]));
  try {
    for (const h of hosts) {
      const c = clients.get(h.name)!;
      await c.network.putVpc({ vpc: objs.vpc });
      for (const s of objs.subnets) await c.network.putSubnet({ subnet: s });
    }
    for (const p of objs.nics) await clients.get(p.host)!.network.putNic({ nic: p.nic });
  } finally {
    for (const c of clients.values()) c.close();
  }
  return objs;
}

export async function deleteBasic(lab: LabFile): Promise<void> {
  const objs = basicObjects(lab);
  const tls = await readTls(lab.tls);
  for (const h of lab.hosts.slice(0, 2)) {
    const c = new AgentClient(h.endpoint, tls);
    try {
      for (const p of objs.nics.filter((x) => x.host === h.name)) await c.network.deleteNic({ id: p.nic.id });
      for (const s of objs.subnets) await c.network.deleteSubnet({ id: s.id });
      await c.network.deleteVpc({ id: objs.vpc.id });
    } finally {
      c.close();
    }
  }
}

async function main(): Promise<void> {
  const o = new Command('basic')
    .option('--lab <name>', 'lab name', 'vxlab')
    .option('--delete', 'remove the objects again')
    .parse()
    .opts<{ lab: string; delete?: boolean }>();
  const lab = await readLabFile(labFilePath(labDir(o.lab)));
  if (o.delete) {
    await deleteBasic(lab);
    console.log('deleted the example objects');
    return;
  }
  const objs = await applyBasic(lab);
  console.log(`created VPC ${objs.vpc.cidr}, subnets ${objs.subnets.map((s) => `${s.id} ${s.cidr} (VNI ${s.vni})`).join(', ')}, ${objs.nics.length} NICs`);
  const [a, b] = objs.nics.filter((p) => p.nic.subnetId === 'web');
  const target = b!.nic.ip.split('/')[0]!;
  console.log(`ping from ${a!.nic.namespace} (${a!.host}) to ${target} (${b!.host}) across VXLAN:`);
  const { stdout } = await run('ip', ['netns', 'exec', a!.nic.namespace, 'ping', '-c', '3', '-i', '0.2', '-W', '2', target]);
  console.log(stdout.trim());
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  main().catch((e: unknown) => {
    process.stderr.write(`basic: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
