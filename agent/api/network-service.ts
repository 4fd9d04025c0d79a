// The NetworkService: converts API messages to desired-state records and back, and reads the
// kernel for every object it returns.

import type { Logger } from 'pino';
import { NicKind, type Nic, type NetworkServiceServer, type Status, type Subnet, type Vpc, type VtepTable } from '../../gen/vxcloud/agent/v1/network.js';
import { overlayMtu, type L2Context } from '../l2/context.js';
import { nicDevice, vxlanDevice } from '../l2/names.js';
import { nicGateway } from '../l2/nic.js';
import { nicFieldProblems, subnetFieldProblems, validateVpc, type Problem } from '../../lib/validation.js';
import { ApiError } from '../state/errors.js';
import type { NicRecord, SubnetRecord, VpcRecord, VtepTableRecord } from '../state/model.js';
import type { Links, Reconciler } from '../state/reconciler.js';
import type { Identity } from '../../lib/identity.js';
import { claimed, released, type Authorities, type Authority } from '../registry/authority.js';
import { origin } from '../registry/claims.js';
import { requireKind } from './caller.js';
import type { Firewall } from '../firewall/firewall.js';
import { nicFilterProblems } from '../../lib/security-group-validation.js';
import { tenantFor, type Ownership } from './ownership.js';
import { required, unary } from './unary.js';

function found<T>(value: T | undefined, what: string, id: string): T {
  if (value === undefined) throw new ApiError('NOT_FOUND', 'id', `${what} "${id}" does not exist on this host`);
  return value;
}

const NIC_KINDS: Partial<Record<NicKind, NicRecord['kind']>> = { [NicKind.NIC_KIND_VETH]: 'veth', [NicKind.NIC_KIND_TAP]: 'tap' };

const withProblems = (st: Status, more: string[]): Status => ({ ...st, ready: st.ready && more.length === 0, problems: [...st.problems, ...more] });

/** The caller's own mistakes are refused before anything is claimed in the registry. */
function refuse(problems: Problem[]): void {
  if (problems.length > 0) throw ApiError.of(problems);
}

export function networkService(r: Reconciler, ctx: L2Context, authorities: Authorities, own: Ownership, firewall: Firewall, log: Logger): NetworkServiceServer {
  const auth = (caller: Identity, what: string): Authority => authorities(own.scope(caller, what));
  // A listing reads the host's links once for all its objects (`links`); one object reads them itself.
  const vpc = async (v: VpcRecord, links?: Links): Promise<Vpc> => ({ spec: { ...v }, status: await r.vpcStatus(v, links) });
  const subnet = async (s: SubnetRecord, links?: Links): Promise<Subnet> => ({
    spec: { id: s.id, vpcId: s.vpc_id, name: s.name, cidr: s.cidr, vni: s.vni, vlan: s.vlan, gateway: s.gateway },
    status: await r.subnetStatus(s, links),
    observed: { mtu: overlayMtu(ctx), bridge: r.subnetBridge(s), vxlanDevice: vxlanDevice(s.vni) },
  });
  const nic = async (n: NicRecord, links?: Links): Promise<Nic> => {
    const port = await firewall.observe(n);
    return {
      spec: {
        id: n.id,
        subnetId: n.subnet_id,
        kind: n.kind === 'veth' ? NicKind.NIC_KIND_VETH : NicKind.NIC_KIND_TAP,
        mac: n.mac,
        ip: n.ip,
        namespace: n.namespace,
        createNamespace: n.create_namespace,
        ifname: n.ifname,
        dhcp: n.dhcp ?? false,
        filter: { securityGroupIds: n.security_group_ids ?? [], portSecurityDisabled: n.port_security === false, allowedAddresses: n.allowed_addresses ?? [] },
      },
      status: withProblems(await r.nicStatus(n, links), port.problems),
      observed: {
        hostIfname: nicDevice(n.kind, n.id),
        mtu: overlayMtu(ctx),
        gateway: nicGateway(r.desired.subnets[n.subnet_id]!),
        dhcpAddress: await r.nicDhcpAddress(n),
        ruleCounters: port.counters,
      },
    };
  };
  /** `known` is the kernel's table as a Put just left it; otherwise it is read. */
  const table = async (t: VtepTableRecord, known?: Awaited<ReturnType<Reconciler['vtepTableStatus']>>): Promise<VtepTable> => {
    const st = known ?? (await r.vtepTableStatus(t));
    return {
      spec: { subnetId: t.subnet_id, floodVteps: t.flood_vteps, fdb: t.fdb, neighbors: t.neighbors },
      status: { ready: st.ready, devices: st.devices, problems: st.problems },
      observed: { floodEntries: st.flood, fdbEntries: st.fdb, neighborEntries: st.neighbors },
    };
  };

  return {
    putVpc: unary(log, 'PutVpc', async (req, caller, run) => {
      const s = required(req.vpc, 'vpc');
      const rec: VpcRecord = { id: s.id, name: s.name, tenant: tenantFor(caller, s.tenant, 'VPCs'), cidr: s.cidr };
      own.requirePut(caller, 'VPC', rec.id);
      refuse(validateVpc(rec));
      const a = auth(caller, 'put VPCs');
      await claimed(
        !r.desired.vpcs[rec.id],
        () => a.joinVpc(rec, origin(run, rec.name, rec.cidr)),
        () => r.putVpc(rec),
        () => a.leaveVpc(rec.id, true),
        log,
      );
      return vpc(rec);
    }),
    getVpc: unary(log, 'GetVpc', async (req, caller) => {
      own.require(caller, 'VPC', req.id);
      return vpc(found(r.desired.vpcs[req.id], 'VPC', req.id));
    }),
    listVpcs: unary(log, 'ListVpcs', async (_req, caller) => {
      const links = await r.links();
      return {
        vpcs: await Promise.all(
          Object.values(r.desired.vpcs)
            .filter((v) => own.visible(caller, 'VPC', v.id))
            .map((v) => vpc(v, links)),
        ),
      };
    }),
    deleteVpc: unary(log, 'DeleteVpc', (req, caller) => {
      own.require(caller, 'VPC', req.id);
      const a = auth(caller, 'delete VPCs');
      return released(
        () => a.reachable(req.id),
        () => r.deleteVpc(req.id),
        () => a.leaveVpc(req.id),
      );
    }),

    putSubnet: unary(log, 'PutSubnet', async (req, caller, run) => {
      const s = required(req.subnet, 'subnet');
      const asked: SubnetRecord = { id: s.id, vpc_id: s.vpcId, name: s.name, cidr: s.cidr, vni: s.vni, vlan: s.vlan, gateway: s.gateway };
      own.requirePut(caller, 'subnet', asked.id, { kind: 'VPC', id: asked.vpc_id, field: 'vpc_id' });
      refuse(subnetFieldProblems(asked));
      const a = auth(caller, 'put subnets');
      const rec = await claimed(
        !r.desired.subnets[asked.id],
        () => a.joinSubnet(asked, origin(run, asked.vpc_id, asked.name, asked.cidr)),
        (c) => r.putSubnet(c),
        () => a.leaveSubnet(asked.id, true),
        log,
      );
      return subnet(rec);
    }),
    getSubnet: unary(log, 'GetSubnet', async (req, caller) => {
      own.require(caller, 'subnet', req.id);
      return subnet(found(r.desired.subnets[req.id], 'subnet', req.id));
    }),
    listSubnets: unary(log, 'ListSubnets', async (req, caller) => {
      const links = await r.links();
      return {
        subnets: await Promise.all(
          Object.values(r.desired.subnets)
            .filter((s) => (req.parentId === '' || s.vpc_id === req.parentId) && own.visible(caller, 'subnet', s.id))
            .map((s) => subnet(s, links)),
        ),
      };
    }),
    deleteSubnet: unary(log, 'DeleteSubnet', (req, caller) => {
      own.require(caller, 'subnet', req.id);
      const a = auth(caller, 'delete subnets');
      return released(
        () => a.reachable(req.id),
        () => r.deleteSubnet(req.id),
        () => a.leaveSubnet(req.id),
      );
    }),

    putNic: unary(log, 'PutNic', async (req, caller, run) => {
      const s = required(req.nic, 'nic');
      own.requirePut(caller, 'NIC', s.id, { kind: 'subnet', id: s.subnetId, field: 'subnet_id' });
      const kind = NIC_KINDS[s.kind];
      if (!kind) throw new ApiError('INVALID_ARGUMENT', 'kind', 'required: NIC_KIND_VETH (a namespace) or NIC_KIND_TAP (a VM)');
      const filter = {
        security_group_ids: s.filter?.securityGroupIds ?? [],
        port_security: !s.filter?.portSecurityDisabled,
        allowed_addresses: s.filter?.allowedAddresses ?? [],
      };
      const asked: NicRecord = {
        id: s.id,
        subnet_id: s.subnetId,
        kind,
        mac: s.mac,
        ip: s.ip,
        namespace: s.namespace,
        create_namespace: s.createNamespace,
        ifname: kind === 'veth' ? s.ifname || 'eth0' : '',
        dhcp: s.dhcp,
        ...filter,
      };
      refuse([...nicFieldProblems(asked), ...nicFilterProblems(filter)]);
      firewall.requireSupport(asked);
      const a = auth(caller, 'put NICs');
      const rec = await claimed(
        !r.desired.nics[asked.id],
        () => a.claimNic(asked, true, origin(run, asked.subnet_id, asked.kind, asked.namespace, asked.ifname, asked.mac, asked.ip, String(asked.dhcp))),
        (c) => r.putNic(c),
        () => a.releaseNic(asked.id, true),
        log,
      );
      return nic(rec);
    }),
    getNic: unary(log, 'GetNic', async (req, caller) => {
      own.require(caller, 'NIC', req.id);
      return nic(found(r.desired.nics[req.id], 'NIC', req.id));
    }),
    listNics: unary(log, 'ListNics', async (req, caller) => {
      const links = await r.links();
      return {
        nics: await Promise.all(
          Object.values(r.desired.nics)
            .filter((n) => (req.parentId === '' || n.subnet_id === req.parentId) && own.visible(caller, 'NIC', n.id))
            .map((n) => nic(n, links)),
        ),
      };
    }),
    deleteNic: unary(log, 'DeleteNic', (req, caller) => {
      own.require(caller, 'NIC', req.id);
      const a = auth(caller, 'delete NICs');
      return released(
        () => a.reachable(req.id),
        () => r.deleteNic(req.id),
        () => a.releaseNic(req.id),
      );
    }),

    // Static VTEP tables steer every tenant's traffic of a subnet: an operator's tool.
    putVtepTable: unary(log, 'PutVtepTable', async (req, caller) => {
      requireKind(caller, ['operator'], 'put VTEP tables');
      const t = required(req.table, 'table');
      const rec: VtepTableRecord = {
        subnet_id: t.subnetId,
        flood_vteps: t.floodVteps,
        fdb: t.fdb.map((e) => ({ mac: e.mac, vtep: e.vtep })),
        neighbors: t.neighbors.map((e) => ({ ip: e.ip, mac: e.mac })),
      };
      return table(rec, await r.putVtepTable(rec));
    }),
    getVtepTable: unary(log, 'GetVtepTable', async (req, caller) => {
      requireKind(caller, ['operator'], 'read VTEP tables');
      return table(found(r.desired.vtepTables[req.id], 'VTEP table of subnet', req.id));
    }),
    deleteVtepTable: unary(log, 'DeleteVtepTable', async (req, caller) => {
      requireKind(caller, ['operator'], 'delete VTEP tables');
      return { existed: await r.deleteVtepTable(req.id) };
    }),
  };
}
