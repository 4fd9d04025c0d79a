// Who is calling: the identity in the client certificate of the call's TLS session (lib/identity.ts).
// Every call has one, or is refused before any handler runs.

import { describeIdentity, identityOfAltNames, type Identity } from '../../lib/identity.js';
import { ApiError } from '../state/errors.js';

/** Any server call: grpc-js hands every kind the TLS session's peer certificate. */
export interface CallWithPeer {
  getAuthContext(): { sslPeerCertificate?: { subjectaltname?: string } } | null;
}

export function callerOf(call: CallWithPeer): Identity {
  const id = identityOfAltNames(call.getAuthContext()?.sslPeerCertificate?.subjectaltname);
  if (!id) {
    throw new ApiError(
      'PERMISSION_DENIED',
      '',
      `${describeIdentity(id)} may do nothing here: mint the client's certificate with \`vxctl certs client NAME --tenant T\` or \`--operator\` (a SAN URI vxcloud://tenant/T or vxcloud://operator)`,
    );
  }
  return id;
}

/** Refuses callers of other kinds: `what` says what they tried. */
export function requireKind(caller: Identity, kinds: readonly Identity['kind'][], what: string): void {
  if (!kinds.includes(caller.kind)) throw new ApiError('PERMISSION_DENIED', '', `${describeIdentity(caller)} may not ${what}`);
}
