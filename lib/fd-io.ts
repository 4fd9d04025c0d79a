// pread/pwrite on a descriptor that a FileHandle owns (open, truncate, datasync, close): the
// callback API on the fd, because per 4 KiB request FileHandle's promise path cost 10% (writes)
// to 50% (reads) of the NBD server's IOPS on the bench machine.

import fs from 'node:fs';

export function pread(fd: number, buf: Buffer, at: number, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => {
    fs.read(fd, buf, at, length, position, (err, n) => (err ? reject(err) : resolve(n)));
  });
}

export function pwrite(fd: number, buf: Buffer, at: number, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => {
    fs.write(fd, buf, at, length, position, (err, n) => (err ? reject(err) : resolve(n)));
  });
}
