// The certificate the provider announces in its handshake: what terraform's go-plugin client
// checks (a self-signed CA named localhost, P-256, valid now) and what OpenSSL must accept.

import { execFileSync } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { expect, it } from 'vitest';
import { createServerCertificate } from '../../../provider/plugin/certs.js';

it('is a self-signed P-256 CA for localhost, valid now, that OpenSSL parses and verifies', async () => {
  const now = new Date();
  const c = await createServerCertificate(now);
  const x = new X509Certificate(c.certPem);
  expect(x.subject).toBe('CN=localhost');
  expect(x.issuer).toBe('CN=localhost');
  expect(x.subjectAltName).toBe('DNS:localhost');
  expect(x.ca).toBe(true);
  expect(x.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
  expect(x.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
  expect(x.verify(x.publicKey)).toBe(true);
  expect(x.checkPrivateKey(createPrivateKey(c.keyPem))).toBe(true);
  expect(new Date(x.validFrom).getTime()).toBeLessThan(now.getTime());
  expect(new Date(x.validTo).getTime()).toBeGreaterThan(now.getTime() + 300 * 24 * 3600_000);
  expect(Buffer.from(c.handshakeField, 'base64').equals(x.raw)).toBe(true);
  const text = execFileSync('openssl', ['x509', '-noout', '-text'], { input: c.certPem }).toString();
  expect(text).toMatch(/Certificate Sign/);
  expect(text).toMatch(/Digital Signature, Key Encipherment/);
  // Each process gets its own key and serial.
  expect((await createServerCertificate()).certPem).not.toBe(c.certPem);
});
