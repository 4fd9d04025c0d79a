// vxcloud-agent: runs on every host, holds the host's desired state and converges the kernel to it.

import { Command } from 'commander';
import { pino } from 'pino';
import { networkService } from './api/network-service.js';
import { routerService } from './api/router-service.js';
import { dataplaneLayout, dataplaneMode, hostService } from './api/host-service.js';
import { startServer } from './api/server.js';
import { loadConfig } from './config/config.js';
import { startControlPlane } from './evpn/control-plane.js';
import { overlayMtu, type L2Context } from './l2/context.js';
import { protectedNetworks } from './l3/protected.js';
import { Routers } from './l3/routers.js';
import { Supervisor } from './l3/supervisor.js';
import { openNet } from './net/index.js';
import { startStorage } from './sbs/volume/runtime.js';
import { Reconciler } from './state/reconciler.js';
import { StateStore } from './state/store.js';
import { AGENT_VERSION } from './version.js';

async function main(): Promise<void> {
  const opts = new Command('vxcloud-agent')
    .description('vxcloud host agent')
    .version(AGENT_VERSION)
    .requiredOption('--config <file>', 'YAML configuration file')
    .parse()
    .opts<{ config: string }>();
  const cfg = await loadConfig(opts.config);
  const log = pino({ level: cfg.logLevel, base: { host: cfg.host.name } });

  const net = await openNet();
  const caps = await net.probe();
  const underlay = await net.host.link(cfg.underlay.interface);
  if (!underlay) throw new Error(`underlay.interface: no interface "${cfg.underlay.interface}" on this host`);
  const ctx: L2Context = { underlayAddress: cfg.underlay.address, underlayMtu: underlay.mtu, vxlanPort: cfg.vxlanPort };

  const layout = dataplaneLayout(dataplaneMode(caps, cfg.dataplane));
  const reconciler = await Reconciler.open(net, new StateStore(cfg.stateDir), ctx, log, layout, cfg.controlPlane.kind);
  const supervisor = new Supervisor(log);
  const routers = new Routers(
    reconciler,
    {
      net,
      cfg: cfg.router,
      stateDir: cfg.stateDir,
      overlayMtu: overlayMtu(ctx),
      protectedCidrs: await protectedNetworks(net.host, cfg.underlay.interface, cfg.listen, cfg.router.protectedCidrs),
      supervisor,
    },
    cfg.host.roles.includes('route'),
  );
  reconciler.extend(routers);
  supervisor.start();
  const first = await reconciler.reconcileAll();
  log.info({ caps, layout, failed: first.failed.length }, 'initial reconcile done');
  reconciler.start(cfg.reconcile.intervalSeconds * 1000);
  // After the first reconcile, so that zebra finds the subnets' devices already there.
  const plane = await startControlPlane(cfg, net.host, log, reconciler);

  const storage = cfg.storage ? await startStorage(cfg, cfg.storage, log) : undefined;
  const server = await startServer(cfg, {
    host: hostService(cfg, caps, underlay.mtu, reconciler, log, plane),
    network: networkService(reconciler, ctx, log),
    router: routerService(reconciler, routers, log),
    ...(storage ? { volumes: storage.services } : {}),
  });
  log.info({ listen: cfg.listen }, 'serving');

  const stop = (signal: string): void => {
    log.info({ signal }, 'stopping');
    reconciler.stop();
    const planeStopped = plane.stop().catch((e: unknown) => log.error({ err: e }, 'stopping the control plane failed'));
    // dnsmasq and DHCP clients are the agent's children: they go with it (kernel state and leases stay).
    const daemonsStopped = routers.stop().catch((e: unknown) => log.error({ err: e }, 'stopping DHCP daemons failed'));
    const storageStopped = storage?.stop().catch((e: unknown) => log.error({ err: e }, 'stopping volumes failed'));
    server.tryShutdown(() => {
      void Promise.all([planeStopped, daemonsStopped, storageStopped]).finally(() => {
        net.close();
        process.exit(0);
      });
    });
    setTimeout(() => process.exit(0), 3000).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((e: unknown) => {
  process.stderr.write(`vxcloud-agent: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
