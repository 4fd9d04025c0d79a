// What the API asks of the registry before it changes a host: ownership, membership and
// allocations (claims.ts) through the deployment's registry, or — on a host configured without
// one — only what the caller gave, since nothing could keep values unique across hosts.

import type { Logger } from 'pino';
import { ApiError } from '../state/errors.js';
import type { NatRuleRecord, NicRecord, RouterRecord, SubnetRecord, VpcRecord } from '../state/model.js';
import {
  claimNat,
  claimNic,
  claimRouter,
  claimVolume,
  placeVolume,
  confirmRun,
  joinSubnet,
  joinVpc,
  leaveSubnet,
  leaveVpc,
  releaseNat,
  releaseNic,
  releaseRouter,
  releaseVolume,
  type Origin,
} from './claims.js';
import type { Registry } from './registry.js';

export interface Authority {
  /** Fails with UNAVAILABLE unless the registry answers: deletes ask before they touch the kernel. */
  reachable(id: string): Promise<void>;
  /** `origin`: the provider run a create comes from, and what makes it the same object (claims.ts, adoption). */
  joinVpc(v: VpcRecord, origin?: Origin): Promise<void>;
  /** `undo`: giving back a claim the host could not make (no tombstone: the id may come again). */
  leaveVpc(id: string, undo?: boolean): Promise<void>;
  /** The subnet with its VNI settled (allocated when 0). */
  joinSubnet(s: SubnetRecord, origin?: Origin): Promise<SubnetRecord>;
  leaveSubnet(id: string, undo?: boolean): Promise<void>;
  /** The NIC with its MAC (and, when `allocateIp`, its address) settled. */
  claimNic(n: NicRecord, allocateIp: boolean, origin?: Origin): Promise<NicRecord>;
  releaseNic(id: string, undo?: boolean): Promise<void>;
  claimRouter(r: RouterRecord, origin?: Origin): Promise<void>;
  releaseRouter(id: string, undo?: boolean): Promise<void>;
  claimNat(n: NatRuleRecord, origin?: Origin): Promise<void>;
  releaseNat(id: string, undo?: boolean): Promise<void>;
  /** A volume's name and placement; true when this call made the record. */
  claimVolume(v: { id: string; tenant: string; hosts: string[] }): Promise<boolean>;
  releaseVolume(id: string): Promise<void>;
  /** The hosts a volume's replicas moved to. */
  placeVolume(id: string, hosts: string[]): Promise<void>;
}

// ---- the order of a change against the authority ----

/**
 * A change claimed in the registry first, then made on this host; if this host cannot make it,
 * a claim this call made (the host did not hold the object before) is given back.
 */
export async function claimed<T>(
  isNew: boolean,
  claim: () => Promise<T>,
  local: (claimed: T) => Promise<void>,
  release: () => Promise<void>,
  log: Logger,
): Promise<T> {
  const c = await claim();
  try {
    await local(c);
  } catch (e) {
    if (isNew) await release().catch((u: unknown) => log.error({ err: u }, 'giving back a registry claim after a failed change failed'));
    throw e;
  }
  return c;
}

/** A delete: the registry must answer first; then the host drops the object, then its claim. */
export async function released(check: () => Promise<void>, local: () => Promise<boolean>, release: () => Promise<void>): Promise<{ existed: boolean }> {
  await check();
  const existed = await local();
  await release();
  return { existed };
}

/** Claims as the tenant `as` acts (undefined: an operator, for any tenant). */
export type Authorities = (as: string | undefined) => Authority;

/** A provider run's objects are in terraform's state: none of them is adopted any more. Returns how many. */
export async function confirmRunIn(reg: Registry, run: string): Promise<number> {
  let total = 0;
  for (let n = -1; n !== 0; total += n) n = await reg.transact((tx, k) => confirmRun(tx, k, run));
  return total;
}

export function registryAuthority(reg: Registry): Authorities {
  const host = reg.host;
  return (as) => ({
    reachable: (id) => reg.transact(async (tx, k) => void (await tx.get(k.object(id)))),
    joinVpc: (v, origin) => reg.transact(async (tx, k) => void (await joinVpc(tx, k, v, host, as, origin))),
    leaveVpc: (id, undo) => reg.transact((tx, k) => leaveVpc(tx, k, id, host, undo, as)),
    joinSubnet: async (s, origin) => ({ ...s, vni: (await reg.transact((tx, k) => joinSubnet(tx, k, s, host, as, origin))).vni }),
    leaveSubnet: (id, undo) => reg.transact((tx, k) => leaveSubnet(tx, k, id, host, undo, as)),
    async claimNic(n, allocateIp, origin) {
      const o = await reg.transact((tx, k) => claimNic(tx, k, n, host, allocateIp, as, origin));
      return { ...n, mac: o.mac, ip: o.ip };
    },
    releaseNic: (id, undo) => reg.transact((tx, k) => releaseNic(tx, k, id, host, undo, as)),
    claimRouter: (r, origin) => reg.transact(async (tx, k) => void (await claimRouter(tx, k, r, host, as, origin))),
    releaseRouter: (id, undo) => reg.transact((tx, k) => releaseRouter(tx, k, id, host, undo, as)),
    claimNat: (n, origin) => reg.transact(async (tx, k) => void (await claimNat(tx, k, n, host, as, origin))),
    releaseNat: (id, undo) => reg.transact((tx, k) => releaseNat(tx, k, id, host, undo, as)),
    claimVolume: (v) => reg.transact((tx, k) => claimVolume(tx, k, v, as)),
    releaseVolume: (id) => reg.transact((tx, k) => releaseVolume(tx, k, id, as)),
    placeVolume: (id, hosts) => reg.transact((tx, k) => placeVolume(tx, k, id, hosts, as)),
  });
}

const none = async (): Promise<void> => undefined;

/** A host without a registry: every value must be given; uniqueness is checked on this host only. */
const local: Authority = {
  reachable: none,
  joinVpc: none,
  leaveVpc: none,
  async joinSubnet(s) {
    if (s.vni === 0) throw new ApiError('INVALID_ARGUMENT', 'vni', 'required: this host has no registry to allocate one from (registry in its agent config)');
    return s;
  },
  leaveSubnet: none,
  async claimNic(n) {
    if (n.mac === '') throw new ApiError('INVALID_ARGUMENT', 'mac', 'required: this host has no registry to allocate one from (registry in its agent config)');
    return n;
  },
  releaseNic: none,
  claimRouter: none,
  releaseRouter: none,
  claimNat: none,
  releaseNat: none,
  // Without a registry a volume's name is unique among its hosts only (their stores refuse a second).
  claimVolume: async () => true,
  releaseVolume: none,
  placeVolume: none,
};

export const localAuthority: Authorities = () => local;
