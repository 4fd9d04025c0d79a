// QEMU command lines for VMs under TCG (KVM does not work on these machines) on the stock kernel
// of lab/vm/artefacts.ts, with the machine's /usr, /etc and the repo shared read-only and a per-VM
// folder at /vx: the lab's VM hosts and the tests' guests. A VM host has a user-mode management
// NIC that only forwards two loopback ports in (the agent API and the guest helper, lab/vm/guest.mjs)
// and an underlay NIC.

import { createServer } from 'node:net';
import type { Artefacts } from './artefacts.js';

export interface VmCommon {
  name: string;
  artefacts: Artefacts;
  repo: string;
  /** Folder mounted at /vx: guest.json, configs, certificates. */
  shareDir: string;
}

/**
 * What attaches a guest to a vxcloud TAP NIC: QEMU opens the persistent TAP by name (no script
 * brings it up or bridges it: the agent has done both) and gives the guest the NIC's MAC, the
 * only one its port admits.
 */
export const tapNicArgs = (tap: string, mac: string): string[] => [
  ...['-netdev', `tap,id=nic0,ifname=${tap},script=no,downscript=no`],
  ...['-device', `virtio-net-pci,netdev=nic0,mac=${mac},romfile=`],
];

/** A free TCP port on 127.0.0.1 (then released, so QEMU can bind it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * A VM host's NICs: management (the agent API at 127.0.0.1:`apiPort`, the helper at `helperPort`),
 * then the underlay from `underlay` (a QEMU netdev spec without its id).
 */
export const vmHostDevices = (apiPort: number, helperPort: number, underlay: string): string[] => [
  // restrict=on: the VM reaches nothing outside; only these two loopback ports come in.
  ...['-netdev', `user,id=mgmt,restrict=on,net=198.51.100.0/24,hostfwd=tcp:127.0.0.1:${apiPort}-:7443,hostfwd=tcp:127.0.0.1:${helperPort}-:7000`],
  ...['-device', 'virtio-net-pci,netdev=mgmt,romfile=,addr=0x3'],
  ...['-netdev', `${underlay},id=ul`],
  ...['-device', 'virtio-net-pci,netdev=ul,romfile=,addr=0x4'],
];

/** A VM host's agent listens here, behind the management NIC's forward. */
export const VM_HOST_API = '198.51.100.15:7443';

/** Every test VM's kernel, initramfs, console and shares, around its own `devices` (which may name PCI slots). */
export function vmArgs(o: VmCommon, role: 'host' | 'guest', devices: string[], append = ''): string[] {
  const share = (path: string, tag: string): string[] => ['-virtfs', `local,path=${path},mount_tag=${tag},security_model=none,readonly=on`];
  return [
    ...['-accel', 'tcg', '-cpu', 'max', '-m', '768', '-smp', '1'],
    ...['-nodefaults', '-display', 'none', '-serial', 'stdio', '-monitor', 'none', '-no-reboot'],
    ...['-kernel', o.artefacts.kernel, '-initrd', o.artefacts.initrd],
    // no_timer_check: under TCG on a loaded host the kernel's IO-APIC timer probe can time out
    // and panic ("IO-APIC + timer doesn't work!").
    ...['-append', `console=ttyS0 panic=-1 quiet no_timer_check vx.role=${role} vx.repo=${o.repo}${append}`],
    ...devices,
    ...share('/usr', 'usr'),
    ...share('/etc', 'etc'),
    ...share(o.repo, 'repo'),
    ...share(o.shareDir, 'vx'),
  ];
}
