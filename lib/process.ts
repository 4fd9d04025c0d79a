// Whether a process lives: one answer for everything that supervises, adopts or stops processes
// (the agent's daemons, the lab's agents and etcd members, test and bench sweeps).

import { readFileSync } from 'node:fs';

/**
 * Signal 0 reaches it (EPERM: it exists but is not ours to signal), and it is not a zombie — a
 * child that exited but was not reaped yet still answers signal 0.
 */
export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}
