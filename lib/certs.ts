// A deployment's PKI: one CA, and certificates for hosts (server + client: agents also call each
// other) and for clients (vxctl, the provider). ECDSA P-256 keys, PEM files.

// @peculiar/x509 resolves its algorithms through tsyringe, which needs the metadata polyfill.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { webcrypto, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { identityUri, type Identity } from './identity.js';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY = 86_400_000;

export interface KeyPairPem {
  cert: string;
  key: string;
}

async function keyPem(key: CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

async function importKey(pem: string): Promise<CryptoKey> {
  const der = x509.PemConverter.decode(pem)[0]!;
  return await webcrypto.subtle.importKey('pkcs8', der, ALG, true, ['sign']);
}

const serial = (): string =>
  randomBytes(16)
    .toString('hex')
    .replace(/^[89a-f]/, '1');

export async function createCa(name: string, days = 3650): Promise<KeyPairPem> {
  const keys = await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${name}`,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + days * DAY),
    keys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert: cert.toString('pem'), key: await keyPem(keys.privateKey) };
}

export interface LeafOptions {
  commonName: string;
  dnsNames?: string[];
  ips?: string[];
  /** Hosts serve the agent API and call other agents; clients only call. */
  role: 'host' | 'client';
  /** Who the holder is (lib/identity.ts), as a URI subject alternative name. */
  identity?: Identity;
  days?: number;
}

export async function issue(ca: KeyPairPem, opts: LeafOptions): Promise<KeyPairPem> {
  const caCert = new x509.X509Certificate(ca.cert);
  const caKey = await importKey(ca.key);
  const keys = await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']);
  const usages = opts.role === 'host' ? [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth] : [x509.ExtendedKeyUsage.clientAuth];
  const names = [
    ...(opts.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(opts.ips ?? []).map((value) => ({ type: 'ip' as const, value })),
    ...(opts.identity ? [{ type: 'url' as const, value: identityUri(opts.identity) }] : []),
  ];
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${opts.commonName}`,
    issuer: caCert.subject,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + (opts.days ?? 825) * DAY),
    publicKey: keys.publicKey,
    signingKey: caKey,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
      new x509.ExtendedKeyUsageExtension(usages),
      ...(names.length > 0 ? [new x509.SubjectAlternativeNameExtension(names)] : []),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  });
  return { cert: cert.toString('pem'), key: await keyPem(keys.privateKey) };
}

export interface PemPaths {
  ca: string;
  cert: string;
  key: string;
}

/** Writes `NAME.pem` and `NAME-key.pem` (0600) into dir. */
export async function writePair(dir: string, name: string, pair: KeyPairPem): Promise<{ cert: string; key: string }> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const cert = join(dir, `${name}.pem`);
  const key = join(dir, `${name}-key.pem`);
  await writeFile(cert, pair.cert, { mode: 0o644 });
  await writeFile(key, pair.key, { mode: 0o600 });
  return { cert, key };
}

export async function readPair(cert: string, key: string): Promise<KeyPairPem> {
  return { cert: await readFile(cert, 'utf8'), key: await readFile(key, 'utf8') };
}

/**
 * A client certificate directory in the layout libnbd (and qemu's tls-creds-x509) read:
 * `ca-cert.pem`, `client-cert.pem`, `client-key.pem`. Name it in an NBD URI as
 * `tls-certificates=DIR`.
 */
export async function writeNbdClientDir(dir: string, pem: { ca: string; cert: string; key: string }): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFile(join(dir, 'ca-cert.pem'), pem.ca, { mode: 0o644 });
  await writeFile(join(dir, 'client-cert.pem'), pem.cert, { mode: 0o644 });
  await writeFile(join(dir, 'client-key.pem'), pem.key, { mode: 0o600 });
  return dir;
}
