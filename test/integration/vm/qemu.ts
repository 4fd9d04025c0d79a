// One VM host under QEMU TCG (KVM does not work on these machines): the stock kernel, the host's
// /usr, /etc and the repo shared read-only, a per-VM folder with its config and certificates, an
// underlay NIC on a UDP socket link to the other VM, and a user-mode NIC that only forwards two
// loopback ports in (the agent API and the guest helper). Stopped by its PID.

import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile, rm } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { join } from 'node:path';
import type { Artefacts } from './artefacts.js';
import { isAlive } from '../../../lib/process.js';

export interface VmOptions {
  name: string;
  artefacts: Artefacts;
  repo: string;
  /** Folder mounted at /vx: guest.json, configs, certificates. */
  shareDir: string;
  underlayAddress: string;
  /** UDP ports of the underlay link: ours and the peer's. */
  linkPort: number;
  peerLinkPort: number;
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

/** A free TCP port on 127.0.0.1 (then released, so QEMU can bind it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

export class Vm {
  readonly console: string[] = [];
  private readonly proc: ChildProcess;
  private exited = false;

  private constructor(
    readonly name: string,
    readonly apiPort: number,
    readonly guestPort: number,
    opts: VmOptions,
  ) {
    const share = (path: string, tag: string): string[] => ['-virtfs', `local,path=${path},mount_tag=${tag},security_model=none,readonly=on`];
    const args = [
      ...['-accel', 'tcg', '-cpu', 'max', '-m', '768', '-smp', '1'],
      ...['-nodefaults', '-display', 'none', '-serial', 'stdio', '-monitor', 'none', '-no-reboot'],
      ...['-kernel', opts.artefacts.kernel, '-initrd', opts.artefacts.initrd],
      // no_timer_check: under TCG on a loaded host the kernel's IO-APIC timer probe can time out
      // and panic ("IO-APIC + timer doesn't work!").
      ...['-append', `console=ttyS0 panic=-1 quiet no_timer_check vx.repo=${opts.repo} vx.ul=${opts.underlayAddress}`],
      // restrict=on: the guest reaches nothing outside; only these two loopback ports come in.
      ...['-netdev', `user,id=mgmt,restrict=on,net=198.51.100.0/24,hostfwd=tcp:127.0.0.1:${apiPort}-:7443,hostfwd=tcp:127.0.0.1:${guestPort}-:7000`],
      ...['-device', 'virtio-net-pci,netdev=mgmt,romfile=,addr=0x3'],
      ...['-netdev', `socket,id=ul,udp=127.0.0.1:${opts.peerLinkPort},localaddr=127.0.0.1:${opts.linkPort}`],
      ...['-device', 'virtio-net-pci,netdev=ul,romfile=,addr=0x4'],
      ...share('/usr', 'usr'),
      ...share('/etc', 'etc'),
      ...share(opts.repo, 'repo'),
      ...share(opts.shareDir, 'vx'),
    ];
    this.proc = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
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

  static async start(opts: VmOptions): Promise<Vm> {
    return new Vm(opts.name, await freePort(), await freePort(), opts);
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

  /** One request to the guest helper (see guest.mjs). */
  private request<T>(req: object, timeoutMs: number): Promise<T> {
    return new Promise((resolve, reject) => {
      const sock = connect(this.guestPort, '127.0.0.1');
      let buf = '';
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new Error(`${this.name}: guest helper did not answer ${JSON.stringify(req)} within ${timeoutMs} ms`));
      }, timeoutMs);
      sock.on('data', (d) => {
        buf += d.toString();
        const i = buf.indexOf('\n');
        if (i < 0) return;
        clearTimeout(timer);
        sock.end();
        resolve(JSON.parse(buf.slice(0, i)) as T);
      });
      sock.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      sock.write(`${JSON.stringify(req)}\n`);
    });
  }

  /** Runs argv in the guest (no shell); resolves with its exit code and output. */
  exec(argv: string[], timeoutMs = 20_000): Promise<{ code: number; stdout: string; stderr: string }> {
    return this.request({ op: 'exec', argv, timeoutMs }, timeoutMs + 10_000);
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
