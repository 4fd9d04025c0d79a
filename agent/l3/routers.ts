// The routers, NAT rules and DHCP clients of one host, in the reconciler's desired state. Every
// change goes through the reconciler's mutex: validated, persisted, converged, rolled back on
// failure; reconcileAll converges them after the L2 objects and sweeps what nothing asks for.

import { attempts } from '../state/attempts.js';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { validateNatRule, validateRouter } from '../../lib/router-validation.js';
import { ApiError } from '../state/errors.js';
import type { NatRuleRecord, NicRecord, RouterRecord } from '../state/model.js';
import type { ObjectStatus, Reconciler, ReconcilerExtension, Tx } from '../state/reconciler.js';
import { clientDir, clientSpec, prepareClient } from './dhcp-client.js';
import { isRouterLeg, isRouterNamespace, routerNamespace } from './names.js';
import { convergeRouter, observeRouter, removeRouterNamespace, routerHostLegs, routerProblems, type L3Env, type RouterObservation } from './router.js';
import { stopIn } from '../process/supervisor.js';

const status = (devices: string[], problems: string[]): ObjectStatus => ({ ready: problems.length === 0, devices, problems });

export class Routers implements ReconcilerExtension {
  /** Per router, the registry reservations its dnsmasq was last converged with (as JSON). */
  private readonly seen = new Map<string, string>();

  constructor(
    private readonly r: Reconciler,
    private readonly env: L3Env,
    private readonly routeHost: boolean,
  ) {}

  private ns(id: string): string {
    return routerNamespace(this.env.cfg.namespacePrefix, id);
  }

  // ---- routers ----

  putRouter(rec: RouterRecord): Promise<void> {
    return this.r.transaction(async (tx) => {
      if (!this.routeHost)
        throw new ApiError('FAILED_PRECONDITION', '', 'this host has no route role: put routers on a route host (host.roles in its agent config)');
      const ext = this.env.cfg.external;
      if (rec.external_network !== '' && ext?.name !== rec.external_network) {
        throw new ApiError(
          'FAILED_PRECONDITION',
          'external_network',
          `this host has no external network "${rec.external_network}"${ext ? `: it has "${ext.name}"` : ' (router.external in its agent config)'}`,
        );
      }
      const others = Object.values(tx.state.routers).filter((o) => o.id !== rec.id);
      const problems = validateRouter(rec, {
        vpc: tx.state.vpcs[rec.vpc_id],
        subnets: Object.values(tx.state.subnets),
        routers: others,
        externalCidr: ext?.cidr,
      });
      if (rec.external_ip !== '' && rec.external_ip === ext?.gateway)
        problems.push({ code: 'INVALID_ARGUMENT', field: 'external_ip', message: `${rec.external_ip} is the external gateway` });
      if (problems.length > 0) throw ApiError.of(problems);
      const prior = tx.state.routers[rec.id];
      if (prior && prior.vpc_id !== rec.vpc_id)
        throw new ApiError('FAILED_PRECONDITION', 'vpc_id', `cannot change from "${prior.vpc_id}" to "${rec.vpc_id}": delete the router and create it again`);
      const rules = Object.values(tx.state.natRules).filter((n) => n.router_id === rec.id);
      if (rec.external_network === '' && rules.length > 0) {
        throw new ApiError('FAILED_PRECONDITION', 'external_network', `NAT rules ${rules.map((n) => `"${n.id}"`).join(', ')} need it: delete them first`);
      }
      const taken = rules.find((n) => n.external_ip === rec.external_ip && n.type === 'dnat_and_snat');
      if (taken) throw new ApiError('ALREADY_EXISTS', 'external_ip', `${rec.external_ip} is the floating IP of NAT rule "${taken.id}"`);
      const clash = others.find((o) => this.ns(o.id) === this.ns(rec.id) || routerHostLegs(o).some((l) => routerHostLegs(rec).includes(l)));
      if (clash) throw new ApiError('ALREADY_EXISTS', 'id', `router id "${rec.id}" maps to the same kernel names as router "${clash.id}": choose another id`);
      await tx.converging(
        (d) => {
          d.routers[rec.id] = rec;
        },
        () => convergeRouter(this.env, tx, rec),
        async () => {
          if (prior) await convergeRouter(this.env, tx, prior);
          else await removeRouterNamespace(this.env, this.ns(rec.id), routerHostLegs(rec));
        },
      );
    });
  }

  deleteRouter(id: string): Promise<boolean> {
    return this.r.transaction(async (tx) => {
      const rec = tx.state.routers[id];
      if (!rec) return false;
      const rules = Object.values(tx.state.natRules).filter((n) => n.router_id === id);
      if (rules.length > 0)
        throw new ApiError('FAILED_PRECONDITION', 'id', `router "${id}" still has NAT rules ${rules.map((n) => `"${n.id}"`).join(', ')}: delete them first`);
      await tx.commit((d) => {
        delete d.routers[id];
      });
      await removeRouterNamespace(this.env, this.ns(id), routerHostLegs(rec));
      return true;
    });
  }

  async routerView(rec: RouterRecord): Promise<{ status: ObjectStatus; observed: RouterObservation }> {
    return this.r.transaction(async (tx) => {
      const observed = await observeRouter(this.env, tx, rec);
      const devices = [observed.namespace, ...observed.legs.map((l) => l.plan.port.name)];
      return { status: status(devices, await routerProblems(this.env, tx, rec)), observed };
    });
  }

  // ---- NAT rules ----

  putNatRule(rec: NatRuleRecord): Promise<void> {
    return this.r.transaction(async (tx) => {
      const router = tx.state.routers[rec.router_id];
      const prior = tx.state.natRules[rec.id];
      if (prior && prior.router_id !== rec.router_id)
        throw new ApiError(
          'FAILED_PRECONDITION',
          'router_id',
          `cannot change from "${prior.router_id}" to "${rec.router_id}": delete the rule and create it again`,
        );
      const problems = validateNatRule(rec, {
        router,
        subnets: (router?.subnet_ids ?? []).flatMap((id) => tx.state.subnets[id] ?? []),
        routers: Object.values(tx.state.routers),
        rules: Object.values(tx.state.natRules).filter((n) => n.id !== rec.id),
        externalCidr: this.env.cfg.external?.cidr,
      });
      if (problems.length > 0) throw ApiError.of(problems);
      await tx.converging(
        (d) => {
          d.natRules[rec.id] = rec;
        },
        () => convergeRouter(this.env, tx, router!),
        () => convergeRouter(this.env, tx, router!),
      );
    });
  }

  deleteNatRule(id: string): Promise<boolean> {
    return this.r.transaction(async (tx) => {
      const rec = tx.state.natRules[id];
      if (!rec) return false;
      await tx.commit((d) => {
        delete d.natRules[id];
      });
      const router = tx.state.routers[rec.router_id];
      if (router) await convergeRouter(this.env, tx, router);
      return true;
    });
  }

  async natView(rec: NatRuleRecord): Promise<{ status: ObjectStatus; packets: number; bytes: number }> {
    const router = this.r.desired.routers[rec.router_id];
    if (!router) return { status: status([], [`router "${rec.router_id}" is missing`]), packets: 0, bytes: 0 };
    const view = await this.routerView(router);
    const c = view.observed.counters.get(rec.id);
    const problems = c ? [] : [`${view.observed.namespace}: no rule of NAT rule "${rec.id}" in the kernel`];
    return { status: status([view.observed.namespace], problems), packets: c?.packets ?? 0, bytes: c?.bytes ?? 0 };
  }

  /**
   * The registry's NICs changed: routers whose subnets' reservations moved get a new dnsmasq
   * config (convergeRouter restarts dnsmasq only when its config changed).
   */
  reservationsChanged(): void {
    const current = (rec: RouterRecord): string => JSON.stringify(rec.subnet_ids.map((id) => this.env.reservations?.(id) ?? []));
    const stale = Object.values(this.r.desired.routers).filter((rec) => this.seen.get(rec.id) !== current(rec));
    if (stale.length === 0) return;
    void this.r
      .transaction(async (tx) => {
        for (const rec of stale) {
          const router = tx.state.routers[rec.id];
          if (!router) continue;
          await convergeRouter(this.env, tx, router);
          this.seen.set(rec.id, current(router));
        }
      })
      .catch(() => undefined); // the periodic reconcile converges what failed here
  }

  // ---- DHCP clients of NICs (any host) ----

  async nicConverged(_tx: Tx, n: NicRecord): Promise<void> {
    const dir = clientDir(this.env.stateDir, n);
    if (!n.dhcp) {
      await this.env.supervisor.stop(dir);
      return;
    }
    const changed = await prepareClient(dir);
    await this.env.supervisor.ensure(clientSpec(this.env.stateDir, n), changed);
  }

  async nicRemoved(n: NicRecord): Promise<void> {
    const dir = clientDir(this.env.stateDir, n);
    await this.env.supervisor.stop(dir);
    await rm(dir, { recursive: true, force: true });
  }

  // ---- whole-host convergence ----

  async reconcile(tx: Tx): Promise<string[]> {
    const { failed, attempt } = attempts();
    const routers = Object.values(tx.state.routers);
    for (const rec of routers) await attempt(`router ${rec.id}`, () => convergeRouter(this.env, tx, rec));
    const wantedNs = new Set(routers.map((rec) => this.ns(rec.id)));
    const wantedLegs = new Set(routers.flatMap(routerHostLegs));
    for (const ns of await this.env.net.listNetns()) {
      if (isRouterNamespace(this.env.cfg.namespacePrefix, ns) && !wantedNs.has(ns))
        await attempt(`stale router namespace ${ns}`, () => removeRouterNamespace(this.env, ns, []));
    }
    // Files of routers deleted while the agent was down (their namespace may be gone already).
    for (const ns of await readdir(join(this.env.stateDir, 'routers')).catch((): string[] => [])) {
      if (!wantedNs.has(ns)) await attempt(`stale router files ${ns}`, () => removeRouterNamespace(this.env, ns, []));
    }
    for (const l of await this.env.net.host.links()) {
      if (isRouterLeg(l.name) && !wantedLegs.has(l.name)) await attempt(`stale router leg ${l.name}`, () => this.env.net.host.deleteLink(l.name));
    }
    const dhcpNics = Object.values(tx.state.nics).filter((n) => n.dhcp);
    for (const n of dhcpNics) await attempt(`dhcp client of nic ${n.id}`, () => this.nicConverged(tx, n));
    const wantedClients = new Set(dhcpNics.map((n) => clientDir(this.env.stateDir, n)));
    const clientsRoot = join(this.env.stateDir, 'dhcp-clients');
    for (const name of await readdir(clientsRoot).catch((): string[] => [])) {
      const dir = join(clientsRoot, name);
      if (!wantedClients.has(dir)) {
        await attempt(`stale dhcp client ${name}`, async () => {
          await this.env.supervisor.stop(dir);
          await rm(dir, { recursive: true, force: true });
        });
      }
    }
    return failed;
  }

  /** Agent shutdown: every dnsmasq and DHCP client goes, by PID; kernel objects and leases stay. */
  async stop(): Promise<void> {
    await this.env.supervisor.stopAll();
  }
}

/** For lab teardown after an agent was SIGKILLed: stops every daemon whose directory is under `stateDir`. */
export async function stopLeftoverDaemons(stateDir: string): Promise<void> {
  for (const sub of ['routers', 'dhcp-clients']) {
    for (const name of await readdir(join(stateDir, sub)).catch((): string[] => [])) {
      const dir = sub === 'routers' ? join(stateDir, sub, name, 'dnsmasq') : join(stateDir, sub, name);
      await stopIn(dir);
    }
  }
}
