// Persistent TAP devices. rtnetlink cannot create them, so this is the TUNSETIFF/TUNSETPERSIST
// ioctl pair on /dev/net/tun, done inside the target namespace: a TAP belongs to the namespace
// /dev/net/tun was opened in.

import fs from 'node:fs';
import koffi from 'koffi';
import { IFF_NO_PI, IFF_TAP, TUNSETIFF, TUNSETPERSIST } from './constants.js';
import { errnoName, toNetError } from './errors.js';
import { inNetns } from './netns.js';
import { NetError } from './types.js';

const libc = koffi.load('libc.so.6');
const ioctl = libc.func('int ioctl(int fd, unsigned long request, ...)') as (...args: unknown[]) => number;

const IFREQ_LEN = 40;

/** Creates the TAP `name` in `netns` (null: our own). `persist` false gives a throwaway that vanishes on return. */
export function createTapDevice(netns: string | null, name: string, persist = true): void {
  const operation = 'create tap';
  inNetns(netns, operation, () => {
    let fd: number;
    try {
      fd = fs.openSync('/dev/net/tun', 'r+');
    } catch (err) {
      throw toNetError(err, operation, name);
    }
    try {
      const ifr = Buffer.alloc(IFREQ_LEN);
      ifr.write(name, 0, 'utf8');
      ifr.writeUInt16LE(IFF_TAP | IFF_NO_PI, 16);
      if (ioctl(fd, TUNSETIFF, 'void *', ifr) !== 0) throw new NetError(errnoName(koffi.errno()), operation, name, 'TUNSETIFF');
      if (persist && ioctl(fd, TUNSETPERSIST, 'int', 1) !== 0) {
        throw new NetError(errnoName(koffi.errno()), operation, name, 'TUNSETPERSIST');
      }
    } finally {
      fs.closeSync(fd);
    }
  });
}
