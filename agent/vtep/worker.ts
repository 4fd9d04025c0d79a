// The userspace VTEP's data path: two worker threads, one per direction, so that both can run at
// once (on one machine a send also runs the receiver's stack in the sender's softirq). Each
// blocks in epoll_wait over its fds and an eventfd the agent's main thread signals when it posted
// a control message. `out` reads the subnets' TAPs and answers (ARP/ND) or encapsulates and sends
// from a raw socket; `in` receives VXLAN datagrams on the UDP socket and writes each inner frame
// into its VNI's TAP. Nothing here awaits, so the threads' event loops never run: control
// messages are read synchronously from their port.

import { receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import { parseIp } from '../../lib/ipv4.js';
import { closeFd, Epoll, rawIpSocket, readFd, recvFrom, sendTo, sockaddrIn, udpSocket, writeFd } from '../net/packet-io.js';
import { Forwarder, type VniTable } from './forwarder.js';
import { flowPort, OUTER, setOuterDestination, VXLAN_HEADER, writeOuter } from './wire.js';

export interface WorkerData {
  /** out: frames from the TAPs to the underlay; in: datagrams from the underlay to the TAPs. */
  direction: 'out' | 'in';
  address: string;
  port: number;
  counters: SharedArrayBuffer;
  control: MessagePort;
  wake: number;
  /** Where the worker says it is ready or why it is not (one message). */
  status: MessagePort;
}

/** attach: an fd of the VNI's TAP that this worker owns and closes. */
export type Control =
  { op: 'attach'; vni: number; fd: number } | { op: 'detach'; vni: number } | { op: 'table'; vni: number; table: VniTable } | { op: 'stop' };

const TAG_WAKE = 0;
const TAG_UDP = 1;
/** Tags of TAP fds: VNI + 2 (VNIs are 24 bits, tags 32). */
const TAP_TAG = 2;
/** Frames taken from one fd before looking at the others. */
const BUDGET = 64;
const MAX_FRAME = 65536;
/** Empty polls (about a microsecond each) before blocking again. */
const SPIN = 50;

function run(d: WorkerData): void {
  const local = parseIp(d.address)!;
  const object = `vtep ${d.address}:${d.port}`;
  const out = d.direction === 'out';
  let sock: number;
  const epoll = new Epoll();
  try {
    sock = out ? rawIpSocket(object) : udpSocket(local, d.port, object);
  } catch (e) {
    d.status.postMessage({ error: (e as Error).message });
    return;
  }
  epoll.add(d.wake, TAG_WAKE);
  if (!out) epoll.add(sock, TAG_UDP);
  d.status.postMessage({ ready: true });

  const fwd = new Forwarder(new Float64Array(d.counters));
  const pkt = Buffer.alloc(OUTER + MAX_FRAME);
  const frame = pkt.subarray(OUTER);
  const rx = Buffer.alloc(MAX_FRAME);
  const from = Buffer.alloc(16);
  const fromLen = Buffer.alloc(4);
  const wakeBuf = Buffer.alloc(8);
  const dests = new Map<number, Buffer>();
  const dest = (a: number): Buffer => {
    let s = dests.get(a);
    if (!s) dests.set(a, (s = sockaddrIn(a, 0)));
    return s;
  };

  /** Applies control messages; false once told to stop. */
  const control = (): boolean => {
    readFd(d.wake, wakeBuf, 8);
    for (let m = receiveMessageOnPort(d.control); m; m = receiveMessageOnPort(d.control)) {
      const c = m.message as Control;
      if (c.op === 'stop') return false;
      if (c.op === 'table') fwd.setTable(c.vni, c.table);
      if (c.op === 'attach') {
        const old = fwd.taps.get(c.vni);
        if (old !== undefined && old !== c.fd) release(old);
        fwd.taps.set(c.vni, c.fd);
        if (out) epoll.add(c.fd, c.vni + TAP_TAG);
      }
      if (c.op === 'detach') {
        const fd = fwd.taps.get(c.vni);
        if (fd !== undefined) release(fd);
        fwd.removeVni(c.vni);
      }
    }
    return true;
  };
  const release = (fd: number): void => {
    if (out) epoll.remove(fd);
    closeFd(fd);
  };

  const fromTap = (vni: number): void => {
    const fd = fwd.taps.get(vni);
    if (fd === undefined) return;
    for (let i = 0; i < BUDGET; i++) {
      const n = readFd(fd, frame, MAX_FRAME);
      if (n <= 0) return; // EAGAIN, or the TAP went away (its detach follows)
      const r = fwd.fromTap(vni, pkt, OUTER, n);
      if ('answer' in r) {
        if (writeFd(fd, r.answer, r.answer.length) < 0) fwd.count('drop_tap_error');
        else fwd.count('tap_frames_out');
        continue;
      }
      if (r.to.length === 0) continue;
      writeOuter(pkt, n, vni, local, r.to[0]!, flowPort(pkt, OUTER, OUTER + n), d.port);
      for (const to of r.to) {
        setOuterDestination(pkt, to);
        if (sendTo(sock, pkt, OUTER + n, 0, dest(to), 16) < 0) fwd.count('drop_send_error');
        else fwd.count('encapsulated');
      }
    }
  };

  const fromUnderlay = (): void => {
    for (let i = 0; i < BUDGET; i++) {
      fromLen.writeUInt32LE(16);
      const n = recvFrom(sock, rx, MAX_FRAME, 0, from, fromLen);
      if (n < 0) return; // EAGAIN: drained
      const fd = fwd.fromUnderlay(from.readUInt32BE(4), rx, n);
      if (fd < 0) continue;
      if (writeFd(fd, rx.subarray(VXLAN_HEADER), n - VXLAN_HEADER) < 0) fwd.count('drop_tap_error');
      else fwd.count('tap_frames_out');
    }
  };

  // After traffic, poll a little before sleeping: a thread that blocks and is woken per burst
  // spends more on the switch than on the frames.
  let idle = SPIN;
  for (;;) {
    const ready = epoll.wait(idle < SPIN ? 0 : -1);
    idle = ready.length === 0 ? idle + 1 : 0;
    for (const tag of ready) {
      if (tag === TAG_WAKE) {
        if (!control()) {
          for (const fd of fwd.taps.values()) closeFd(fd);
          closeFd(sock);
          epoll.close();
          return;
        }
      } else if (tag === TAG_UDP) fromUnderlay();
      else fromTap(tag - TAP_TAG);
    }
  }
}

run(workerData as WorkerData);
