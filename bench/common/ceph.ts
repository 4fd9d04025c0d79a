// A minimal Ceph cluster for benches, bootstrapped by hand from Debian's packages (installed here
// if missing, not by setup.sh): 1 mon, 1 mgr, 3 bluestore OSDs on sparse files in the lab's
// folder, each OSD its own CRUSH host, a pool of size 3 / min_size 2 and one RBD image, and
// qemu-nbd exporting that image on a unix socket. Everything runs in a namespace of the lab
// (`<lab>-ceph`, loopback only), so the lab's teardown removes its network; each daemon owns a
// folder under `<lab dir>/daemons/` whose pid file lets a later run's sweep stop it
// (bench/common/lab.ts) if this run was killed.

import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { waitFor, type BenchLab } from './lab.js';

const PACKAGES = ['ceph-mon', 'ceph-osd', 'ceph-mgr', 'ceph-common', 'qemu-block-extra'];
const OSDS = 3;
/** Each OSD's sparse bluestore file. */
const OSD_BLOCK_BYTES = 8 * 1024 ** 3;

export interface CephCluster {
  /** The namespace its daemons and clients run in. */
  readonly ns: string;
  readonly conf: string;
  /** nbd+unix URI of the image through qemu-nbd. */
  readonly nbdUri: string;
  /** fio arguments for the image through fio's rbd engine (run with `env CEPH_CONF=…` in `ns`). */
  readonly fioRbd: string[];
  /** Daemon name → PID: mon.a, mgr.x, osd.N, qemu-nbd. */
  readonly pids: ReadonlyMap<string, number>;
  readonly version: string;
}

/** Installs the packages the cluster needs, once per machine. */
export async function ensureCephPackages(b: BenchLab): Promise<void> {
  const missing: string[] = [];
  for (const p of PACKAGES) {
    const status = await b.run('dpkg-query', ['-W', '-f=${Status}', p], 10_000).catch(() => ({ stdout: '' }));
    if (!status.stdout.includes('install ok installed')) missing.push(p);
  }
  if (missing.length === 0) return;
  console.log(`installing ${missing.join(' ')} for the Ceph baseline`);
  await b.run('apt-get', ['install', '-y', '--no-install-recommends', ...missing], 900_000);
}

export async function startCeph(b: BenchLab, imageBytes: number): Promise<CephCluster> {
  await ensureCephPackages(b);
  const ns = `${b.lab.name}-ceph`;
  const dir = join(b.lab.dir, 'ceph');
  const conf = join(dir, 'ceph.conf');
  const fsid = randomUUID();
  for (const d of ['run', 'log', 'mon/mon.a', 'mgr/mgr.x', 'osd']) await mkdir(join(dir, d), { recursive: true });
  await b.run('ip', ['netns', 'add', ns], 10_000);
  await b.run('ip', ['-n', ns, 'link', 'set', 'lo', 'up'], 10_000);
  await writeFile(
    conf,
    [
      '[global]',
      `fsid = ${fsid}`,
      'mon host = v2:127.0.0.1:3300',
      'auth cluster required = none',
      'auth service required = none',
      'auth client required = none',
      `run dir = ${dir}/run`,
      `admin socket = ${dir}/run/$name.asok`,
      `log file = ${dir}/log/$name.log`,
      `mon data = ${dir}/mon/$name`,
      `mgr data = ${dir}/mgr/$name`,
      `osd data = ${dir}/osd/$name`,
      `keyring = ${dir}/keyring`,
      'osd objectstore = bluestore',
      'bluestore block create = true',
      `bluestore block size = ${OSD_BLOCK_BYTES}`,
      'osd memory target = 1073741824',
      'osd pool default size = 3',
      'osd pool default min size = 2',
      'mon allow pool delete = true',
      'mon warn on pool no redundancy = false',
      'ms bind ipv6 = false',
      ...Array.from({ length: OSDS }, (_, i) => [`[osd.${i}]`, `crush location = root=default host=h${i}`]).flat(),
      '[client]',
      // Every write reaches the OSDs before it is acknowledged, as ours are.
      'rbd cache = false',
      '',
    ].join('\n'),
  );
  const ceph = (args: string[], timeoutMs = 60_000) => b.exec(ns, ['ceph', '-c', conf, '--connect-timeout', '20', ...args], timeoutMs);
  const pids = new Map<string, number>();
  /** A daemon in the foreground, its pid file in its own folder, which its argv must name. */
  const daemon = async (name: string, argv: (own: string) => string[]): Promise<void> => {
    const own = join(b.lab.dir, 'daemons', name);
    await mkdir(own, { recursive: true });
    const child = b.background(ns, argv(own));
    if (child.pid === undefined) throw new Error(`${name} did not start`);
    await writeFile(join(own, 'process.pid'), `${child.pid}\n`);
    pids.set(name, child.pid);
  };

  await b.run('ceph-authtool', ['--create-keyring', join(dir, 'keyring'), '--gen-key', '-n', 'mon.', '--cap', 'mon', 'allow *'], 30_000);
  await b.run('monmaptool', ['--create', '--fsid', fsid, '--addv', 'a', '[v2:127.0.0.1:3300]', join(dir, 'monmap')], 30_000);
  await b.exec(ns, ['ceph-mon', '-c', conf, '-i', 'a', '--mkfs', '--monmap', join(dir, 'monmap')], 60_000);
  const logged = (argv: string[]) => (own: string) => [...argv, '--log-file', join(own, 'daemon.log')];
  await daemon('mon.a', logged(['ceph-mon', '-f', '-c', conf, '-i', 'a']));
  await waitFor('the Ceph monitor to answer', 60_000, async () => (await ceph(['mon', 'stat']), true));
  await daemon('mgr.x', logged(['ceph-mgr', '-f', '-c', conf, '-i', 'x']));
  for (let i = 0; i < OSDS; i++) {
    const uuid = randomUUID();
    const id = (await ceph(['osd', 'new', uuid])).stdout.trim();
    await mkdir(join(dir, 'osd', `osd.${id}`), { recursive: true });
    await b.exec(ns, ['ceph-osd', '-c', conf, '-i', id, '--mkfs', '--osd-uuid', uuid], 300_000);
    await daemon(`osd.${id}`, logged(['ceph-osd', '-f', '-c', conf, '-i', id]));
  }
  await waitFor('three Ceph OSDs up', 120_000, async () => {
    const s = JSON.parse((await ceph(['osd', 'stat', '-f', 'json'])).stdout) as { num_up_osds: number; num_in_osds: number };
    return s.num_up_osds === OSDS && s.num_in_osds === OSDS;
  });
  await ceph(['osd', 'pool', 'create', 'rbd', '32', '32', 'replicated']);
  await ceph(['osd', 'pool', 'set', 'rbd', 'size', '3']);
  await ceph(['osd', 'pool', 'set', 'rbd', 'min_size', '2']);
  await b.exec(ns, ['rbd', '-c', conf, 'pool', 'init', 'rbd'], 120_000);
  await b.exec(ns, ['rbd', '-c', conf, 'create', 'rbd/vol', '--size', `${imageBytes / 1024 ** 2}M`], 120_000);
  await waitFor('every Ceph placement group active+clean', 300_000, async () => {
    const s = JSON.parse((await ceph(['pg', 'stat', '-f', 'json'])).stdout) as {
      num_pgs?: number;
      pg_summary?: { num_pgs: number; num_pg_by_state: { name: string; num: number }[] };
      num_pg_by_state?: { name: string; num: number }[];
    };
    const summary = s.pg_summary ?? { num_pgs: s.num_pgs ?? 0, num_pg_by_state: s.num_pg_by_state ?? [] };
    const clean = summary.num_pg_by_state.find((x) => x.name === 'active+clean')?.num ?? 0;
    return summary.num_pgs > 0 && clean === summary.num_pgs;
  });
  const socket = join(b.lab.dir, 'daemons', 'qemu-nbd', 'nbd.sock');
  await daemon('qemu-nbd', () => ['qemu-nbd', '-f', 'raw', '--cache=none', '--shared=16', '-t', '-x', 'vol', '-k', socket, `rbd:rbd/vol:conf=${conf}`]);
  const nbdUri = `nbd+unix:///vol?socket=${socket}`;
  await waitFor('qemu-nbd to serve the image', 60_000, async () => (await b.run('nbdinfo', ['--size', nbdUri], 10_000), true));
  const version = (await b.run('ceph', ['--version'], 10_000)).stdout.trim().split(' ').slice(0, 3).join(' ');
  return { ns, conf, nbdUri, fioRbd: ['--ioengine=rbd', '--clientname=admin', '--pool=rbd', '--rbdname=vol'], pids, version };
}
