// Who a caller is, as its certificate says: one URI in the subject alternative names —
//   vxcloud://tenant/NAME   a tenant: its own objects only
//   vxcloud://operator      an operator: everything
//   vxcloud://host/NAME     a host's agent: what hosts do to each other (raft, replicas)
// Minted by `vxctl certs`; a certificate of the deployment CA without one may do nothing.

import { X509Certificate } from 'node:crypto';

export type Identity = { kind: 'tenant'; tenant: string } | { kind: 'operator' } | { kind: 'host'; host: string };

const NAME = /^[a-z0-9]([a-z0-9-]{0,62})$/;
const SCHEME = 'vxcloud://';

export function checkIdentityName(what: string, name: string): void {
  if (!NAME.test(name)) throw new Error(`${what} "${name}": 1-63 lower-case letters, digits or '-', starting with a letter or digit`);
}

export function identityUri(id: Identity): string {
  if (id.kind === 'operator') return `${SCHEME}operator`;
  return id.kind === 'tenant' ? `${SCHEME}tenant/${id.tenant}` : `${SCHEME}host/${id.host}`;
}

function parseUri(uri: string): Identity | undefined {
  if (!uri.startsWith(SCHEME)) return undefined;
  const [kind, name, ...rest] = uri.slice(SCHEME.length).split('/');
  if (kind === 'operator' && name === undefined) return { kind: 'operator' };
  if (rest.length > 0 || name === undefined || !NAME.test(name)) return undefined;
  if (kind === 'tenant') return { kind: 'tenant', tenant: name };
  if (kind === 'host') return { kind: 'host', host: name };
  return undefined;
}

/**
 * The identity in a certificate's subject alternative names (as Node prints them: "DNS:x, URI:y");
 * undefined when it has none, or more than one vxcloud URI (ambiguous, so refused).
 */
export function identityOfAltNames(altNames: string | undefined): Identity | undefined {
  const uris = (altNames ?? '')
    .split(/,\s*/)
    .filter((n) => n.startsWith(`URI:${SCHEME}`))
    .map((n) => n.slice('URI:'.length));
  if (uris.length !== 1) return undefined;
  return parseUri(uris[0]!);
}

/** undefined also for what is not a certificate at all. */
export function identityOfPem(pem: string | Buffer): Identity | undefined {
  try {
    return identityOfAltNames(new X509Certificate(pem).subjectAltName);
  } catch {
    return undefined;
  }
}

export function describeIdentity(id: Identity | undefined): string {
  if (!id) return 'a certificate without a vxcloud identity';
  return id.kind === 'operator' ? 'the operator' : id.kind === 'tenant' ? `tenant ${id.tenant}` : `host ${id.host}`;
}
