// Named network namespaces (the /run/netns convention of iproute2) and running synchronous code
// inside one. Sockets and TAP devices belong to the namespace their creating thread was in, so we
// setns() the main thread in, create, and setns() straight back — all without yielding.

import { execFile } from 'node:child_process';
import fs from 'node:fs';
import koffi from 'koffi';
import { CLONE_NEWNET } from './constants.js';
import { errnoName, toNetError } from './errors.js';
import { NetError } from './types.js';

const NETNS_DIR = '/run/netns';

const libc = koffi.load('libc.so.6');
const setns = libc.func('int setns(int fd, int nstype)') as (fd: number, nstype: number) => number;

let ownNetnsFd: number | undefined;

/** Our own namespace, opened before the first switch so switching back always has a target. */
function ownNetns(): number {
  ownNetnsFd ??= fs.openSync('/proc/thread-self/ns/net', 'r');
  return ownNetnsFd;
}

export function validateNetnsName(name: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/.test(name)) throw new NetError('EINVAL', 'use netns', name, 'bad name');
}

export function netnsPath(name: string): string {
  validateNetnsName(name);
  return `${NETNS_DIR}/${name}`;
}

/** An fd of the namespace, for IFLA_NET_NS_FD; the caller closes it. */
export function openNetns(name: string, operation: string): number {
  try {
    return fs.openSync(netnsPath(name), 'r');
  } catch (err) {
    throw toNetError(err, operation, `netns ${name}`);
  }
}

/** Runs `fn` with this thread inside `name` (null: where we already are). `fn` must not yield. */
export function inNetns<T>(name: string | null, operation: string, fn: () => T): T {
  if (name === null) return fn();
  const back = ownNetns();
  const fd = openNetns(name, operation);
  try {
    if (setns(fd, CLONE_NEWNET) !== 0) {
      throw new NetError(errnoName(koffi.errno()), operation, `netns ${name}`, 'setns');
    }
    try {
      return fn();
    } finally {
      if (setns(back, CLONE_NEWNET) !== 0) {
        // Staying would make every later call program the wrong namespace.
        process.stderr.write(`agent/net: cannot return from netns ${name}: ${errnoName(koffi.errno())}\n`);
        process.abort();
      }
    }
  } finally {
    fs.closeSync(fd);
  }
}

function ip(args: string[], operation: string, object: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('ip', args, { timeout: 10_000 }, (err, _stdout, stderr) => {
      if (!err) return resolve();
      const errno = /File exists/.test(stderr) ? 'EEXIST' : /No such file/.test(stderr) ? 'ENOENT' : 'EIO';
      reject(new NetError(errno, operation, object, stderr.trim() || err.message));
    });
  });
}

export async function listNetns(): Promise<string[]> {
  try {
    return (await fs.promises.readdir(NETNS_DIR)).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw toNetError(err, 'list', 'netns');
  }
}

export async function createNetns(name: string): Promise<void> {
  validateNetnsName(name);
  if (fs.existsSync(netnsPath(name))) throw new NetError('EEXIST', 'create', `netns ${name}`);
  await ip(['netns', 'add', name], 'create', `netns ${name}`);
}

export async function deleteNetns(name: string): Promise<void> {
  validateNetnsName(name);
  if (!fs.existsSync(netnsPath(name))) return;
  await ip(['netns', 'del', name], 'delete', `netns ${name}`);
}
