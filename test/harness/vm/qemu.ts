// Test VMs (command lines from lab/vm/qemu.ts), run by the test: a VM host whose underlay NIC is
// a UDP socket link to the other VM, or a tenant's guest. A tenant's guest runs in a lab host's
// namespace, as a hypervisor on that host would, with a vxcloud TAP NIC as its network; its
// helper is reached over a virtio serial port on a unix socket. Stopped by its PID.

import { spawn, type ChildProcess } from 'node:child_process';
import { open, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, tapNicArgs, vmArgs, vmHostDevices, type VmCommon } from '../../../lab/vm/qemu.js';
import { helperRequest, type ExecResult, type HelperChannel } from '../../../lab/vm/helper.js';
import { isAlive } from '../../../lib/process.js';

export interface VmOptions extends VmCommon {
  underlayAddress: string;
  /** UDP ports of the underlay link: ours and the peer's. */
  linkPort: number;
  peerLinkPort: number;
}

export interface GuestOptions extends VmCommon {
  /**
   * A TAP NIC: the namespace of the lab host it is on (QEMU runs there), its TAP device (its
   * observed host interface) and MAC. Without one the guest has no network of the tenant's.
   */
  nic?: { netns: string; tap: string; mac: string };
  /** More QEMU arguments: disks, another NIC. */
  extra?: string[];
}

/** Prefix of a run's folder under the temp dir: `vxvm-<pid>-`, so that leftovers can be told dead. */
export const runPrefix = (pid = process.pid): string => `vxvm-${pid}-`;

/**
 * Leftovers of runs whose test process died without its teardown: their QEMUs (found by the
 * run folder in their command line, each killed by its PID) and the folders.
 */
export async function sweepDeadRuns(tmp: string): Promise<void> {
  const dead = (await readdir(tmp)).filter((n) => {
    const m = /^vxvm-(\d+)-/.exec(n);
    return m !== null && !isAlive(Number(m[1]));
  });
  if (dead.length === 0) return;
  for (const pid of (await readdir('/proc')).filter((p) => /^\d+$/.test(p))) {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.startsWith('qemu-system-x86_64\0') && dead.some((d) => cmdline.includes(join(tmp, d)))) process.kill(Number(pid), 'SIGKILL');
  }
  for (const d of dead) await rm(join(tmp, d), { recursive: true, force: true });
}

/** How long a test file may wait for another's VMs (three VM files of a few minutes each). */
export const VM_LOCK_WAIT_MS = 900_000;

/**
 * Two TCG VMs at once is what two cores carry, and vitest runs two test files at a time: a test
 * file holds this lock while its VMs run. The lock file names its holder, so a dead one's is taken over.
 */
export async function lockVms(timeoutMs = VM_LOCK_WAIT_MS - 10_000): Promise<() => Promise<void>> {
  const path = '/run/vxcloud-test-vms.lock';
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      const fh = await open(path, 'wx');
      await fh.writeFile(String(process.pid));
      await fh.close();
      return () => rm(path, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const holder = Number(await readFile(path, 'utf8').catch(() => ''));
      if (holder > 0 && !isAlive(holder)) await rm(path, { force: true });
      else if (Date.now() > end) throw new Error(`VMs of process ${holder} still running after ${timeoutMs} ms`, { cause: e });
      else await new Promise((r) => setTimeout(r, 500));
    }
  }
}

export class Vm {
  readonly console: string[] = [];
  private readonly proc: ChildProcess;
  private exited = false;
  /** One request at a time: a serial port takes one client. */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly name: string,
    /** The agent API's loopback port (a VM host's; 0 for a guest). */
    readonly apiPort: number,
    private readonly channel: HelperChannel,
    argv: string[],
  ) {
    this.proc = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    // The serial console arrives a few bytes at a time: keep whole lines only.
    let partial = '';
    const keep = (d: Buffer): void => {
      const lines = (partial + d.toString()).split(/\r?\n/);
      partial = lines.pop()!;
      this.console.push(...lines.filter((l) => l.trim() !== ''));
      if (this.console.length > 2000) this.console.splice(0, this.console.length - 2000);
    };
    this.proc.stdout!.on('data', keep);
    this.proc.stderr!.on('data', keep);
    this.proc.on('exit', () => {
      this.exited = true;
    });
  }

  /** A VM host. */
  static async start(opts: VmOptions): Promise<Vm> {
    const [apiPort, guestPort] = [await freePort(), await freePort()];
    const devices = vmHostDevices(apiPort, guestPort, `socket,udp=127.0.0.1:${opts.peerLinkPort},localaddr=127.0.0.1:${opts.linkPort}`);
    return new Vm(opts.name, apiPort, { port: guestPort }, ['qemu-system-x86_64', ...vmArgs(opts, 'host', devices, ` vx.ul=${opts.underlayAddress}`)]);
  }

  /** A tenant's guest, on a TAP NIC if it has one. */
  static guest(opts: GuestOptions): Vm {
    const path = join(opts.shareDir, 'helper.sock');
    const devices = [
      ...(opts.nic ? tapNicArgs(opts.nic.tap, opts.nic.mac) : []),
      ...['-device', 'virtio-serial-pci', '-chardev', `socket,id=vx,path=${path},server=on,wait=off`, '-device', 'virtserialport,chardev=vx,name=vx'],
      ...(opts.extra ?? []),
    ];
    const qemu = ['qemu-system-x86_64', ...vmArgs(opts, 'guest', devices)];
    // `ip netns exec` execs in place: the PID is QEMU's.
    return new Vm(opts.name, 0, { path }, opts.nic ? ['ip', 'netns', 'exec', opts.nic.netns, ...qemu] : qemu);
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  /** Waits, at most `timeoutMs`, for a console line matching `re`; fails early if QEMU exits. */
  async waitConsole(re: RegExp, timeoutMs: number): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!this.console.some((l) => re.test(l))) {
      if (this.exited) throw new Error(`${this.name}: QEMU exited before ${re}:\n${this.tail()}`);
      if (Date.now() > end) throw new Error(`${this.name}: no ${re} within ${timeoutMs} ms:\n${this.tail()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  tail(n = 40): string {
    return this.console.slice(-n).join('\n');
  }

  /** One request to the guest helper (see guest.mjs), after the ones before it. */
  private request<T>(req: object, timeoutMs: number): Promise<T> {
    const reply = this.queue.then(() => helperRequest<T>(this.channel, req, timeoutMs));
    this.queue = reply.catch(() => undefined);
    return reply;
  }

  /** Runs argv in the guest (no shell); resolves with its exit code and output. */
  exec(argv: string[], timeoutMs = 20_000): Promise<ExecResult> {
    return this.request({ op: 'exec', argv, timeoutMs }, timeoutMs + 10_000);
  }

  /** Starts argv in the guest and leaves it running (a server). */
  spawn(argv: string[]): Promise<{ pid: number }> {
    return this.request({ op: 'spawn', argv }, 20_000);
  }

  /** Restarts the guest's agent with another config file under /vx. */
  async restartAgent(config: string): Promise<void> {
    await this.request({ op: 'agent', config }, 30_000);
  }

  kill(): void {
    if (this.proc.pid !== undefined && !this.exited) process.kill(this.proc.pid, 'SIGKILL');
  }

  /** Resolves once QEMU is gone (at most `timeoutMs`). */
  async exit(timeoutMs = 10_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!this.exited && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  }
}
