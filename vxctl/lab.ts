// vxctl lab: many vxcloud hosts on this machine, as network namespaces.

import type { Command } from 'commander';
import { labDown, labStatus, labUp } from '../lab/lab.js';
import { labDir, labFilePath, readLabFile, type LabHost } from '../lab/labfile.js';
import { table } from './table.js';

/** The NAMESPACE column: a host's namespace, or that it is a VM. */
const where = (h: LabHost): string => (h.vm ? 'VM' : h.namespace);

export function registerLabCommands(program: Command): void {
  const lab = program.command('lab').description('a lab of hosts as network namespaces on this machine');
  lab
    .command('up')
    .description('build the underlay and N hosts, each with a running agent, and write the lab file')
    .option('--hosts <n>', 'number of hosts in all: the role counts below are taken from them, the rest are compute hosts', '3')
    .option('--lab <name>', 'lab name (prefix of its namespaces)', 'vxlab')
    .option('--reconcile-interval <seconds>', 'how often agents reconcile', '10')
    .option(
      '--control-plane <kind>',
      'registry (tables derived from the lab registry), evpn (FRR on every host) or static (VTEP tables through the API)',
      'registry',
    )
    .option('--reflectors <n>', 'evpn: how many of the hosts (the last ones) are route reflectors (role management)', '2')
    .option('--route-hosts <n>', 'how many hosts (after the compute hosts) get the route role, for routers', '0')
    .option('--storage-hosts <n>', 'how many hosts (after the compute hosts, before the route hosts) get the storage role, for volumes', '0')
    .option('--internet', 'an "internet" namespace (203.0.113.0/24) as the route hosts\' external network')
    .option('--nbd-tls <mode>', "storage hosts' NBD TLS: off, optional or required (clients use tls-certificates=LABDIR/pki/nbd)", 'off')
    .option('--registry-members <n>', 'members of the registry (etcd): 1 or 3', '1')
    .option('--managed-registry', "the agents of h1.. run the registry's members (registry.managed) instead of the lab")
    .option('--vm-hosts <n>', 'compute hosts after the --hosts ones that are QEMU VMs (stock Debian kernel, the real agent) on the same underlay', '0')
    .option('--tap-hosts <names>', 'hosts (comma-separated, e.g. h1,h2) whose VTEPs use the tap transport: TAP devices the agent encapsulates for', '')
    .action(
      async (o: {
        hosts: string;
        lab: string;
        reconcileInterval: string;
        controlPlane: string;
        reflectors: string;
        routeHosts: string;
        storageHosts: string;
        internet?: boolean;
        nbdTls: string;
        registryMembers: string;
        managedRegistry?: boolean;
        vmHosts: string;
        tapHosts: string;
      }) => {
        if (!['registry', 'evpn', 'static'].includes(o.controlPlane)) throw new Error('--control-plane: registry, evpn or static');
        if (!['off', 'optional', 'required'].includes(o.nbdTls)) throw new Error('--nbd-tls: off, optional or required');
        const hosts = Number(o.hosts);
        const reflectors = o.controlPlane === 'evpn' ? Number(o.reflectors) : 0;
        if (!Number.isInteger(hosts) || hosts < 1) throw new Error(`--hosts ${o.hosts}: a whole number, at least 1`);
        if (!Number.isInteger(reflectors) || reflectors < 0 || reflectors >= hosts)
          throw new Error(`--reflectors ${o.reflectors}: a whole number from 0 to ${hosts - 1} (--hosts ${hosts} less one compute host)`);
        const routeHosts = Number(o.routeHosts);
        if (!Number.isInteger(routeHosts) || routeHosts < 0 || routeHosts + reflectors >= hosts)
          throw new Error(
            `--route-hosts ${o.routeHosts}: a whole number from 0 to ${hosts - reflectors - 1} (--hosts ${hosts}${reflectors ? `, less ${reflectors} reflectors` : ''}, less one compute host); raise --hosts for more`,
          );
        const firstRoute = hosts - reflectors - routeHosts + 1;
        const storageHosts = Number(o.storageHosts);
        // A lab of storage hosts alone is fine: volumes need no compute host.
        if (!Number.isInteger(storageHosts) || storageHosts < 0 || storageHosts >= firstRoute)
          throw new Error(
            `--storage-hosts ${o.storageHosts}: a whole number from 0 to ${firstRoute - 1} (--hosts ${hosts}, less ${routeHosts} route hosts${reflectors ? ` and ${reflectors} reflectors` : ''}); raise --hosts for more`,
          );
        const firstStorage = firstRoute - storageHosts;
        const members = Number(o.registryMembers);
        if (members !== 1 && members !== 3) throw new Error('--registry-members: 1 or 3');
        const l = await labUp({
          name: o.lab,
          hosts,
          reconcileIntervalSeconds: Number(o.reconcileInterval),
          controlPlane: o.controlPlane as 'registry' | 'evpn' | 'static',
          roles: (i) =>
            i > hosts ? ['compute'] : i > hosts - reflectors ? ['management'] : i >= firstRoute ? ['route'] : i >= firstStorage ? ['storage'] : ['compute'],
          internet: o.internet === true,
          nbdTls: o.nbdTls as 'off' | 'optional' | 'required',
          registryMembers: members,
          managedRegistry: o.managedRegistry === true,
          vmHosts: Number(o.vmHosts),
          tapHosts: o.tapHosts.split(',').filter((n) => n !== ''),
        });
        console.log(`lab ${l.name} is up: ${l.hosts.length} hosts; lab file ${labFilePath(l.dir)}`);
        console.log(
          table(
            ['HOST', 'ROLES', 'NAMESPACE', 'UNDERLAY', 'ENDPOINT'],
            l.hosts.map((h) => [h.name, h.roles.join(','), where(h), h.underlayAddress, h.endpoint]),
          ),
        );
        const runBy = o.managedRegistry
          ? `the agents of ${l.hosts
              .slice(0, members)
              .map((h) => h.name)
              .join(', ')}`
          : 'the lab';
        console.log(
          `registry: ${members} etcd member${members > 1 ? 's' : ''}, run by ${runBy}; \`vxctl registry status --lab ${l.name}\` shows what each agent sees`,
        );
        if (l.hosts.some((h) => h.roles.includes('storage')))
          console.log(`volumes: \`vxctl volume show ID --lab ${l.name}\` gives the URI of each export that works from this machine`);
        // The lab itself holds only the gateway of the internet network: every other host address is free.
        if (l.internet)
          console.log(
            `internet: namespace ${l.internet.namespace}, ${l.internet.cidr}, gateway ${l.internet.gateway}; routers' external_ip and NAT rules take any other address of it (external_network = "internet")`,
          );
      },
    );
  lab
    .command('status')
    .description('hosts and agent health')
    .option('--lab <name>', 'lab name', 'vxlab')
    .action(async (o: { lab: string }) => {
      const l = await readLabFile(labFilePath(labDir(o.lab))).catch(() => {
        throw new Error(`lab ${o.lab} is not up (no lab file)`);
      });
      const rows = await labStatus(l);
      console.log(
        table(
          ['HOST', 'NAMESPACE', 'UNDERLAY', 'PID', 'AGENT', 'DETAIL'],
          rows.map((r) => [r.host.name, where(r.host), r.host.underlayAddress, r.host.pid, r.serving ? 'SERVING' : 'DOWN', r.detail]),
        ),
      );
      if (rows.some((r) => !r.serving)) process.exitCode = 1;
    });
  lab
    .command('down')
    .description('stop the agents and remove every namespace and file of the lab')
    .option('--lab <name>', 'lab name', 'vxlab')
    .action(async (o: { lab: string }) => {
      await labDown(o.lab);
      console.log(`lab ${o.lab} is down`);
    });
}
