// Whose an object is, for authorizing a call: the tenant of its VPC on this host, or — for one
// this host does not hold — what the registry says (or said, for one deleted lately). A tenant
// acts only on its own objects; an id it does not own is refused in the same words whether it is
// another tenant's or nobody's, so that no call tells a tenant what another has.

import type { Identity } from '../../lib/identity.js';
import type { Registry } from '../registry/registry.js';
import { ApiError } from '../state/errors.js';
import type { DesiredState } from '../state/model.js';
import { requireKind } from './caller.js';

export type OwnedKind = 'VPC' | 'subnet' | 'NIC' | 'router' | 'NAT rule';

/**
 * The tenant a new object is created for: a tenant's own (an empty value becomes it; another is
 * refused), or what an operator names.
 */
export function tenantFor(caller: Identity, requested: string, what: string): string {
  if (caller.kind !== 'tenant') return requested;
  if (requested !== '' && requested !== caller.tenant)
    throw new ApiError('PERMISSION_DENIED', 'tenant', `tenant ${caller.tenant} may create ${what} of its own tenant only, not of "${requested}"`);
  return caller.tenant;
}

export class Ownership {
  constructor(
    private readonly state: () => Readonly<DesiredState>,
    private readonly registry?: Registry,
  ) {}

  /** The owning tenant; undefined when neither this host nor the registry knows the id. */
  tenantOf(kind: OwnedKind, id: string): string | undefined {
    const d = this.state();
    const vpc = (vpcId: string | undefined): string | undefined => (vpcId === undefined ? undefined : d.vpcs[vpcId]?.tenant);
    const subnetVpc = (sid: string | undefined): string | undefined => (sid === undefined ? undefined : d.subnets[sid]?.vpc_id);
    const local =
      kind === 'VPC'
        ? vpc(id)
        : kind === 'subnet'
          ? vpc(subnetVpc(id))
          : kind === 'NIC'
            ? vpc(subnetVpc(d.nics[id]?.subnet_id))
            : kind === 'router'
              ? vpc(d.routers[id]?.vpc_id)
              : vpc(d.routers[d.natRules[id]?.router_id ?? '']?.vpc_id);
    if (local !== undefined) return local;
    const v = this.registry?.view;
    return v?.objects.get(id)?.tenant ?? v?.deleted.get(id);
  }

  /** The tenant a caller acts for: undefined for an operator (every tenant); hosts act for none. */
  scope(caller: Identity, what: string): string | undefined {
    requireKind(caller, ['tenant', 'operator'], what);
    return caller.kind === 'tenant' ? caller.tenant : undefined;
  }

  /** Refuses a tenant an object that is not its own (or that no one has). */
  require(caller: Identity, kind: OwnedKind, id: string, field = 'id'): void {
    const as = this.scope(caller, `act on ${kind} "${id}"`);
    if (as !== undefined && this.tenantOf(kind, id) !== as) throw ApiError.notYours(kind, id, as, field);
  }

  /** A Put: the object if it exists anywhere, else its parent, must be the caller's. */
  requirePut(caller: Identity, kind: OwnedKind, id: string, parent?: { kind: OwnedKind; id: string; field: string }): void {
    const as = this.scope(caller, `put ${kind} "${id}"`);
    if (as === undefined) return;
    const owner = this.tenantOf(kind, id);
    if (owner !== undefined) {
      if (owner !== as) throw ApiError.notYours(kind, id, as);
    } else if (parent) this.require(caller, parent.kind, parent.id, parent.field);
  }

  /** What a list shows the caller. */
  visible(caller: Identity, kind: OwnedKind, id: string): boolean {
    const as = this.scope(caller, `list ${kind}s`);
    return as === undefined || this.tenantOf(kind, id) === as;
  }
}
