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
import { Run, tcpChecksumOk, tcpPayload, VNET_HDR } from './coalesce.js';
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
/** The virtio-net header of a frame that is neither GSO nor checksum-partial. */
const NO_VNET = Buffer.alloc(VNET_HDR);
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
  // Reads land with the TAP's virtio-net header just before the frame, where the outer headers go.
  const frame = pkt.subarray(OUTER - VNET_HDR);
  // in: a burst of datagrams, each after room for a virtio-net header in front of its frame.
  const slots = out ? [] : Array.from({ length: BUDGET }, () => Buffer.alloc(VNET_HDR - VXLAN_HEADER + MAX_FRAME));
  const merged = Buffer.alloc(out ? 0 : VNET_HDR + MAX_FRAME);
  const run = new Run();
  let runFd = -1;
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
      const read = readFd(fd, frame, MAX_FRAME);
      if (read <= VNET_HDR) return; // EAGAIN, or the TAP went away (its detach follows)
      const n = read - VNET_HDR;
      const r = fwd.fromTap(vni, pkt, OUTER, n);
      if ('answer' in r) {
        const answer = Buffer.concat([NO_VNET, r.answer]);
        if (writeFd(fd, answer, answer.length) < 0) fwd.count('drop_tap_error');
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

  const write = (fd: number, b: Buffer, len: number): void => {
    if (writeFd(fd, b, len) < 0) fwd.count('drop_tap_error');
    else fwd.count('tap_frames_out');
  };
  /** Writes the run collected so far: one frame as it came, several as one GSO frame. */
  const flush = (): void => {
    if (run.size === 1) {
      const s = run.frames[0]!;
      s.b.fill(0, 0, VNET_HDR);
      write(runFd, s.b, VNET_HDR + s.len);
    } else if (run.size > 1) {
      fwd.count('coalesced', run.size - 1);
      write(runFd, merged, run.merge(merged));
    }
    run.frames.length = 0;
  };

  const fromUnderlay = (): void => {
    for (let i = 0; i < BUDGET; i++) {
      const slot = slots[i]!;
      fromLen.writeUInt32LE(16);
      const n = recvFrom(sock, slot.subarray(VNET_HDR - VXLAN_HEADER), MAX_FRAME, 0, from, fromLen);
      if (n < 0) break; // EAGAIN: drained
      const fd = fwd.fromUnderlay(from.readUInt32BE(4), slot.subarray(VNET_HDR - VXLAN_HEADER), n);
      if (fd < 0) continue;
      const len = n - VXLAN_HEADER;
      const payload = tcpPayload(slot, VNET_HDR, len);
      const whole = payload > 0 && tcpChecksumOk(slot, VNET_HDR, len);
      if (whole && run.size > 0 && fd === runFd && run.add(slot, VNET_HDR, len, payload)) continue;
      flush();
      runFd = fd;
      if (whole) run.start(slot, VNET_HDR, len, payload);
      else {
        slot.fill(0, 0, VNET_HDR);
        write(fd, slot, VNET_HDR + len);
      }
    }
    flush();
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
