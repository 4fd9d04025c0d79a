// The RouterService: converts API messages to desired-state records and back, and reads the
// kernel (legs, leases, rule counters) for every object it returns.

import type { Logger } from 'pino';
import { NatProtocol, NatType, type NatRule, type Router, type RouterServiceServer } from '../../gen/vxcloud/agent/v1/router.js';
import type { Routers } from '../l3/routers.js';
import { ApiError } from '../state/errors.js';
import type { NatRuleRecord, RouterRecord } from '../state/model.js';
import type { Reconciler } from '../state/reconciler.js';
import type { Ownership } from './ownership.js';
import { claimed, released, type Authorities } from '../registry/authority.js';
import { origin } from '../registry/claims.js';
import { required, unary } from './unary.js';

function found<T>(value: T | undefined, what: string, id: string): T {
  if (value === undefined) throw new ApiError('NOT_FOUND', 'id', `${what} "${id}" does not exist on this host`);
  return value;
}

const NAT_TYPES: Partial<Record<NatType, NatRuleRecord['type']>> = {
  [NatType.NAT_TYPE_DNAT]: 'dnat',
  [NatType.NAT_TYPE_SNAT]: 'snat',
  [NatType.NAT_TYPE_DNAT_AND_SNAT]: 'dnat_and_snat',
};
const NAT_TYPE_OF: Record<NatRuleRecord['type'], NatType> = {
  dnat: NatType.NAT_TYPE_DNAT,
  snat: NatType.NAT_TYPE_SNAT,
  dnat_and_snat: NatType.NAT_TYPE_DNAT_AND_SNAT,
};
const PROTOCOLS: Partial<Record<NatProtocol, NatRuleRecord['protocol']>> = {
  [NatProtocol.NAT_PROTOCOL_UNSPECIFIED]: '',
  [NatProtocol.NAT_PROTOCOL_TCP]: 'tcp',
  [NatProtocol.NAT_PROTOCOL_UDP]: 'udp',
};
const PROTOCOL_OF: Record<NatRuleRecord['protocol'], NatProtocol> = {
  '': NatProtocol.NAT_PROTOCOL_UNSPECIFIED,
  tcp: NatProtocol.NAT_PROTOCOL_TCP,
  udp: NatProtocol.NAT_PROTOCOL_UDP,
};

export function routerService(r: Reconciler, routers: Routers, authorities: Authorities, own: Ownership, log: Logger): RouterServiceServer {
  const router = async (rec: RouterRecord): Promise<Router> => {
    const v = await routers.routerView(rec);
    const o = v.observed;
    return {
      spec: {
        id: rec.id,
        vpcId: rec.vpc_id,
        name: rec.name,
        subnetIds: rec.subnet_ids,
        externalNetwork: rec.external_network,
        externalIp: rec.external_ip,
        snat: rec.snat,
        dhcpDisabledSubnetIds: rec.dhcp_disabled_subnet_ids,
        reservations: rec.reservations.map((x) => ({ subnetId: x.subnet_id, mac: x.mac, ip: x.ip, hostname: x.hostname })),
        dhcpLeaseSeconds: rec.dhcp_lease_seconds,
      },
      status: v.status,
      observed: {
        namespace: o.namespace,
        legs: o.legs.map((l) => ({
          subnetId: l.plan.subnetId ?? '',
          ifname: l.plan.ifname,
          hostIfname: l.plan.port.name,
          bridge: l.plan.port.master ?? '',
          mac: l.link?.mac ?? '',
          addresses: l.addresses,
          up: l.link?.up ?? false,
          dhcp: l.plan.dhcp,
        })),
        leases: o.leases.map((l) => ({ subnetId: l.subnetId, mac: l.mac, ip: l.ip, hostname: l.hostname, expiresUnix: l.expires })),
        dhcpPid: o.dhcp.pid,
        dhcpRestarts: o.dhcp.restarts,
        forwarding: o.forwarding,
      },
    };
  };
  const rule = async (rec: NatRuleRecord): Promise<NatRule> => {
    const v = await routers.natView(rec);
    return {
      spec: {
        id: rec.id,
        routerId: rec.router_id,
        type: NAT_TYPE_OF[rec.type],
        protocol: PROTOCOL_OF[rec.protocol],
        externalIp: rec.external_ip,
        externalPort: rec.external_port,
        internalIp: rec.internal_ip,
        internalPort: rec.internal_port,
      },
      status: v.status,
      observed: { packets: v.packets, bytes: v.bytes },
    };
  };

  return {
    putRouter: unary(log, 'PutRouter', async (req, caller, run) => {
      const s = required(req.router, 'router');
      own.requirePut(caller, 'router', s.id, { kind: 'VPC', id: s.vpcId, field: 'vpc_id' });
      // Every leg in a subnet of the caller's own.
      s.subnetIds.forEach((id, i) => own.require(caller, 'subnet', id, `subnet_ids[${i}]`));
      const auth = authorities(own.scope(caller, 'put routers'));
      const rec: RouterRecord = {
        id: s.id,
        vpc_id: s.vpcId,
        name: s.name,
        subnet_ids: s.subnetIds,
        external_network: s.externalNetwork,
        external_ip: s.externalIp,
        snat: s.snat,
        dhcp_disabled_subnet_ids: s.dhcpDisabledSubnetIds,
        reservations: s.reservations.map((x) => ({ subnet_id: x.subnetId, mac: x.mac, ip: x.ip, hostname: x.hostname })),
        dhcp_lease_seconds: s.dhcpLeaseSeconds,
      };
      await claimed(
        !r.desired.routers[rec.id],
        () => auth.claimRouter(rec, origin(run, rec.vpc_id, rec.name, [...rec.subnet_ids].sort().join(','), rec.external_network, rec.external_ip)),
        () => routers.putRouter(rec),
        () => auth.releaseRouter(rec.id, true),
        log,
      );
      return router(rec);
    }),
    getRouter: unary(log, 'GetRouter', async (req, caller) => {
      own.require(caller, 'router', req.id);
      return router(found(r.desired.routers[req.id], 'router', req.id));
    }),
    listRouters: unary(log, 'ListRouters', async (req, caller) => {
      const out: Router[] = [];
      for (const rec of Object.values(r.desired.routers))
        if ((req.parentId === '' || rec.vpc_id === req.parentId) && own.visible(caller, 'router', rec.id)) out.push(await router(rec));
      return { routers: out };
    }),
    deleteRouter: unary(log, 'DeleteRouter', (req, caller) => {
      own.require(caller, 'router', req.id);
      const auth = authorities(own.scope(caller, 'delete routers'));
      return released(
        () => auth.reachable(req.id),
        () => routers.deleteRouter(req.id),
        () => auth.releaseRouter(req.id),
      );
    }),

    putNatRule: unary(log, 'PutNatRule', async (req, caller, run) => {
      const s = required(req.rule, 'rule');
      own.requirePut(caller, 'NAT rule', s.id, { kind: 'router', id: s.routerId, field: 'router_id' });
      const type = NAT_TYPES[s.type];
      if (!type)
        throw new ApiError('INVALID_ARGUMENT', 'type', 'required: NAT_TYPE_DNAT (port forward), NAT_TYPE_SNAT or NAT_TYPE_DNAT_AND_SNAT (floating IP)');
      const protocol = PROTOCOLS[s.protocol];
      if (protocol === undefined) throw new ApiError('INVALID_ARGUMENT', 'protocol', 'NAT_PROTOCOL_TCP, NAT_PROTOCOL_UDP, or unspecified');
      const rec: NatRuleRecord = {
        id: s.id,
        router_id: s.routerId,
        type,
        protocol,
        external_ip: s.externalIp,
        external_port: s.externalPort,
        internal_ip: s.internalIp,
        internal_port: s.internalPort,
      };
      const auth = authorities(own.scope(caller, 'put NAT rules'));
      await claimed(
        !r.desired.natRules[rec.id],
        () =>
          auth.claimNat(
            rec,
            origin(run, rec.router_id, rec.type, rec.protocol, rec.external_ip, String(rec.external_port), rec.internal_ip, String(rec.internal_port)),
          ),
        () => routers.putNatRule(rec),
        () => auth.releaseNat(rec.id, true),
        log,
      );
      return rule(rec);
    }),
    getNatRule: unary(log, 'GetNatRule', async (req, caller) => {
      own.require(caller, 'NAT rule', req.id);
      return rule(found(r.desired.natRules[req.id], 'NAT rule', req.id));
    }),
    listNatRules: unary(log, 'ListNatRules', async (req, caller) => {
      const out: NatRule[] = [];
      for (const rec of Object.values(r.desired.natRules))
        if ((req.parentId === '' || rec.router_id === req.parentId) && own.visible(caller, 'NAT rule', rec.id)) out.push(await rule(rec));
      return { rules: out };
    }),
    deleteNatRule: unary(log, 'DeleteNatRule', (req, caller) => {
      own.require(caller, 'NAT rule', req.id);
      const auth = authorities(own.scope(caller, 'delete NAT rules'));
      return released(
        () => auth.reachable(req.id),
        () => routers.deleteNatRule(req.id),
        () => auth.releaseNat(req.id),
      );
    }),
  };
}
