// Namespaces for one test file: a run-unique prefix (vxt-<pid>-<random>), a sweep of leftovers
// from runs whose process is gone, and removal of everything at the end even on failure.

import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { promisify } from 'node:util';
import { isAlive } from '../../../lib/process.js';

const exec = promisify(execFile);

const FAMILY = 'vxt-';

/** argv only, bounded in time; returns stdout. */
export async function run(argv: string[], timeoutMs = 10_000): Promise<string> {
  const [cmd, ...args] = argv;
  const { stdout } = await exec(cmd!, args, { timeout: timeoutMs, maxBuffer: 64 << 20 });
  return stdout;
}

export async function runInNs(ns: string, argv: string[], timeoutMs = 10_000): Promise<string> {
  return run(['ip', 'netns', 'exec', ns, ...argv], timeoutMs);
}

// One ICMP echo with a 1 s timeout, for machines without iputils ping: a raw socket in python3,
// run through `ip netns exec` like ping would be.
const PY_PING = `
import os, socket, struct, sys, time
dst = sys.argv[1]
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.settimeout(1.0)
ident = os.getpid() & 0xffff
def csum(b):
    t = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    t = (t >> 16) + (t & 0xffff); t += t >> 16
    return ~t & 0xffff
body = b'vxcloud-ping'
hdr = struct.pack('!BBHHH', 8, 0, 0, ident, 1)
s.sendto(struct.pack('!BBHHH', 8, 0, csum(hdr + body), ident, 1) + body, (dst, 0))
end = time.time() + 1.0
while time.time() < end:
    try:
        data, addr = s.recvfrom(2048)
    except socket.timeout:
        break
    ihl = (data[0] & 15) * 4
    t, _, _, i, _ = struct.unpack('!BBHHH', data[ihl:ihl + 8])
    if t == 0 and i == ident and addr[0] == dst:
        sys.exit(0)
sys.exit(1)
`;

/** `ping -c1 -W1 ip` inside `ns`: true when an echo reply came back. */
export async function ping(ns: string, ip: string): Promise<boolean> {
  return runInNs(ns, ['python3', '-c', PY_PING, ip], 5_000).then(
    () => true,
    () => false,
  );
}

/** Removes vxt-<pid>-* namespaces whose run (pid) has ended. */
export async function sweepLeftovers(): Promise<void> {
  let names: string[];
  try {
    names = fs.readdirSync('/run/netns');
  } catch {
    return;
  }
  for (const name of names) {
    const m = /^vxt-(\d+)-/.exec(name);
    if (m && !isAlive(Number(m[1]))) await run(['ip', 'netns', 'del', name]).catch(() => undefined);
  }
}

export class Lab {
  readonly prefix = `${FAMILY}${process.pid}-${randomBytes(3).toString('hex')}`;
  private readonly made: string[] = [];

  /** Creates namespace `<prefix>-<tag>` with lo up and returns its name. */
  async netns(tag: string): Promise<string> {
    const name = `${this.prefix}-${tag}`;
    await run(['ip', 'netns', 'add', name]);
    this.made.push(name);
    await runInNs(name, ['ip', 'link', 'set', 'lo', 'up']);
    return name;
  }

  /** A name for a namespace that the code under test will create itself. */
  nsName(tag: string): string {
    const name = `${this.prefix}-${tag}`;
    this.made.push(name);
    return name;
  }

  async cleanup(): Promise<void> {
    for (const name of this.made.splice(0).reverse()) {
      if (fs.existsSync(`/run/netns/${name}`)) await run(['ip', 'netns', 'del', name]).catch(() => undefined);
    }
  }
}
