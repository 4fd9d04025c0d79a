// Volume exports over NBD with storage.nbdTls: required, in a lab of three storage hosts: the
// agents serve their own certificates and take only clients holding a certificate of the lab's
// CA. Clients are libnbd (nbdinfo, nbdsh) and qemu-io; certificate directories are in the
// GnuTLS layout they read (ca-cert.pem, client-cert.pem, client-key.pem).

import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nbdClientCertDir, nbdSocketPath } from '../../../lab/lab.js';
import { createCa, issue, writeNbdClientDir } from '../../../lib/certs.js';
import { makeTempDir, nbdshJson, run, runOk } from '../nbd/harness.js';
import { startStorageLab, waitStatus, type StorageLab } from './harness.js';

const MiB = 1024 * 1024;
let s: StorageLab;
let tmp: string;
/** The lab's client certificate, but trusting another CA for the server. */
let distrustDir: string;
/** A client certificate from a CA of another deployment that carries the lab CA's very name. */
let impostorDir: string;
/** The lab's CA only: no client certificate to present. */
let noCertDir: string;

beforeAll(async () => {
  s = await startStorageLab(3, { nbdTls: 'required' });
  tmp = await makeTempDir('sbs-tls');
  const labCa = await readFile(s.t.lab.tls.ca, 'utf8');
  const client = { cert: await readFile(s.t.lab.tls.cert, 'utf8'), key: await readFile(s.t.lab.tls.key, 'utf8') };
  // GnuTLS offers a client certificate only when its issuer's name is among the CAs the server
  // lists; the same name makes libnbd present it, so the server's signature check is what refuses.
  const impostorCa = await createCa(`vxcloud lab ${s.t.lab.name} CA`);
  const impostor = await issue(impostorCa, { commonName: 'vxctl', role: 'client' });
  impostorDir = await writeNbdClientDir(join(tmp, 'impostor'), { ca: labCa, ...impostor });
  distrustDir = await writeNbdClientDir(join(tmp, 'distrust'), { ca: (await createCa('another CA')).cert, ...client });
  noCertDir = join(tmp, 'nocert');
  await mkdir(noCertDir);
  await writeFile(join(noCertDir, 'ca-cert.pem'), labCa);
  await s.volumes('h1').createVolume({ id: 'sec', sizeBytes: 32 * MiB, replicas: 3, hosts: s.hosts, tenant: '' });
  await waitStatus(s, 'h1', 'sec', (v) => v.status === 'healthy', 'healthy');
}, 180_000);

afterAll(async () => {
  await s?.down();
  if (tmp) await rm(tmp, { recursive: true, force: true });
}, 60_000);

interface Info {
  TLS: boolean;
  exports: { 'export-name': string; 'export-size': number }[];
}

const tcpUri = (address: string, id: string, certDir: string): string => `nbds://${address}:10809/${id}?tls-certificates=${encodeURIComponent(certDir)}`;

/** Runs a Python snippet in nbdsh connected over TLS; the snippet fills the dict `r`, returned parsed. */
function nbdsh(uri: string, body: string): Promise<Record<string, unknown>> {
  return nbdshJson(uri, [
    // tls-certificates names a local directory, which libnbd takes from a URI only when told to.
    'h.set_uri_allow_local_file(True)',
    "h.connect_uri(os.environ['NBD_URI'])",
    "r = {'tls': h.get_tls_negotiated()}",
    body,
  ]);
}

describe('NBD TLS required, with the agents’ certificates', () => {
  it('serves a client holding the lab’s client certificate, on every replica', async () => {
    for (const h of ['h1', 'h2', 'h3']) {
      const { stdout } = await runOk('nbdinfo', ['--json', s.tlsUri(h, 'sec')], 30_000);
      const info = JSON.parse(stdout) as Info;
      expect(info.TLS).toBe(true);
      expect(info.exports[0]?.['export-size']).toBe(32 * MiB);
    }
  });

  it('advertises the export as nbds:// (TLS required) in the volume API', async () => {
    expect((await s.volumes('h2').getVolume({ id: 'sec' })).exportUri).toBe('nbds://192.0.2.12:10809/sec');
  });

  it('refuses plaintext with NBD_REP_ERR_TLS_REQD, on the unix socket and on TCP', async () => {
    const unix = await run('nbdinfo', ['--json', s.uri('h2', 'sec')], 30_000, { LIBNBD_DEBUG: '1' });
    expect(unix.code).not.toBe(0);
    expect(unix.stdout).not.toMatch(/export-size/);
    expect(unix.stderr).toMatch(/server error message: TLS is required/);
    const h3 = s.t.lab.hosts[2]!.namespace;
    const tcp = await s.t.exec(h3, ['nbdinfo', '--size', 'nbd://192.0.2.11:10809/sec'], 30_000).then(
      () => 'served',
      (e: { stderr?: string }) => e.stderr ?? '',
    );
    expect(tcp).not.toBe('served');
  });

  it('refuses a client whose certificate another CA signed, and one without a certificate', async () => {
    for (const dir of [impostorDir, noCertDir]) {
      const r = await run('nbdinfo', ['--json', s.tlsUri('h1', 'sec', dir)], 30_000);
      expect(r.code).not.toBe(0);
      expect(r.stdout).not.toMatch(/export-size/);
    }
  });

  it('over TCP the client checks the agent’s certificate: its CA and the address it carries', async () => {
    const h3 = s.t.lab.hosts[2]!.namespace;
    const labDir = nbdClientCertDir(s.t.lab);
    const ok = await s.t.exec(h3, ['nbdinfo', '--size', tcpUri('192.0.2.12', 'sec', labDir)], 30_000);
    expect(ok.stdout.trim()).toBe(String(32 * MiB));
    const distrusted = await s.t.exec(h3, ['nbdinfo', '--size', tcpUri('192.0.2.12', 'sec', distrustDir)], 30_000).then(
      () => 'served',
      (e: { stderr?: string }) => e.stderr ?? '',
    );
    expect(distrusted).toMatch(/certificate|verif/i);
  });

  it('writes through one replica and reads the data back through another, all over TLS (nbdsh)', async () => {
    const w = await nbdsh(
      s.tlsUri('h2', 'sec'),
      `
h.pwrite(b'\\x5a' * (2 << 20), 1 << 20)
h.pwrite(b'\\xa5' * 4096, 8 << 20)
h.flush()
`,
    );
    expect(w).toEqual({ tls: true });
    const r = await nbdsh(
      s.tlsUri('h3', 'sec'),
      `
r['pattern'] = h.pread(2 << 20, 1 << 20) == b'\\x5a' * (2 << 20)
r['small'] = h.pread(4096, 8 << 20) == b'\\xa5' * 4096
r['zero'] = h.pread(1 << 20, 0) == bytes(1 << 20)
`,
    );
    expect(r).toEqual({ tls: true, pattern: true, small: true, zero: true });
  });

  it('qemu-io with tls-creds-x509 reads and writes over the unix socket, checking the host name', async () => {
    const dir = nbdClientCertDir(s.t.lab);
    const image = (host: string, hostname: string): string =>
      `driver=nbd,server.type=unix,server.path=${nbdSocketPath(s.t.lab, host)},export=sec,tls-creds=tls0,tls-hostname=${hostname}`;
    const object = `tls-creds-x509,id=tls0,dir=${dir},endpoint=client`;
    await runOk('qemu-io', ['--object', object, '--image-opts', '-c', 'write -P 0x3c 4M 1M', '-c', 'flush', image('h1', 'h1')], 60_000);
    const back = await runOk(
      'qemu-io',
      ['--object', object, '--image-opts', '-c', 'read -P 0x3c 4M 1M', '-c', 'read -P 0x5a 1M 2M', image('h3', 'h3')],
      60_000,
    );
    expect(back.stdout).not.toMatch(/Pattern verification failed/);
    // The certificate of h2 does not name h1.
    const wrong = await run('qemu-io', ['--object', object, '--image-opts', '-c', 'read 0 4k', image('h2', 'h1')], 60_000);
    expect(wrong.code).not.toBe(0);
  });
});
