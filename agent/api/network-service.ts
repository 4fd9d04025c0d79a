// The NetworkService: converts API messages to desired-state records and back, and reads the
// kernel for every object it returns.

import type { Logger } from 'pino';
import {
  NicKind,
  type Nic,
  type NetworkServiceServer,
  type Subnet,
  type Vpc,
  type VtepTable,
} from '../../gen/vxcloud/agent/v1/network.js';
import { overlayMtu, type L2Context } from '../l2/context.js';
import { nicDevice, vxlanDevice } from '../l2/names.js';
import { nicGateway } from '../l2/nic.js';
import { nicFieldProblems, subnetFieldProblems, validateVpc, type Problem } from '../../lib/validation.js';
import { ApiError } from '../state/errors.js';
import type { NicRecord, SubnetRecord, VpcRecord, VtepTableRecord } from '../state/model.js';
import type { Reconciler } from '../state/reconciler.js';
import type { Authority } from '../registry/authority.js';
import { required, unary } from './unary.js';

function found<T>(value: T | undefined, what: string, id: string): T {
  if (value === undefined) throw new ApiError('NOT_FOUND', 'id', `${what} "${id}" does not exist on this host`);
  return value;
}

const NIC_KINDS: Partial<Record<NicKind, NicRecord['kind']>> = { [NicKind.NIC_KIND_VETH]: 'veth', [NicKind.NIC_KIND_TAP]: 'tap' };

/** The caller's own mistakes are refused before anything is claimed in the registry. */
function refuse(problems: Problem[]): void {
  if (problems.length > 0) throw ApiError.of(problems);
}

/**
 * A change claimed in the registry first, then made on this host; if this host cannot make it,
 * a claim this call made (the host did not hold the object before) is given back.
 */
export async function claimed<T>(isNew: boolean, claim: () => Promise<T>, local: (claimed: T) => Promise<void>, release: () => Promise<void>, log: Logger): Promise<T> {
  const c = await claim();
  try {
    await local(c);
  } catch (e) {
    if (isNew) await release().catch((u: unknown) => log.error({ err: u }, 'giving back a registry claim after a failed change failed'));
    throw e;
  }
  return c;
}

/** A delete: the registry must answer first; then the host drops the object, then its claim. */
export async function released(check: () => Promise<void>, local: () => Promise<boolean>, release: () => Promise<void>): Promise<{ existed: boolean }> {
  await check();
  const existed = await local();
  await release();
  return { existed };
}

export function networkService(r: Reconciler, ctx: L2Context, auth: Authority, log: Logger): NetworkServiceServer {
  const vpc = async (v: VpcRecord): Promise<Vpc> => ({ spec: { ...v }, status: await r.vpcStatus(v) });
  const subnet = async (s: SubnetRecord): Promise<Subnet> => ({
    spec: { id: s.id, vpcId: s.vpc_id, name: s.name, cidr: s.cidr, vni: s.vni, vlan: s.vlan, gateway: s.gateway },
    status: await r.subnetStatus(s),
    observed: { mtu: overlayMtu(ctx), bridge: r.subnetBridge(s), vxlanDevice: vxlanDevice(s.vni) },
  });
  const nic = async (n: NicRecord): Promise<Nic> => ({
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
    },
    status: await r.nicStatus(n),
    observed: { hostIfname: nicDevice(n.kind, n.id), mtu: overlayMtu(ctx), gateway: nicGateway(r.desired.subnets[n.subnet_id]!), dhcpAddress: await r.nicDhcpAddress(n) },
  });
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
    putVpc: unary(log, 'PutVpc', async (req) => {
      const s = required(req.vpc, 'vpc');
      const rec: VpcRecord = { id: s.id, name: s.name, tenant: s.tenant, cidr: s.cidr };
      refuse(validateVpc(rec));
      await claimed(!r.desired.vpcs[rec.id], () => auth.joinVpc(rec), () => r.putVpc(rec), () => auth.leaveVpc(rec.id, true), log);
      return vpc(rec);
    }),
    getVpc: unary(log, 'GetVpc', async (req) => vpc(found(r.desired.vpcs[req.id], 'VPC', req.id))),
    listVpcs: unary(log, 'ListVpcs', async () => ({ vpcs: await Promise.all(Object.values(r.desired.vpcs).map(vpc)) })),
    deleteVpc: unary(log, 'DeleteVpc', (req) => released(() => auth.reachable(req.id), () => r.deleteVpc(req.id), () => auth.leaveVpc(req.id))),

    putSubnet: unary(log, 'PutSubnet', async (req) => {
      const s = required(req.subnet, 'subnet');
      const asked: SubnetRecord = { id: s.id, vpc_id: s.vpcId, name: s.name, cidr: s.cidr, vni: s.vni, vlan: s.vlan, gateway: s.gateway };
      refuse(subnetFieldProblems(asked));
      const rec = await claimed(!r.desired.subnets[asked.id], () => auth.joinSubnet(asked), (c) => r.putSubnet(c), () => auth.leaveSubnet(asked.id, true), log);
      return subnet(rec);
    }),
    getSubnet: unary(log, 'GetSubnet', async (req) => subnet(found(r.desired.subnets[req.id], 'subnet', req.id))),
    listSubnets: unary(log, 'ListSubnets', async (req) => ({
      subnets: await Promise.all(
        Object.values(r.desired.subnets)
          .filter((s) => req.parentId === '' || s.vpc_id === req.parentId)
          .map(subnet),
      ),
    })),
    deleteSubnet: unary(log, 'DeleteSubnet', (req) => released(() => auth.reachable(req.id), () => r.deleteSubnet(req.id), () => auth.leaveSubnet(req.id))),

    putNic: unary(log, 'PutNic', async (req) => {
      const s = required(req.nic, 'nic');
      const kind = NIC_KINDS[s.kind];
      if (!kind) throw new ApiError('INVALID_ARGUMENT', 'kind', 'required: NIC_KIND_VETH (a namespace) or NIC_KIND_TAP (a VM)');
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
      };
      refuse(nicFieldProblems(asked));
      const rec = await claimed(!r.desired.nics[asked.id], () => auth.claimNic(asked, true), (c) => r.putNic(c), () => auth.releaseNic(asked.id, true), log);
      return nic(rec);
    }),
    getNic: unary(log, 'GetNic', async (req) => nic(found(r.desired.nics[req.id], 'NIC', req.id))),
    listNics: unary(log, 'ListNics', async (req) => ({
      nics: await Promise.all(
        Object.values(r.desired.nics)
          .filter((n) => req.parentId === '' || n.subnet_id === req.parentId)
          .map(nic),
      ),
    })),
    deleteNic: unary(log, 'DeleteNic', (req) => released(() => auth.reachable(req.id), () => r.deleteNic(req.id), () => auth.releaseNic(req.id))),

    putVtepTable: unary(log, 'PutVtepTable', async (req) => {
      const t = required(req.table, 'table');
      const rec: VtepTableRecord = {
        subnet_id: t.subnetId,
        flood_vteps: t.floodVteps,
        fdb: t.fdb.map((e) => ({ mac: e.mac, vtep: e.vtep })),
        neighbors: t.neighbors.map((e) => ({ ip: e.ip, mac: e.mac })),
      };
      return table(rec, await r.putVtepTable(rec));
    }),
    getVtepTable: unary(log, 'GetVtepTable', async (req) => table(found(r.desired.vtepTables[req.id], 'VTEP table of subnet', req.id))),
    deleteVtepTable: unary(log, 'DeleteVtepTable', async (req) => ({ existed: await r.deleteVtepTable(req.id) })),
  };
}
