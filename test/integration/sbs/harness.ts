// A lab of storage hosts with volume clients, NBD URIs (unix sockets, reachable from the root
// namespace) and bounded waits for volume states.

import type { Volume } from '../../../gen/vxcloud/agent/v1/volume.js';
import { connect } from 'node:tls';
import { AGENT_PORT, nbdClientCertDir, nbdSocketPath, raftSocketPath, type LabOptions } from '../../../lab/lab.js';
import { readTls } from '../../../lib/agent-client.js';
import { VolumeClient, type Tls } from '../../../agent/sbs/volume/client.js';
import { LINK_PROTOCOL, type Frame } from '../../../agent/sbs/volume/link-frames.js';
import { readFrames, writeFrame } from '../../../agent/sbs/volume/link-socket.js';
import { startLab, type TestLab } from '../../harness/lab.js';
import { waitFor } from '../../../lab/lab.js';

export interface StorageLab {
  t: TestLab;
  volumes(host: string): VolumeClient['volumes'];
  /** Placement of every host of the lab, in order. */
  hosts: { name: string; endpoint: string }[];
  uri(host: string, id: string): string;
  /** nbds+unix:// with a libnbd certificate directory (default: the lab's client certificate). */
  tlsUri(host: string, id: string, certDir?: string): string;
  down(): Promise<void>;
}

export async function startStorageLab(hosts = 3, opts: Pick<LabOptions, 'nbdTls' | 'rebuildAfterSeconds'> = {}): Promise<StorageLab> {
  const t = await startLab({ hosts, roles: () => ['storage'], ...opts });
  const tls = await readTls(t.lab.tls);
  const clients = new Map(t.lab.hosts.map((h) => [h.name, new VolumeClient(h.endpoint, tls)]));
  return {
    t,
    volumes: (host) => clients.get(host)!.volumes,
    hosts: t.lab.hosts.map((h) => ({ name: h.name, endpoint: `${h.underlayAddress}:${AGENT_PORT}` })),
    uri: (host, id) => `nbd+unix:///${id}?socket=${nbdSocketPath(t.lab, host)}`,
    tlsUri: (host, id, certDir = nbdClientCertDir(t.lab)) =>
      `nbds+unix:///${id}?socket=${nbdSocketPath(t.lab, host)}&tls-certificates=${encodeURIComponent(certDir)}`,
    async down() {
      for (const c of clients.values()) c.close();
      await t.down();
    },
  };
}

export async function waitStatus(s: StorageLab, host: string, id: string, want: (v: Volume) => boolean, what: string, timeoutMs = 30_000): Promise<Volume> {
  return waitFor(`volume ${id} ${what} (asked ${host})`, timeoutMs, async () => {
    const v = await s.volumes(host).getVolume({ id }, 5000);
    return want(v) && v;
  });
}

/**
 * Dials a storage host's raft link (its unix socket) with a certificate of the test's choosing,
 * sends `frame` and says what came of it within a second: a forward's answer ('' = applied, else
 * its error), 'open' (the link took the frame and stayed up) or 'closed'. Under TLS 1.3 the server
 * checks the client's certificate after the client finished its handshake, so a certificate of
 * another CA and one of the wrong identity look the same from here: closed.
 */
export function linkOutcome(lab: TestLab['lab'], host: string, tls: Tls, frame: Frame): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ path: raftSocketPath(lab, host), servername: host, ...tls, ALPNProtocols: [LINK_PROTOCOL] });
    const done = (outcome: string): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => done('open'), 1000);
    readFrames(
      socket,
      (f) => f.kind === 'forwarded' && done(f.error),
      () => done('closed'),
    );
    socket.on('error', () => undefined);
    socket.on('close', () => done('closed'));
    writeFrame(socket, frame);
  });
}
