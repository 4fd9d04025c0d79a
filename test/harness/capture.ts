// tcpdump in a namespace while a test does something: what crossed an interface, line by line.

import { spawn } from 'node:child_process';

/**
 * Captures on `iface` in namespace `ns` (tcpdump -n -l, `args` before the filter) while `during`
 * runs, then waits `settleMs` for stragglers; returns tcpdump's lines.
 */
export async function capture(ns: string, iface: string, args: string[], filter: string[], during: () => Promise<void>, settleMs = 500): Promise<string[]> {
  const p = spawn('ip', ['netns', 'exec', ns, 'tcpdump', '-i', iface, '-n', '-l', ...args, ...filter], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  p.stdout.on('data', (d: Buffer) => (out += d.toString()));
  p.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
  try {
    const until = Date.now() + 10_000;
    while (!err.includes('listening on')) {
      if (Date.now() > until || p.exitCode !== null) throw new Error(`tcpdump on ${ns}/${iface} did not start: ${err.trim()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    await during();
    await new Promise((r) => setTimeout(r, settleMs));
  } finally {
    p.kill('SIGINT');
    await exited;
  }
  return out.split('\n').filter((l) => l.trim() !== '');
}
