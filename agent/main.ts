// vxcloud-agent: runs on every host, holds the host's desired state and converges the kernel to it.

import { Command } from 'commander';
import { pino, type Logger } from 'pino';
import { networkService } from './api/network-service.js';
import { routerService } from './api/router-service.js';
import { securityGroupService } from './api/security-group-service.js';
import { Firewall, probeFirewall } from './firewall/firewall.js';
import { dataplaneLayout, dataplaneMode, hostService, peerEndpoint } from './api/host-service.js';
import { startServer } from './api/server.js';
import { checkConfig } from './config/check.js';
import { loadConfig, type AgentConfig } from './config/config.js';
import { startControlPlane } from './evpn/control-plane.js';
import { overlayMtu, type L2Context } from './l2/context.js';
import { protectedNetworks } from './l3/protected.js';
import { Routers } from './l3/routers.js';
import { Supervisor } from './process/supervisor.js';
import { AgentMetrics } from './metrics/metrics.js';
import { instrument } from './metrics/rpc.js';
import { startMetricsServer } from './metrics/server.js';
import { registerSources } from './metrics/sources.js';
import { openNet } from './net/index.js';
import { Ownership } from './api/ownership.js';
import { localAuthority, registryAuthority } from './registry/authority.js';
import { Registry } from './registry/registry.js';
import { runRegistryMember } from './registry/managed.js';
import { reservations } from './registry/view.js';
import { startStorage } from './sbs/volume/runtime.js';
import type { StorageHosts } from './sbs/volume/upkeep.js';
import { Reconciler } from './state/reconciler.js';
import { tableSource } from './state/table-source.js';
import { StateStore } from './state/store.js';
import { AGENT_VERSION } from './version.js';
import { EvpnShadowTables } from './vtep/evpn-shadow.js';
import { UserspaceVtep } from './vtep/userspace-vtep.js';
import { readFile } from 'node:fs/promises';

async function main(): Promise<void> {
  const opts = new Command('vxcloud-agent')
    .description('vxcloud host agent')
    .version(AGENT_VERSION)
    .option('--config <file>', 'YAML configuration file: run the agent with it')
    .option('--check-config <file>', 'check a configuration file and the files it names, say what is wrong or what it found, and exit')
    .parse()
    .opts<{ config?: string; checkConfig?: string }>();
  if (opts.checkConfig !== undefined) {
    process.stdout.write(`${await checkConfig(opts.checkConfig)}\n`);
    return;
  }
  if (opts.config === undefined) throw new Error('--config FILE is required (or --check-config FILE to check one)');
  const cfg = await loadConfig(opts.config);
  const log = pino({ level: cfg.logLevel, base: { host: cfg.host.name } });

  const net = await openNet();
  const caps = await net.probe();
  const underlay = await net.host.link(cfg.underlay.interface);
  if (!underlay) throw new Error(`underlay.interface: no interface "${cfg.underlay.interface}" on this host`);
  // Before the first reconcile, which attaches the subnets' TAPs to it.
  const tap = cfg.transport === 'tap' ? await UserspaceVtep.start(cfg.underlay.address, cfg.vxlanPort) : undefined;
  const shadow = tap && cfg.controlPlane.kind === 'evpn' ? new EvpnShadowTables(net.host, tap) : undefined;
  const ctx: L2Context = {
    underlayAddress: cfg.underlay.address,
    underlayMtu: underlay.mtu,
    vxlanPort: cfg.vxlanPort,
    ...(tap ? { tap } : {}),
    ...(shadow ? { zebraShadow: true } : {}),
  };

  const mode = dataplaneMode(caps, cfg.dataplane);
  const layout = dataplaneLayout(mode);
  const supervisor = new Supervisor(log);
  if (cfg.registry?.managed) await runRegistryMember(cfg, cfg.registry.managed, supervisor);
  const registry = cfg.registry ? await openRegistry(cfg, layout, log) : undefined;
  const reconciler = await Reconciler.open(net, new StateStore(cfg.stateDir), ctx, log, layout, shadow ?? tableSource(cfg.controlPlane.kind));
  const routers = new Routers(
    reconciler,
    {
      net,
      cfg: cfg.router,
      stateDir: cfg.stateDir,
      overlayMtu: overlayMtu(ctx),
      protectedCidrs: await protectedNetworks(net.host, cfg.underlay.interface, cfg.listen, cfg.router.protectedCidrs),
      supervisor,
      // A router's DHCP server reserves every NIC address of its subnets, from the registry.
      reservations: (subnetId) => (registry?.view ? reservations(registry.view, subnetId) : []),
    },
    cfg.host.roles.includes('route'),
  );
  reconciler.extend(routers);
  const firewall = new Firewall(reconciler, await probeFirewall(registry !== undefined), cfg.stateDir, log.child({ component: 'firewall' }));
  reconciler.extend(firewall);
  const metrics = new AgentMetrics(cfg.host.name);
  reconciler.onReconciled((seconds, failed) => metrics.reconciled(seconds, failed));
  registry?.onView((v) => {
    routers.reservationsChanged();
    firewall.setView(v);
  });
  supervisor.start();
  const first = await reconciler.reconcileAll();
  log.info({ caps, layout, failed: first.failed.length }, 'initial reconcile done');
  reconciler.start(cfg.reconcile.intervalSeconds * 1000);
  // After the first reconcile, so that zebra finds the subnets' devices already there.
  registry?.start();
  const plane = await startControlPlane(cfg, net.host, log, reconciler, registry, supervisor);
  shadow?.start(() => Object.values(reconciler.desired.subnets).map((s) => ({ s, dev: reconciler.tableDevices(s) })));
  const authority = registry ? registryAuthority(registry) : localAuthority;
  const ownership = new Ownership(() => reconciler.desired, registry);

  const storage = cfg.storage ? await startStorage(cfg, cfg.storage, authority, storageHosts(registry), log, metrics) : undefined;
  const server = await startServer(cfg, {
    host: instrument('HostService', hostService(cfg, caps, underlay.mtu, reconciler, log, plane, registry, firewall.mode, tap), metrics),
    network: instrument('NetworkService', networkService(reconciler, ctx, authority, ownership, firewall, log), metrics),
    router: instrument('RouterService', routerService(reconciler, routers, authority, ownership, log), metrics),
    securityGroups: instrument('SecurityGroupService', securityGroupService(registry, ownership, log), metrics),
    ...(storage ? { volumes: { ...storage.services, volume: instrument('VolumeService', storage.services.volume, metrics) } } : {}),
  });
  registerSources(metrics, {
    desired: () => reconciler.desired,
    plane,
    ...(storage ? { storage: storage.metrics } : {}),
    ...(tap ? { transport: () => tap.counters() } : {}),
  });
  const metricsServers = cfg.metrics ? await startMetricsServer(cfg.tls, cfg.metrics.listen, metrics) : [];
  log.info({ listen: cfg.listen, metrics: cfg.metrics?.listen ?? [] }, 'serving');

  const stop = (signal: string): void => {
    log.info({ signal }, 'stopping');
    reconciler.stop();
    firewall.stop();
    const planeStopped = plane
      .stop()
      .then(() => registry?.stop())
      .catch((e: unknown) => log.error({ err: e }, 'stopping the control plane failed'));
    // dnsmasq and DHCP clients are the agent's children: they go with it (kernel state and leases stay).
    const daemonsStopped = routers.stop().catch((e: unknown) => log.error({ err: e }, 'stopping DHCP daemons failed'));
    const storageStopped = storage?.stop().catch((e: unknown) => log.error({ err: e }, 'stopping volumes failed'));
    shadow?.stop();
    const tapStopped = tap?.stop();
    for (const m of metricsServers) m.close();
    server.tryShutdown(() => {
      void Promise.all([planeStopped, daemonsStopped, storageStopped, tapStopped]).finally(() => {
        net.close();
        process.exit(0);
      });
    });
    setTimeout(() => process.exit(0), 3000).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

/**
 * The inventory's storage hosts; without a registry every host is taken at its word, and none is
 * known to be up (no rebuilds: the config requires a registry for them).
 */
function storageHosts(registry: Registry | undefined): StorageHosts {
  return {
    has: (name) => (registry ? (registry.view?.hosts.get(name)?.roles.includes('storage') ?? false) : true),
    live: () => {
      const v = registry?.view;
      if (!v) return [];
      return [...v.hosts.values()]
        .filter((h) => h.roles.includes('storage') && v.alive.has(h.name) && h.peerEndpoint !== '')
        .map((h) => ({ name: h.name, endpoint: h.peerEndpoint }));
    },
    placed: (id) => {
      const o = registry?.view?.objects.get(id);
      return o?.kind === 'volume' ? o.hosts : undefined;
    },
  };
}

/** The registry client, with what this host tells the others about itself. */
async function openRegistry(cfg: AgentConfig, layout: string, log: Logger): Promise<Registry> {
  const r = cfg.registry!;
  const tls = r.tls ? { ca: await readFile(r.tls.ca), cert: await readFile(r.tls.cert), key: await readFile(r.tls.key) } : undefined;
  const ext = cfg.router.external;
  const self = {
    name: cfg.host.name,
    roles: cfg.host.roles,
    underlay: cfg.underlay.address,
    endpoints: cfg.listen,
    peerEndpoint: peerEndpoint(cfg.listen, cfg.underlay.address),
    controlPlane: cfg.controlPlane.kind,
    dataplane: layout,
    agentVersion: AGENT_VERSION,
    ...(ext ? { external: { name: ext.name, cidr: ext.cidr, gateway: ext.gateway } } : {}),
  };
  return new Registry(
    { endpoints: r.endpoints, prefix: r.prefix, leaseSeconds: r.leaseSeconds, ...(tls ? { tls } : {}) },
    self,
    log.child({ component: 'registry' }),
  );
}

main().catch((e: unknown) => {
  process.stderr.write(`vxcloud-agent: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
