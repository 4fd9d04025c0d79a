// The lab file: what `vxctl lab up` built, read by `lab status|down`, tests and the provider.

import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface LabHost {
  name: string;
  /** The host's network namespace. */
  namespace: string;
  roles: string[];
  underlayAddress: string;
  /** gRPC endpoint of the host's agent. */
  endpoint: string;
  configFile: string;
  stateDir: string;
  logFile: string;
  pid: number;
  /** The agent's metrics address (GET /metrics with the lab's client certificate). */
  metrics?: string;
  /**
   * A VM host (lab/vm): its folder (mounted at /vx in the VM), the loopback ports QEMU forwards
   * to its agent API and its helper (lab/vm/guest.mjs), and the namespace of its underlay TAP.
   * Its `pid` is its QEMU's; it has no namespace here.
   */
  vm?: { dir: string; apiPort: number; helperPort: number; underlayNamespace: string };
}

export interface LabFile {
  name: string;
  dir: string;
  underlayNamespace: string;
  underlayCidr: string;
  /** The operator's client certificate (and the CA) that tools use for every agent. */
  tls: { ca: string; cert: string; key: string };
  /** A client certificate per tenant (vxcloud://tenant/T): its own objects only. */
  tenants?: Record<string, { cert: string; key: string }>;
  hosts: LabHost[];
  /** With `internet`: the namespace that plays the internet for the route hosts' routers. */
  internet?: { namespace: string; cidr: string; gateway: string };
}

export const LAB_ROOT = '/run/vxcloud/labs';

export function labDir(name: string, root = LAB_ROOT): string {
  return join(root, name);
}

export function labFilePath(dir: string): string {
  return join(dir, 'lab.json');
}

export async function readLabFile(path: string): Promise<LabFile> {
  return JSON.parse(await readFile(path, 'utf8')) as LabFile;
}

export async function writeLabFile(lab: LabFile): Promise<void> {
  await writeFile(labFilePath(lab.dir), JSON.stringify(lab, null, 2) + '\n');
}
