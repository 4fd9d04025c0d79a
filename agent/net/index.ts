// agent/net: the only code that talks to the kernel.

import { RtnlHandle } from './handle.js';
import { createNetns, deleteNetns, listNetns, validateNetnsName } from './netns.js';
import { probe } from './probe.js';
import type { Capabilities, Net, NetHandle } from './types.js';

export * from './types.js';

export interface OpenNetOptions {
  /**
   * Run the host side inside this named namespace instead of the process's own — how tests and
   * labs model a host as a namespace. Probing then happens there too.
   */
  hostNetns?: string;
}

/** A handle inside `netns` (null: the namespace the process runs in). */
export async function openNetHandle(netns: string | null): Promise<NetHandle> {
  if (netns !== null) validateNetnsName(netns);
  return RtnlHandle.open(netns);
}

export async function openNet(opts: OpenNetOptions = {}): Promise<Net> {
  const host = RtnlHandle.open(opts.hostNetns ?? null);
  return {
    host,
    netns: (name: string) => openNetHandle(name),
    listNetns,
    createNetns,
    deleteNetns,
    probe: (): Promise<Capabilities> => probe(host.rtnl, host.netns),
    close: () => host.close(),
  };
}
