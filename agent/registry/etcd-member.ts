// One member of the registry's etcd, as a command line: mutual TLS for clients and for peers, all
// under the registry's CA. The agent's managed mode runs it; the lab's own registry does too.

export const ETCD = '/usr/bin/etcd';

export interface EtcdMemberSpec {
  name: string;
  dataDir: string;
  /** https://ADDRESS:2379: where clients (agents, etcdctl) reach this member. */
  clientUrl: string;
  /** https://ADDRESS:2380: where the other members reach it. */
  peerUrl: string;
  /** Every member as NAME=PEER_URL, this one included (etcd's --initial-cluster). */
  cluster: string[];
  /** The registry's CA and this member's certificate (serving clients and peers alike). */
  tls: { ca: string; cert: string; key: string };
}

/** The argv of the member; a data directory that exists already makes etcd ignore the initial cluster. */
export function etcdArgv(m: EtcdMemberSpec): string[] {
  return [
    ETCD,
    '--name',
    m.name,
    '--data-dir',
    m.dataDir,
    '--listen-client-urls',
    m.clientUrl,
    '--advertise-client-urls',
    m.clientUrl,
    '--listen-peer-urls',
    m.peerUrl,
    '--initial-advertise-peer-urls',
    m.peerUrl,
    '--initial-cluster',
    m.cluster.join(','),
    '--client-cert-auth',
    '--trusted-ca-file',
    m.tls.ca,
    '--cert-file',
    m.tls.cert,
    '--key-file',
    m.tls.key,
    '--peer-client-cert-auth',
    '--peer-trusted-ca-file',
    m.tls.ca,
    '--peer-cert-file',
    m.tls.cert,
    '--peer-key-file',
    m.tls.key,
  ];
}
