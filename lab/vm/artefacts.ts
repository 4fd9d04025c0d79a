// What a test VM boots — a VM host (`vx.role=host`) or a tenant's guest (`vx.role=guest`):
// Debian's stock kernel (it has bridge VLAN filtering, this machine's does not) and a small
// initramfs — busybox, the kernel modules the agent and a guest need, and an /init that mounts
// the host's /usr, /etc and the repo read-only over 9p, so node, iproute2, e2fsprogs, nbd-client
// and the built agent are the very ones the host has. Both come from Debian packages through apt-get download,
// and are cached under /root/.cache/vxcloud-vm keyed by package versions and this file's inputs.

import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const CACHE_ROOT = '/root/.cache/vxcloud-vm';

/** Modules /init loads (dependencies are found and loaded first). Everything else is built in. */
const MODULES = [
  // first: libcrc32c (nf_tables, nf_conntrack) and ext4 need a crc32c, and there is no SSE4.2 under TCG
  'crc32c_generic',
  ...['virtio_pci', 'virtio_net', '9pnet_virtio', '9p', 'bridge', '8021q', 'vxlan', 'veth', 'tun'],
  // a VM host's security groups (there is no modprobe in the VM to load them on demand)
  ...['br_netfilter', 'nf_tables', 'nft_ct', 'nft_meta_bridge'],
  // a guest's: the helper's channel, disks, the kernel NBD client
  ...['virtio_console', 'virtio_blk', 'ext4', 'nbd', 'af_packet'],
];

/**
 * The VM's /init; `vx.*` kernel arguments say its role, where the repo is and (a VM host) the
 * underlay address. A guest configures no network: its test runs the DHCP client.
 */
const INIT = `#!/bb/busybox sh
/bb/busybox --install -s /bb
export PATH=/usr/sbin:/usr/bin:/bb
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for d in /tmp /run /var; do mount -t tmpfs tmpfs $d; done
ln -s /run /var/run
while read -r m; do insmod /modules/$m || echo "vx-init: insmod $m failed"; done < /modules/order
for a in $(cat /proc/cmdline); do case $a in vx.repo=*) REPO=\${a#vx.repo=};; vx.ul=*) UL=\${a#vx.ul=};; vx.role=*) ROLE=\${a#vx.role=};; esac; done
o=trans=virtio,version=9p2000.L,cache=loose,ro,msize=262144
mount -t 9p -o $o usr /usr && mount -t 9p -o $o etc /etc && mkdir -p $REPO /vx && mount -t 9p -o $o repo $REPO && mount -t 9p -o $o vx /vx || echo "vx-init: 9p mount failed"
ip link set lo up
if [ "$ROLE" = host ]; then
  ip addr add 198.51.100.15/24 dev eth0 && ip link set eth0 up
  ip addr add $UL/24 dev eth1 && ip link set eth1 up
fi
echo "vx-init: starting the guest helper"
exec node $REPO/lab/vm/guest.mjs /vx/guest.json
`;

export interface Artefacts {
  kernel: string;
  initrd: string;
  /** Kernel package and version, for logs. */
  kernelPackage: string;
}

async function candidate(pkg: string): Promise<string> {
  const { stdout } = await run('apt-cache', ['show', '--no-all-versions', pkg]);
  const v = /^Version: (.+)$/m.exec(stdout)?.[1];
  if (!v) throw new Error(`apt-cache knows no version of ${pkg}: run apt-get update`);
  return v;
}

/** The stock kernel package linux-image-amd64 points at now, e.g. linux-image-6.1.0-56-amd64. */
async function kernelPackage(): Promise<string> {
  const { stdout } = await run('apt-cache', ['depends', 'linux-image-amd64']);
  const name = /Depends: (linux-image-[0-9][^\s]*-amd64)/.exec(stdout)?.[1];
  if (!name) throw new Error('apt-cache cannot resolve linux-image-amd64: run apt-get update');
  return name;
}

/** `name=` and `depends=` from a module's .modinfo ELF section (no kmod on the host). */
export function modinfo(ko: Buffer): { name: string; depends: string[] } {
  const shoff = Number(ko.readBigUInt64LE(0x28));
  const shentsize = ko.readUInt16LE(0x3a);
  const shnum = ko.readUInt16LE(0x3c);
  const shstr = ko.readUInt16LE(0x3e);
  const sec = (i: number): { name: number; off: number; size: number } => {
    const b = shoff + i * shentsize;
    return { name: ko.readUInt32LE(b), off: Number(ko.readBigUInt64LE(b + 0x18)), size: Number(ko.readBigUInt64LE(b + 0x20)) };
  };
  const names = sec(shstr);
  for (let i = 0; i < shnum; i++) {
    const s = sec(i);
    const end = ko.indexOf(0, names.off + s.name);
    if (ko.toString('latin1', names.off + s.name, end) !== '.modinfo') continue;
    const fields = ko.toString('latin1', s.off, s.off + s.size).split('\0');
    const get = (k: string): string => fields.find((f) => f.startsWith(`${k}=`))?.slice(k.length + 1) ?? '';
    return { name: get('name'), depends: get('depends').split(',').filter(Boolean) };
  }
  throw new Error('no .modinfo section');
}

async function listKo(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await listKo(p)));
    else if (e.name.endsWith('.ko')) out.push(p);
  }
  return out;
}

/** Module files in load order: each after its dependencies. Built-in ones have no file and are skipped. */
async function moduleOrder(modDir: string): Promise<string[]> {
  const byName = new Map<string, string>();
  for (const p of await listKo(join(modDir, 'kernel'))) byName.set(basename(p, '.ko').replace(/-/g, '_'), p);
  const order: string[] = [];
  const visit = async (name: string): Promise<void> => {
    const p = byName.get(name.replace(/-/g, '_'));
    if (!p || order.includes(p)) return;
    for (const d of modinfo(await readFile(p)).depends) await visit(d);
    order.push(p);
  };
  for (const m of MODULES) await visit(m);
  return order;
}

/** An uncompressed newc cpio archive, which the kernel unpacks as the initramfs; a symlink's data is its target. */
export function cpio(entries: { name: string; mode: number; data?: Buffer }[]): Buffer {
  const parts: Buffer[] = [];
  const pad = (n: number): Buffer => Buffer.alloc((4 - (n % 4)) % 4);
  let ino = 1;
  const push = (name: string, mode: number, data: Buffer): void => {
    const hex = (v: number): string => v.toString(16).padStart(8, '0');
    const nameBuf = Buffer.from(`${name}\0`);
    const hdr = Buffer.from('070701' + [ino++, mode, 0, 0, 1, 0, data.length, 0, 0, 0, 0, nameBuf.length, 0].map(hex).join(''), 'latin1');
    parts.push(hdr, nameBuf, pad(hdr.length + nameBuf.length), data, pad(data.length));
  };
  for (const e of entries) push(e.name, e.mode, e.data ?? Buffer.alloc(0));
  push('TRAILER!!!', 0, Buffer.alloc(0));
  return Buffer.concat(parts);
}

const DIR = 0o040755;
const FILE = 0o100644;
const EXEC = 0o100755;
const LINK = 0o120777;

/** Builds (or finds in the cache) the kernel and initramfs. */
export async function vmArtefacts(): Promise<Artefacts> {
  const kpkg = await kernelPackage();
  const [kver, bbver] = await Promise.all([candidate(kpkg), candidate('busybox-static')]);
  const inputs = createHash('sha256').update(INIT).update(MODULES.join(',')).update(cpio.toString()).digest('hex').slice(0, 12);
  const dir = join(CACHE_ROOT, `${kpkg}_${kver}+busybox_${bbver}+${inputs}`.replace(/[^A-Za-z0-9._+-]/g, '_'));
  const out = { kernel: join(dir, 'vmlinuz'), initrd: join(dir, 'initrd.cpio'), kernelPackage: `${kpkg} ${kver}` };
  if (existsSync(out.kernel) && existsSync(out.initrd)) return out;

  await mkdir(CACHE_ROOT, { recursive: true });
  const work = await mkdtemp(join(CACHE_ROOT, 'build-'));
  try {
    await run('apt-get', ['download', `${kpkg}=${kver}`, `busybox-static=${bbver}`], { cwd: work, timeout: 300_000 });
    const debs = await readdir(work);
    for (const deb of debs.filter((d) => d.endsWith('.deb'))) await run('dpkg-deb', ['-x', join(work, deb), join(work, 'root')], { timeout: 120_000 });
    const root = join(work, 'root');
    const release = kpkg.slice('linux-image-'.length);
    const modules = await moduleOrder(join(root, 'lib/modules', release));
    const entries: { name: string; mode: number; data?: Buffer }[] = [
      ...['bb', 'dev', 'proc', 'sys', 'tmp', 'run', 'var', 'usr', 'etc', 'modules'].map((name) => ({ name, mode: DIR })),
      // merged /usr as on the host, whose binaries, loader and libraries (and absolute symlinks
      // such as /usr/sbin/ip -> /bin/ip) are used; busybox stays apart in /bb for /init only
      ...['bin', 'sbin', 'lib', 'lib64'].map((name) => ({ name, mode: LINK, data: Buffer.from(`usr/${name}`) })),
      { name: 'bb/busybox', mode: EXEC, data: await readFile(join(root, 'bin/busybox')) },
      { name: 'init', mode: EXEC, data: Buffer.from(INIT) },
      { name: 'modules/order', mode: FILE, data: Buffer.from(modules.map((m) => `${basename(m)}\n`).join('')) },
    ];
    for (const m of modules) entries.push({ name: `modules/${basename(m)}`, mode: FILE, data: await readFile(m) });
    const staging = `${dir}.tmp`;
    await rm(staging, { recursive: true, force: true });
    await mkdir(staging, { recursive: true });
    await writeFile(join(staging, 'initrd.cpio'), cpio(entries));
    await rename(join(root, 'boot', `vmlinuz-${release}`), join(staging, 'vmlinuz'));
    // Whole or not at all: a half-built cache entry would be taken as done.
    await rm(dir, { recursive: true, force: true });
    await rename(staging, dir);
    // Entries for older packages or inputs are never used again.
    for (const old of await readdir(CACHE_ROOT)) {
      if (old.startsWith('linux-image-') && join(CACHE_ROOT, old) !== dir) await rm(join(CACHE_ROOT, old), { recursive: true, force: true });
    }
    return out;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
