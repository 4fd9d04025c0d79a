// Persistent TAP devices. rtnetlink cannot create them, so this is the TUNSETIFF/TUNSETPERSIST
// ioctl pair on /dev/net/tun, done inside the target namespace: a TAP belongs to the namespace
// /dev/net/tun was opened in.

import fs from 'node:fs';
import koffi from 'koffi';
import { IFF_NO_PI, IFF_TAP, IFF_VNET_HDR, TUNSETIFF, TUNSETPERSIST } from './constants.js';
import { errnoName, toNetError } from './errors.js';
import { inNetns } from './netns.js';
import { NetError } from './types.js';

const libc = koffi.load('libc.so.6');
const ioctl = libc.func('int ioctl(int fd, unsigned long request, ...)') as (...args: unknown[]) => number;

const IFREQ_LEN = 40;

/** TUNSETIFF on a fresh /dev/net/tun fd in `netns` (null: our own): creates `name`, or attaches to it. Returns the fd. */
function tunSetIff(netns: string | null, name: string, operation: string, nonBlocking = false, vnetHdr = false): number {
  return inNetns(netns, operation, () => {
    let fd: number;
    try {
      fd = fs.openSync('/dev/net/tun', fs.constants.O_RDWR | (nonBlocking ? fs.constants.O_NONBLOCK : 0));
    } catch (err) {
      throw toNetError(err, operation, name);
    }
    const ifr = Buffer.alloc(IFREQ_LEN);
    ifr.write(name, 0, 'utf8');
    ifr.writeUInt16LE(IFF_TAP | IFF_NO_PI | (vnetHdr ? IFF_VNET_HDR : 0), 16);
    if (ioctl(fd, TUNSETIFF, 'void *', ifr) !== 0) {
      const errno = koffi.errno();
      fs.closeSync(fd);
      throw new NetError(errnoName(errno), operation, name, 'TUNSETIFF');
    }
    return fd;
  });
}

/** Creates the TAP `name` in `netns` (null: our own). `persist` false gives a throwaway that vanishes on return. */
export function createTapDevice(netns: string | null, name: string, persist = true): void {
  const operation = 'create tap';
  const fd = tunSetIff(netns, name, operation);
  try {
    if (persist && ioctl(fd, TUNSETPERSIST, 'int', 1) !== 0) throw new NetError(errnoName(koffi.errno()), operation, name, 'TUNSETPERSIST');
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * An fd carrying the frames of the persistent TAP `name` in `netns`, for a process that runs
 * elsewhere (a VM's QEMU takes it as `-netdev tap,fd=N`). The caller closes it.
 */
export function openTapDevice(netns: string, name: string): number {
  return tunSetIff(netns, name, 'open tap');
}

/**
 * A non-blocking fd on the persistent TAP `name` in our own namespace, for the userspace VTEP's
 * epoll loop, with a virtio-net header before every frame read or written (so that a write can
 * carry a GSO frame). EBUSY while another process holds it (a TAP without multi-queue takes one reader).
 */
export function attachTapDevice(name: string): number {
  return tunSetIff(null, name, 'attach tap', true, true);
}
