// One iperf3 TCP run between two namespaces of a bench lab, the server started per run.

import { once } from 'node:events';
import type { ChildProcess } from 'node:child_process';
import type { BenchLab } from './lab.js';

const PORT = '5201';

/** Resolves once iperf3 says it listens; rejects if it exits or stays silent for `ms`. */
async function listening(server: ChildProcess, ms: number): Promise<void> {
  let out = '';
  const ready = new Promise<void>((resolve) => {
    server.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('Server listening')) resolve();
    });
  });
  const exited = once(server, 'exit').then(() => {
    throw new Error(`iperf3 server exited: ${out.trim()}`);
  });
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`iperf3 server not listening after ${ms} ms: ${out.trim()}`)), ms);
  });
  try {
    await Promise.race([ready, exited, late]);
  } finally {
    clearTimeout(timer);
    exited.catch(() => undefined);
  }
}

interface IperfJson {
  end: { sum_received: { bits_per_second: number }; sum_sent: { retransmits: number } };
}

/** One run from clientNs to `to` (served in serverNs, bound to `to`); Gbit/s received, retransmits. */
export async function iperf(b: BenchLab, serverNs: string, clientNs: string, to: string, seconds: number): Promise<{ gbps: number; retr: number }> {
  // --forceflush: stdout is a pipe, and the readiness line must not sit in a buffer.
  const server = b.background(serverNs, ['iperf3', '-s', '-1', '-B', to, '-p', PORT, '--forceflush']);
  try {
    await listening(server, 5000);
    const { stdout } = await b.exec(clientNs, ['iperf3', '-c', to, '-p', PORT, '-t', String(seconds), '-O', '1', '-J'], (seconds + 30) * 1000);
    const r = JSON.parse(stdout) as IperfJson;
    return { gbps: r.end.sum_received.bits_per_second / 1e9, retr: r.end.sum_sent.retransmits };
  } finally {
    b.stop(server);
  }
}

interface IperfUdpJson {
  end: { sum?: { packets: number; lost_packets: number; seconds: number }; sum_received?: { packets: number; lost_packets: number; seconds: number } };
}

/**
 * One UDP run of `len`-byte datagrams as fast as the sender goes (-b 0): packets per second the
 * receiver got, and how many it got.
 */
export async function iperfUdp(
  b: BenchLab,
  serverNs: string,
  clientNs: string,
  to: string,
  seconds: number,
  len: number,
): Promise<{ pps: number; packets: number }> {
  const server = b.background(serverNs, ['iperf3', '-s', '-1', '-B', to, '-p', PORT, '--forceflush']);
  try {
    await listening(server, 5000);
    const { stdout } = await b.exec(
      clientNs,
      ['iperf3', '-c', to, '-p', PORT, '-u', '-b', '0', '-l', String(len), '-t', String(seconds), '-J'],
      (seconds + 30) * 1000,
    );
    const end = (JSON.parse(stdout) as IperfUdpJson).end;
    const s = end.sum_received ?? end.sum!;
    const packets = s.packets - s.lost_packets;
    return { pps: packets / s.seconds, packets };
  } finally {
    b.stop(server);
  }
}
