// Packet I/O for the userspace VTEP (agent/vtep): plain syscalls through koffi, for a worker
// thread that blocks in epoll_wait and moves frames between TAP fds and the underlay. Node's own
// sockets cannot send from a chosen UDP source port per datagram (the inner flow hash), so sending
// is a raw IPv4 socket with our own IP and UDP headers; receiving is an ordinary UDP socket.

import koffi from 'koffi';
import { errnoName } from './errors.js';
import { NetError } from './types.js';

const libc = koffi.load('libc.so.6');
const fn = <T>(decl: string): T => libc.func(decl) as T;

const socketFn = fn<(domain: number, type: number, proto: number) => number>('int socket(int domain, int type, int protocol)');
const bindFn = fn<(fd: number, addr: Buffer, len: number) => number>('int bind(int fd, const void *addr, uint32_t len)');
const setsockopt = fn<(fd: number, level: number, name: number, val: Buffer, len: number) => number>(
  'int setsockopt(int fd, int level, int name, const void *val, uint32_t len)',
);
const closeFn = fn<(fd: number) => number>('int close(int fd)');
const epollCreate1 = fn<(flags: number) => number>('int epoll_create1(int flags)');
const epollCtl = fn<(epfd: number, op: number, fd: number, ev: Buffer | null) => number>('int epoll_ctl(int epfd, int op, int fd, void *ev)');
const epollWait = fn<(epfd: number, evs: Buffer, max: number, timeout: number) => number>('int epoll_wait(int epfd, void *evs, int max, int timeout)');
const eventfdFn = fn<(initval: number, flags: number) => number>('int eventfd(unsigned int initval, int flags)');

/** read(2), write(2), recvfrom(2), sendto(2): -1 on error (EAGAIN when a non-blocking fd has nothing). */
export const readFd = fn<(fd: number, buf: Uint8Array, n: number) => number>('long read(int fd, void *buf, size_t n)');
export const writeFd = fn<(fd: number, buf: Uint8Array, n: number) => number>('long write(int fd, const void *buf, size_t n)');
export const recvFrom = fn<(fd: number, buf: Uint8Array, n: number, flags: number, addr: Buffer, addrLen: Buffer) => number>(
  'long recvfrom(int fd, void *buf, size_t n, int flags, void *addr, void *addrlen)',
);
export const sendTo = fn<(fd: number, buf: Uint8Array, n: number, flags: number, addr: Buffer, addrLen: number) => number>(
  'long sendto(int fd, const void *buf, size_t n, int flags, const void *addr, uint32_t addrlen)',
);

const AF_INET = 2;
const SOCK_DGRAM = 2;
const SOCK_RAW = 3;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const IPPROTO_RAW = 255;
const SOL_SOCKET = 1;
const SO_SNDBUFFORCE = 32;
const SO_RCVBUFFORCE = 33;
const EPOLLIN = 1;
const EPOLL_CTL_ADD = 1;
const EPOLL_CTL_DEL = 2;

function check(ret: number, operation: string, object: string): number {
  if (ret < 0) throw new NetError(errnoName(koffi.errno()), operation, object);
  return ret;
}

export const closeFd = (fd: number): void => void closeFn(fd);

const fcntl = fn<(fd: number, cmd: number, ...args: unknown[]) => number>('int fcntl(int fd, int cmd, ...)');
const F_DUPFD_CLOEXEC = 1030;
/** A second fd on the same open file, close-on-exec like the first (each VTEP thread owns one per TAP). */
export const dupFd = (fd: number, object: string): number => check(fcntl(fd, F_DUPFD_CLOEXEC, 'int', 0), 'dup', object);

/** struct sockaddr_in for an IPv4 address held as a number. */
export function sockaddrIn(address: number, port: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt16LE(AF_INET, 0);
  b.writeUInt16BE(port, 2);
  b.writeUInt32BE(address >>> 0, 4);
  return b;
}

function bufferSize(fd: number, option: number, bytes: number, object: string): void {
  const v = Buffer.alloc(4);
  v.writeInt32LE(bytes);
  check(setsockopt(fd, SOL_SOCKET, option, v, 4), 'set socket buffer', object);
}

/** A non-blocking UDP socket bound to `address:port`, with a receive buffer for bursts. */
export function udpSocket(address: number, port: number, object: string): number {
  const fd = check(socketFn(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), 'create udp socket', object);
  try {
    bufferSize(fd, SO_RCVBUFFORCE, 8 << 20, object);
    check(bindFn(fd, sockaddrIn(address, port), 16), 'bind', object);
    return fd;
  } catch (e) {
    closeFn(fd);
    throw e;
  }
}

/** A blocking send-only raw IPv4 socket (IPPROTO_RAW: we write the IP header, it receives nothing). */
export function rawIpSocket(object: string): number {
  const fd = check(socketFn(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW), 'create raw socket', object);
  bufferSize(fd, SO_SNDBUFFORCE, 4 << 20, object);
  return fd;
}

/** A non-blocking eventfd: the way another thread wakes an epoll loop. */
export function eventFd(): number {
  return check(eventfdFn(0, SOCK_NONBLOCK | SOCK_CLOEXEC), 'create', 'eventfd');
}

const ONE = Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]);
export const signalEventFd = (fd: number): void => void writeFd(fd, ONE, 8);

/** Level-triggered epoll over readable fds, each with a caller's 32-bit tag. */
export class Epoll {
  private readonly fd = check(epollCreate1(SOCK_CLOEXEC), 'create', 'epoll');
  private readonly events: Buffer;

  constructor(private readonly max = 64) {
    this.events = Buffer.alloc(12 * max);
  }

  add(fd: number, tag: number): void {
    const ev = Buffer.alloc(12); // packed struct epoll_event { u32 events; u64 data; }
    ev.writeUInt32LE(EPOLLIN, 0);
    ev.writeUInt32LE(tag >>> 0, 4);
    check(epollCtl(this.fd, EPOLL_CTL_ADD, fd, ev), 'epoll add', `fd ${fd}`);
  }

  remove(fd: number): void {
    epollCtl(this.fd, EPOLL_CTL_DEL, fd, null);
  }

  /** Blocks up to `timeoutMs` (-1: for ever); returns the tags of ready fds. */
  wait(timeoutMs: number): number[] {
    const n = epollWait(this.fd, this.events, this.max, timeoutMs);
    const tags: number[] = [];
    for (let i = 0; i < n; i++) tags.push(this.events.readUInt32LE(12 * i + 4));
    return tags;
  }

  close(): void {
    closeFn(this.fd);
  }
}
