// Listen addresses as configs spell them: `unix:///path` or `host:port`.

import { mkdir, rm } from 'node:fs/promises';
import { dirname } from 'node:path';

export type ListenAddress = { path: string } | { host: string; port: number };

export function parseListen(address: string): ListenAddress {
  if (address.startsWith('unix://')) return { path: address.slice('unix://'.length) };
  const at = address.lastIndexOf(':');
  return { host: address.slice(0, at), port: Number(address.slice(at + 1)) };
}

/** For a unix socket: its directory made, and a socket left by a killed process removed, so that bind succeeds. */
export async function freeSocketPath(address: ListenAddress): Promise<void> {
  if (!('path' in address)) return;
  await mkdir(dirname(address.path), { recursive: true, mode: 0o755 });
  await rm(address.path, { force: true });
}
