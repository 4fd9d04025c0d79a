// Per-namespace sysctls (net.ipv4.ip_forward, ...). /proc/sys/net resolves against the calling
// thread's network namespace, so the file is opened with the thread switched in.

import fs from 'node:fs';
import { toNetError } from './errors.js';
import { inNetns } from './netns.js';
import { NetError } from './types.js';

function sysctlPath(key: string): string {
  if (!/^net(\.[a-z0-9_-]+)+$/.test(key)) throw new NetError('EINVAL', 'sysctl', key, 'only net.* keys');
  return `/proc/sys/${key.replace(/\./g, '/')}`;
}

export function setSysctl(netns: string | null, key: string, value: string): void {
  const path = sysctlPath(key);
  inNetns(netns, 'set sysctl in', () => {
    try {
      fs.writeFileSync(path, value);
    } catch (e) {
      throw toNetError(e, 'set sysctl', `${key} in netns ${netns}`);
    }
  });
}

export function getSysctl(netns: string | null, key: string): string {
  const path = sysctlPath(key);
  return inNetns(netns, 'read sysctl in', () => {
    try {
      return fs.readFileSync(path, 'utf8').trim();
    } catch (e) {
      throw toNetError(e, 'read sysctl', `${key} in netns ${netns}`);
    }
  });
}
