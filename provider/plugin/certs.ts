// The provider's half of go-plugin's AutoMTLS: a fresh self-signed certificate per process, shaped
// like go-plugin's own (terraform's client trusts exactly this cert and checks the name localhost).
//
// The certificate never varies but for its key, serial and dates, so it is encoded here in a few
// lines of DER with node:crypto signing it. An X.509 library costs ~170 ms of module loading, and
// terraform starts the provider four to six times per apply.

import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';

export interface ServerCertificate {
  readonly certPem: string;
  readonly keyPem: string;
  /** DER, base64 without padding: the handshake line's last field. */
  readonly handshakeField: string;
}

function tlv(tag: number, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  const n = body.length;
  const len = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  return Buffer.concat([Buffer.from([tag, ...len]), body]);
}

const seq = (...parts: Buffer[]): Buffer => tlv(0x30, ...parts);

function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number);
  const bytes = [a! * 40 + b!];
  for (const v of rest) {
    const group = [v & 0x7f];
    for (let x = v >>> 7; x > 0; x >>>= 7) group.unshift((x & 0x7f) | 0x80);
    bytes.push(...group);
  }
  return tlv(0x06, Buffer.from(bytes));
}

/** UTCTime, YYMMDDHHMMSSZ: valid for dates before 2050. */
const utcTime = (d: Date): Buffer => tlv(0x17, Buffer.from(d.toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z'));

const TRUE = tlv(0x01, Buffer.from([0xff]));
const ECDSA_SHA256 = seq(oid('1.2.840.10045.4.3.2'));
const LOCALHOST = seq(tlv(0x31, seq(oid('2.5.4.3'), tlv(0x0c, Buffer.from('localhost')))));
const extension = (id: string, critical: boolean, value: Buffer): Buffer => seq(oid(id), ...(critical ? [TRUE] : []), tlv(0x04, value));
const EXTENSIONS = tlv(
  0xa3,
  seq(
    extension('2.5.29.19', true, seq(TRUE)), // basic constraints: a CA (it signs itself)
    extension('2.5.29.15', true, tlv(0x03, Buffer.from([0x02, 0xa4]))), // digitalSignature, keyEncipherment, keyCertSign
    extension('2.5.29.37', false, seq(oid('1.3.6.1.5.5.7.3.1'), oid('1.3.6.1.5.5.7.3.2'))), // serverAuth, clientAuth
    extension('2.5.29.17', false, seq(tlv(0x82, Buffer.from('localhost')))), // DNS:localhost
  ),
);

export async function createServerCertificate(now = new Date()): Promise<ServerCertificate> {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x10; // positive and of full length
  const tbs = seq(
    tlv(0xa0, tlv(0x02, Buffer.from([2]))), // v3
    tlv(0x02, serial),
    ECDSA_SHA256,
    LOCALHOST,
    // Tolerate a little clock skew between the two processes, as go-plugin does.
    seq(utcTime(new Date(now.getTime() - 30_000)), utcTime(new Date(now.getTime() + 365 * 24 * 3600_000))),
    LOCALHOST,
    publicKey.export({ type: 'spki', format: 'der' }),
    EXTENSIONS,
  );
  const signature = sign('sha256', tbs, privateKey); // DER-encoded ECDSA, as X.509 wants
  const der = seq(tbs, ECDSA_SHA256, tlv(0x03, Buffer.from([0]), signature));
  const base64 = der.toString('base64');
  return {
    certPem: `-----BEGIN CERTIFICATE-----\n${base64.match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`,
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    handshakeField: base64.replace(/=+$/, ''),
  };
}
