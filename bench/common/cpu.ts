// CPU time of processes from /proc/PID/stat: utime and stime of every thread, in clock ticks
// (USER_HZ, 100 per second on Linux).

import { readFile } from 'node:fs/promises';

export const TICK_US = 10_000;

/** utime and stime of a process, all threads, in clock ticks. */
export async function cpuTicks(pid: number): Promise<{ user: number; system: number }> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(f[11]), system: Number(f[12]) };
}
