// A lab host that is a QEMU VM running the real agent (the repo's dist/, over 9p) on Debian's
// stock kernel: its underlay NIC is a TAP on the lab's underlay bridge, which QEMU gets as an fd
// opened in the underlay namespace (QEMU itself runs here, so that its forwards of the agent API
// and the helper listen on this machine's loopback).

import { spawn } from 'node:child_process';
import { closeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { openTapDevice } from '../../agent/net/tap.js';
import type { LabHost } from '../labfile.js';
import { vmArtefacts } from './artefacts.js';
import { vmArgs, vmHostDevices } from './qemu.js';

/** Boots the VM of `host` (detached, console to its log file); returns QEMU's PID. */
export async function startVmHost(host: LabHost, repo: string): Promise<number> {
  const vm = host.vm;
  if (!vm) throw new Error(`${host.name} is not a VM host`);
  const artefacts = await vmArtefacts();
  const tap = openTapDevice(vm.underlayNamespace, host.name);
  const log = await open(host.logFile, 'a');
  try {
    const devices = vmHostDevices(vm.apiPort, vm.helperPort, 'tap,fd=3');
    const args = vmArgs({ name: host.name, artefacts, repo, shareDir: vm.dir }, 'host', devices, ` vx.ul=${host.underlayAddress}`);
    const child = spawn('qemu-system-x86_64', args, { detached: true, stdio: ['ignore', log.fd, log.fd, tap] });
    child.unref();
    if (child.pid === undefined) throw new Error(`could not start the VM of ${host.name}`);
    return child.pid;
  } finally {
    closeSync(tap);
    await log.close();
  }
}
