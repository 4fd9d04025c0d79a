// The gauges read at scrape time, from the parts of the agent that hold the state: desired
// objects, the control plane's BGP sessions, the tap transport's counters, and the volume
// replicas and NBD connections of a storage host.

import type { ControlPlane } from '../evpn/control-plane.js';
import type { DesiredState } from '../state/model.js';
import type { CounterName } from '../vtep/forwarder.js';
import type { AgentMetrics, Sample } from './metrics.js';

const ROLES = ['follower', 'preCandidate', 'candidate', 'leader'] as const;

/** What a storage host shows of its replicas and NBD connections. */
export interface StorageSource {
  replicas(): { volume: string; role: string; term: number; commit: number; applied: number; sizeBytes: number }[];
  /** The volume of each open NBD connection (one entry per connection). */
  nbdConnections(): string[];
}

export interface MetricSources {
  desired: () => Readonly<DesiredState>;
  plane: ControlPlane;
  storage?: StorageSource;
  /** The tap transport's counters (agent/vtep), on a host that has it. */
  transport?: () => Record<CounterName, number>;
}

export function registerSources(m: AgentMetrics, s: MetricSources): void {
  m.gauge('vxcloud_objects', 'Objects this host is asked to hold, by kind.', ['kind'], () => {
    const d = s.desired();
    const kinds: [string, object][] = [
      ['vpc', d.vpcs],
      ['subnet', d.subnets],
      ['nic', d.nics],
      ['router', d.routers],
      ['nat_rule', d.natRules],
    ];
    const out: Sample<'kind'>[] = kinds.map(([kind, records]) => ({ labels: { kind }, value: Object.keys(records).length }));
    if (s.storage) out.push({ labels: { kind: 'volume_replica' }, value: s.storage.replicas().length });
    return out;
  });

  m.gauge('vxcloud_bgp_session_up', 'EVPN BGP sessions of this host: 1 when Established.', ['peer', 'state'], async () =>
    (await s.plane.status()).sessions.map((x) => ({ labels: { peer: x.peer, state: x.state }, value: x.state === 'Established' ? 1 : 0 })),
  );
  m.gauge('vxcloud_bgp_prefixes_received', 'EVPN prefixes received from each BGP peer.', ['peer'], async () =>
    (await s.plane.status()).sessions.map((x) => ({ labels: { peer: x.peer }, value: x.prefixesReceived })),
  );

  const transport = s.transport;
  if (transport) {
    const events = (drops: boolean) => () =>
      Object.entries(transport())
        .filter(([k]) => k.startsWith('drop_') === drops)
        .map(([k, value]) => ({ labels: drops ? { reason: k.slice(5) } : { event: k }, value }));
    m.counter(
      'vxcloud_transport_events_total',
      'Tap transport: frames read from and written to TAPs, datagrams encapsulated and decapsulated, segments coalesced, ARP/ND answered.',
      ['event'],
      events(false),
    );
    m.counter('vxcloud_transport_drops_total', 'Tap transport: frames and datagrams dropped, by reason.', ['reason'], events(true));
  }

  const storage = s.storage;
  if (!storage) return;
  const perReplica = (name: string, help: string, value: (r: ReturnType<StorageSource['replicas']>[number]) => number): void =>
    m.gauge(name, help, ['volume'], () => storage.replicas().map((r) => ({ labels: { volume: r.volume }, value: value(r) })));
  m.gauge('vxcloud_volume_raft_role', "This host's raft role for each volume replica: 1 for the role it has.", ['volume', 'role'], () =>
    storage.replicas().flatMap((r) => ROLES.map((role) => ({ labels: { volume: r.volume, role }, value: r.role === role ? 1 : 0 }))),
  );
  perReplica('vxcloud_volume_raft_term', 'Raft term of each volume replica.', (r) => r.term);
  perReplica('vxcloud_volume_raft_commit_index', 'Raft commit index of each volume replica.', (r) => r.commit);
  perReplica('vxcloud_volume_raft_applied_index', 'Raft index applied to the volume image, by replica.', (r) => r.applied);
  perReplica('vxcloud_volume_size_bytes', 'Size of each volume replica.', (r) => r.sizeBytes);
  m.gauge('vxcloud_nbd_connections', 'Open NBD connections by volume.', ['volume'], () => {
    const counts = new Map<string, number>();
    for (const v of storage.nbdConnections()) counts.set(v, (counts.get(v) ?? 0) + 1);
    return [...counts].map(([volume, value]) => ({ labels: { volume }, value }));
  });
}
