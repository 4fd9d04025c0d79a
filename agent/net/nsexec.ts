// Programs run inside a named namespace (nft, dnsmasq, dhclient). nsenter switches only the network
// namespace and execs in place, so the PID a caller gets is the program's own; argv only, no shell.

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { netnsPath } from './netns.js';
import { NetError } from './types.js';

export function nsenterArgv(netns: string, argv: string[]): string[] {
  return ['nsenter', `--net=${netnsPath(netns)}`, '--', ...argv];
}

/** Runs argv to completion inside `netns` (null: the agent's own); rejects with a NetError carrying its stderr. */
export function execInNetns(netns: string | null, argv: string[], timeoutMs = 10_000): Promise<string> {
  const [file, ...args] = netns === null ? argv : nsenterArgv(netns, argv);
  return new Promise((resolve, reject) => {
    execFile(file!, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      const errno = /No such file or directory/.test(stderr) ? 'ENOENT' : 'EIO';
      reject(new NetError(errno, `run ${argv[0]} in`, `netns ${netns ?? '(own)'}`, stderr.trim() || err.message));
    });
  });
}

/** Starts a long-running program inside `netns` ('': the agent's own); `logFd` takes its stdout and stderr. */
export function spawnInNetns(netns: string, argv: string[], logFd: number): ChildProcess {
  const [file, ...args] = netns === '' ? argv : nsenterArgv(netns, argv);
  // Own session: a signal to the agent's process group does not reach it; the agent stops it by PID.
  return spawn(file!, args, { detached: true, stdio: ['ignore', logFd, logFd] });
}
