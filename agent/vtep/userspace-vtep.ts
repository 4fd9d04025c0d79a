// The agent's side of the TAP transport: starts the two data-path threads, attaches subnets' TAP
// devices to them, and holds each subnet's VTEP table in the kernel FDB's own shape, so the
// reconciler converges these tables with the same code as a kernel vxlan device's.

import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { FLOOD_MAC, type VtepTableStore } from '../l2/subnet.js';
import type { FdbEntry, NeighborEntry } from '../net/types.js';
import { attachTapDevice } from '../net/tap.js';
import { closeFd, dupFd, eventFd, signalEventFd } from '../net/packet-io.js';
import { COUNTERS, type CounterName } from './forwarder.js';
import type { Control, WorkerData } from './worker.js';

interface Device {
  vni: number;
  /** The TAP's ifindex when attached: a TAP deleted and made again has another, and is attached again. */
  ifindex: number;
  fdb: Map<string, FdbEntry>;
  neighbors: Map<string, NeighborEntry>;
}

const fdbKey = (e: FdbEntry): string => (e.mac === FLOOD_MAC ? `${e.mac}>${e.dst}` : e.mac);

/** One data-path thread (worker.ts): how to reach it, and its counters. */
interface Thread {
  worker: Worker;
  control: MessagePort;
  wake: number;
  counters: Float64Array;
}

async function startThread(direction: WorkerData['direction'], address: string, port: number): Promise<Thread> {
  const counters = new SharedArrayBuffer(8 * COUNTERS.length);
  const control = new MessageChannel();
  const status = new MessageChannel();
  const wake = eventFd();
  const data: WorkerData = { direction, address, port, counters, control: control.port2, wake, status: status.port2 };
  const worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: data, transferList: [control.port2, status.port2] });
  const first = await new Promise<{ ready?: true; error?: string }>((resolve, reject) => {
    status.port1.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the userspace VTEP worker exited with ${code}`)));
  });
  status.port1.close();
  if (first.error !== undefined) {
    closeFd(wake);
    throw new Error(`transport tap: ${first.error}`);
  }
  // The data path runs for the agent's life; it must not keep a stopping process alive.
  worker.unref();
  return { worker, control: control.port1, wake, counters: new Float64Array(counters) };
}

export class UserspaceVtep implements VtepTableStore {
  private readonly devices = new Map<string, Device>();

  private constructor(private readonly threads: Thread[]) {}

  /** Starts the data path on `address:port` of this host's namespace; fails if it cannot bind there. */
  static async start(address: string, port: number): Promise<UserspaceVtep> {
    const inbound = await startThread('in', address, port);
    try {
      return new UserspaceVtep([await startThread('out', address, port), inbound]);
    } catch (e) {
      await stopThread(inbound);
      throw e;
    }
  }

  /** To both threads. */
  private post(c: Control): void {
    for (const t of this.threads) send(t, c);
  }

  /** Makes `dev` (ifindex `ifindex`) the TAP of `vni`, opening it again if it is a new device. */
  attach(vni: number, dev: string, ifindex: number): void {
    const d = this.devices.get(dev);
    if (d && d.vni === vni && d.ifindex === ifindex) return;
    const fd = attachTapDevice(dev);
    const fds = [fd, dupFd(fd, dev)];
    const next: Device = d && d.vni === vni ? { ...d, ifindex } : { vni, ifindex, fdb: new Map(), neighbors: new Map() };
    this.devices.set(dev, next);
    // Each thread owns (and closes) its own fd of the TAP.
    this.threads.forEach((t, i) => send(t, { op: 'attach', vni, fd: fds[i]! }));
    this.push(dev);
  }

  isAttached(dev: string, ifindex: number): boolean {
    return this.devices.get(dev)?.ifindex === ifindex;
  }

  detach(dev: string): void {
    const d = this.devices.get(dev);
    if (!d) return;
    this.devices.delete(dev);
    this.post({ op: 'detach', vni: d.vni });
  }

  private device(dev: string): Device {
    const d = this.devices.get(dev);
    if (!d) throw new Error(`the userspace VTEP has no TAP ${dev} attached`);
    return d;
  }

  private push(dev: string): void {
    const d = this.device(dev);
    const all = [...d.fdb.values()];
    this.post({
      op: 'table',
      vni: d.vni,
      table: {
        flood: all.filter((e) => e.mac === FLOOD_MAC).map((e) => e.dst),
        fdb: all.filter((e) => e.mac !== FLOOD_MAC),
        neighbors: [...d.neighbors.values()],
      },
    });
  }

  async fdb(dev: string): Promise<FdbEntry[]> {
    return [...(this.devices.get(dev)?.fdb.values() ?? [])];
  }

  async replaceFdb(dev: string, entries: FdbEntry[]): Promise<void> {
    const d = this.device(dev);
    for (const e of entries) d.fdb.set(fdbKey(e), { mac: e.mac, dst: e.dst });
    this.push(dev);
  }

  async deleteFdb(dev: string, entries: FdbEntry[]): Promise<void> {
    const d = this.device(dev);
    for (const e of entries) if (d.fdb.get(fdbKey(e))?.dst === e.dst) d.fdb.delete(fdbKey(e));
    this.push(dev);
  }

  async neighbors(dev: string): Promise<NeighborEntry[]> {
    return [...(this.devices.get(dev)?.neighbors.values() ?? [])];
  }

  async replaceNeighbors(dev: string, entries: NeighborEntry[]): Promise<void> {
    const d = this.device(dev);
    for (const e of entries) d.neighbors.set(e.ip, { ip: e.ip, mac: e.mac });
    this.push(dev);
  }

  async deleteNeighbors(dev: string, entries: NeighborEntry[]): Promise<void> {
    const d = this.device(dev);
    for (const e of entries) if (d.neighbors.get(e.ip)?.mac === e.mac) d.neighbors.delete(e.ip);
    this.push(dev);
  }

  /** Stops the threads: a thread blocked in epoll_wait would otherwise hold up the process's exit. */
  async stop(): Promise<void> {
    await Promise.all(this.threads.map(stopThread));
  }

  /** Both threads' counters, summed (each counts only what it does). */
  counters(): Record<CounterName, number> {
    return Object.fromEntries(COUNTERS.map((c, i) => [c, this.threads.reduce((sum, t) => sum + t.counters[i]!, 0)])) as Record<CounterName, number>;
  }
}

/** Posts a control message and wakes the thread to read it. */
function send(t: Thread, c: Control): void {
  t.control.postMessage(c);
  signalEventFd(t.wake);
}

async function stopThread(t: Thread): Promise<void> {
  send(t, { op: 'stop' });
  await new Promise<void>((resolve) => {
    t.worker.once('exit', () => resolve());
    setTimeout(resolve, 2000).unref();
  });
  closeFd(t.wake);
}
