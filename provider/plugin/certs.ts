// The provider's half of go-plugin's AutoMTLS: a fresh self-signed certificate per process, shaped
// like go-plugin's own (terraform's client trusts exactly this cert and checks the name localhost).

import { webcrypto } from 'node:crypto';
// @peculiar/x509's dependency injection (tsyringe) needs the Reflect metadata API loaded first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

export interface ServerCertificate {
  readonly certPem: string;
  readonly keyPem: string;
  /** DER, base64 without padding: the handshake line's last field. */
  readonly handshakeField: string;
}

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' } as const;

export async function createServerCertificate(now = new Date()): Promise<ServerCertificate> {
  const crypto = webcrypto as unknown as Crypto;
  const keys = (await crypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString('hex').replace(/^[89a-f]/, '1'),
      name: 'CN=localhost',
      // Tolerate a little clock skew between the two processes, as go-plugin does.
      notBefore: new Date(now.getTime() - 30_000),
      notAfter: new Date(now.getTime() + 365 * 24 * 3600_000),
      keys,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment | x509.KeyUsageFlags.keyCertSign,
          true,
        ),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
        new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'localhost' }]),
      ],
    },
    crypto,
  );
  const pkcs8 = await crypto.subtle.exportKey('pkcs8', keys.privateKey);
  return {
    certPem: cert.toString('pem'),
    keyPem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY'),
    handshakeField: Buffer.from(cert.rawData).toString('base64').replace(/=+$/, ''),
  };
}
