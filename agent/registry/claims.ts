// Ownership, membership and allocation, as transaction functions over the registry (see txn.ts):
// a host joins an object when it holds it and leaves when it drops it; the object, its tenant and
// what it was allocated (VNI, addresses, MAC, router legs) go when the last host leaves, and a
// tombstone keeps a late Put of the same id from bringing it back. Every function is idempotent
// per object id: a retry returns what the first call got. No I/O but the Txn.

import { createHash } from 'node:crypto';
import { contains, firstHost, formatIp, isHostAddress, overlaps, parseCidr, parseIp } from '../../lib/ipv4.js';
import { ApiError } from '../state/errors.js';
import {
  FIRST_VNI,
  parseObject,
  type Keys,
  type Pending,
  type NatObject,
  type NicObject,
  type ObjectKind,
  type RegistryObject,
  type RouterObject,
  type SubnetObject,
  type VolumeObject,
  type VpcObject,
} from './model.js';
import type { Txn } from './txn.js';
import { moveMember } from './security-groups.js';
import { VNI_MAX } from '../../lib/validation.js';

export const KIND_NAMES: Record<ObjectKind, string> = {
  vpc: 'VPC',
  subnet: 'subnet',
  nic: 'NIC',
  router: 'router',
  nat: 'NAT rule',
  volume: 'volume',
  sg: 'security group',
  sgrule: 'security group rule',
};

async function read(tx: Txn, k: Keys, id: string): Promise<RegistryObject | undefined> {
  const raw = await tx.get(k.object(id));
  return raw === undefined ? undefined : parseObject(raw);
}

/** The object `id` if it is of `kind` (and, with `as`, of that tenant); an id taken by another kind is refused. */
export async function readAs<K extends ObjectKind>(
  tx: Txn,
  k: Keys,
  id: string,
  kind: K,
  as?: string,
): Promise<Extract<RegistryObject, { kind: K }> | undefined> {
  const o = await read(tx, k, id);
  owned(o, kind, id, as);
  if (o && o.kind !== kind) throw new ApiError('ALREADY_EXISTS', 'id', `"${id}" is the id of a ${KIND_NAMES[o.kind]}: give the ${KIND_NAMES[kind]} another id`);
  return o as Extract<RegistryObject, { kind: K }> | undefined;
}

/** A new object must not reuse the id of one deleted lately (a late retry of a deleted object's Put). */
export async function fresh(tx: Txn, k: Keys, id: string, kind: ObjectKind): Promise<void> {
  if ((await tx.get(k.deleted(id))) !== undefined) {
    throw new ApiError(
      'FAILED_PRECONDITION',
      'id',
      `${KIND_NAMES[kind]} "${id}" was deleted: a deleted object is not created again under its id; create a new one`,
    );
  }
}

/**
 * `undo`: a claim given back because the host could not make the object — no tombstone, so that
 * the caller may put it again, corrected, under the same id.
 */
export async function remove(tx: Txn, k: Keys, id: string, cur: RegistryObject, undo: boolean): Promise<void> {
  tx.delete(k.object(id));
  if (!undo) tx.putTombstone(k.deleted(id), JSON.stringify({ kind: cur.kind, tenant: cur.tenant }));
  if ('adopt' in cur && cur.adopt !== undefined && (await pendingOf(tx, k, cur.adopt.hash))?.id === id) tx.delete(k.pending(cur.adopt.hash));
}

// ---- adoption: what a killed provider run left behind ----

/**
 * Where a Put comes from: the provider run that sends it (random per provider process) and the
 * object's natural key (what makes two declarations the same object: a subnet's VPC and CIDR).
 */
export interface Origin {
  run: string;
  key: string;
}

/** The origin of a call of run `run` ('' = none: not a provider's) for an object whose natural key is `parts`. */
export const origin = (run: string, ...parts: string[]): Origin | undefined => (run === '' ? undefined : { run, key: parts.join('\n') });

interface PendingMark {
  id: string;
  run: string;
}

const adoptHash = (kind: ObjectKind, tenant: string, key: string): string =>
  createHash('sha256').update(`${kind}\n${tenant}\n${key}`).digest('hex').slice(0, 32);

async function pendingOf(tx: Txn, k: Keys, hash: string): Promise<PendingMark | undefined> {
  const raw = await tx.get(k.pending(hash));
  return raw === undefined ? undefined : (JSON.parse(raw) as PendingMark);
}

/**
 * A new object a provider run makes stays pending until that run confirms it at its orderly exit
 * (confirmRun). A run killed after the Put but before terraform recorded the object never does;
 * then the next run's create of the same object (tenant, kind and natural key) is refused with
 * the pending object's id to adopt, instead of making a second object or colliding with the
 * first. A run never adopts its own objects: two equal declarations of one run stay two.
 * Returns what the new object records of its mark.
 */
async function pendingNew(tx: Txn, k: Keys, kind: ObjectKind, tenant: string, id: string, origin: Origin | undefined): Promise<Pending['adopt']> {
  if (!origin) return undefined;
  const hash = adoptHash(kind, tenant, origin.key);
  const p = await pendingOf(tx, k, hash);
  if (p && p.run !== origin.run && p.id !== id && (await tx.get(k.object(p.id))) !== undefined) {
    throw new ApiError(
      'ALREADY_EXISTS',
      'id',
      `${KIND_NAMES[kind]} "${p.id}" is this ${KIND_NAMES[kind]}, made by a provider run that did not finish: adopt it`,
      p.id,
    );
  }
  tx.put(k.pending(hash), JSON.stringify({ id, run: origin.run } satisfies PendingMark));
  return { hash, run: origin.run };
}

/** Objects of one host are the same object only on the same host. */
const onHost = (origin: Origin | undefined, host: string): Origin | undefined => origin && { run: origin.run, key: `${host}\n${origin.key}` };

/**
 * A pending object put again by a run that adopted it: the mark becomes that run's to confirm.
 * Returns the object as it now is (its record rewritten when the mark moved).
 */
async function pendingAgain<O extends Pending>(tx: Txn, k: Keys, cur: O, id: string, origin: Origin | undefined): Promise<O> {
  if (!origin || cur.adopt === undefined || cur.adopt.run === origin.run) return cur;
  if ((await pendingOf(tx, k, cur.adopt.hash))?.id !== id) return cur;
  const next: O = { ...cur, adopt: { hash: cur.adopt.hash, run: origin.run } };
  tx.put(k.pending(cur.adopt.hash), JSON.stringify({ id, run: origin.run } satisfies PendingMark));
  tx.put(k.object(id), JSON.stringify(next));
  return next;
}

/** Pending marks confirmed per transaction (etcd caps the operations of one). */
const CONFIRM_BATCH = 40;

/**
 * The run's objects are recorded by terraform: none is adopted any more. Returns how many marks
 * this transaction looked at; call again until 0.
 */
export async function confirmRun(tx: Txn, k: Keys, run: string): Promise<number> {
  const hashes = [...(await tx.list(k.pendings))]
    .filter(([, raw]) => (JSON.parse(raw) as PendingMark).run === run)
    .slice(0, CONFIRM_BATCH)
    .map(([key]) => key.slice(k.pendings.length));
  // Read at once, not one after another: a run of a hundred objects confirms in a few round trips.
  const marks = await Promise.all(hashes.map(async (hash) => ({ hash, p: await pendingOf(tx, k, hash) })));
  const mine = marks.filter((m): m is { hash: string; p: PendingMark } => m.p?.run === run);
  const objects = await Promise.all(mine.map((m) => read(tx, k, m.p.id)));
  mine.forEach(({ hash, p }, i) => {
    tx.delete(k.pending(hash));
    const o = objects[i];
    if (o && 'adopt' in o && o.adopt?.hash === hash) {
      const { adopt: _, ...rest } = o;
      tx.put(k.object(p.id), JSON.stringify(rest));
    }
  });
  // Marks another run took over meanwhile are gone from the next list: counting them cannot loop.
  return hashes.length;
}

/** `as`: the tenant a call acts for (undefined: an operator, for every tenant). */
const notYours = (kind: ObjectKind, id: string, tenant: string): ApiError => ApiError.notYours(KIND_NAMES[kind], id, tenant);

function owned(o: RegistryObject | undefined, kind: ObjectKind, id: string, as: string | undefined): void {
  if (as !== undefined && o !== undefined && o.tenant !== as) throw notYours(kind, id, as);
}

const withHost = (hosts: string[], host: string): string[] => (hosts.includes(host) ? hosts : [...hosts, host].sort());

function immutable(what: string, field: string, was: string | number, now: string | number): void {
  if (was !== now) throw new ApiError('FAILED_PRECONDITION', field, `${what} has ${String(was)}, not ${String(now)}: a change needs a new ${what}`);
}

// ---- VPCs ----

export async function joinVpc(
  tx: Txn,
  k: Keys,
  v: { id: string; tenant: string; name: string; cidr: string },
  host: string,
  as?: string,
  origin?: Origin,
): Promise<VpcObject> {
  let cur = await readAs(tx, k, v.id, 'vpc', as);
  if (!cur) {
    await fresh(tx, k, v.id, 'vpc');
    const adopt = await pendingNew(tx, k, 'vpc', v.tenant, v.id, origin);
    const o: VpcObject = { kind: 'vpc', tenant: v.tenant, name: v.name, cidr: v.cidr, hosts: [host], subnets: {}, ...(adopt ? { adopt } : {}) };
    tx.put(k.object(v.id), JSON.stringify(o));
    return o;
  }
  cur = await pendingAgain(tx, k, cur, v.id, origin);
  immutable(`VPC "${v.id}"`, 'cidr', cur.cidr, v.cidr);
  immutable(`VPC "${v.id}"`, 'tenant', cur.tenant, v.tenant);
  const next: VpcObject = { ...cur, name: v.name, hosts: withHost(cur.hosts, host) };
  if (JSON.stringify(next) !== JSON.stringify(cur)) tx.put(k.object(v.id), JSON.stringify(next));
  return next;
}

export async function leaveVpc(tx: Txn, k: Keys, id: string, host: string, undo = false, as?: string): Promise<void> {
  const cur = await readAs(tx, k, id, 'vpc', as);
  if (!cur?.hosts.includes(host)) return;
  const hosts = cur.hosts.filter((h) => h !== host);
  if (hosts.length > 0) tx.put(k.object(id), JSON.stringify({ ...cur, hosts }));
  else await remove(tx, k, id, cur, undo);
}

// ---- subnets ----

async function allocateVni(tx: Txn, k: Keys, id: string, requested: number): Promise<number> {
  if (requested !== 0) {
    const holder = await tx.get(k.vni(requested));
    if (holder !== undefined && holder !== id)
      throw new ApiError('ALREADY_EXISTS', 'vni', `VNI ${requested} is taken by another subnet of the deployment: leave vni unset to get a free one`);
    tx.put(k.vni(requested), id);
    return requested;
  }
  const taken = new Set([...(await tx.list(k.vnis)).keys()].map((key) => Number(key.slice(k.vnis.length))));
  for (let vni = FIRST_VNI; vni <= VNI_MAX; vni++) {
    // The compare on the chosen key is what makes two concurrent picks of it collide.
    if (taken.has(vni) || (await tx.get(k.vni(vni))) !== undefined) continue;
    tx.put(k.vni(vni), id);
    return vni;
  }
  throw new ApiError('FAILED_PRECONDITION', 'vni', 'every VNI is taken');
}

export async function joinSubnet(
  tx: Txn,
  k: Keys,
  s: { id: string; vpc_id: string; cidr: string; gateway: string; vni: number },
  host: string,
  as?: string,
  origin?: Origin,
): Promise<SubnetObject> {
  let cur = await readAs(tx, k, s.id, 'subnet', as);
  if (cur) {
    cur = await pendingAgain(tx, k, cur, s.id, origin);
    immutable(`subnet "${s.id}"`, 'vpc_id', cur.vpc, s.vpc_id);
    immutable(`subnet "${s.id}"`, 'cidr', cur.cidr, s.cidr);
    if (s.vni !== 0) immutable(`subnet "${s.id}"`, 'vni', cur.vni, s.vni);
    if (s.gateway !== '') immutable(`subnet "${s.id}"`, 'gateway', cur.gateway, s.gateway);
    if (cur.hosts.includes(host)) return cur;
    const next: SubnetObject = { ...cur, hosts: withHost(cur.hosts, host) };
    tx.put(k.object(s.id), JSON.stringify(next));
    return next;
  }
  await fresh(tx, k, s.id, 'subnet');
  const vpc = await readAs(tx, k, s.vpc_id, 'vpc', as);
  if (as !== undefined && vpc?.tenant !== as) throw notYours('vpc', s.vpc_id, as);
  if (!vpc) throw new ApiError('FAILED_PRECONDITION', 'vpc_id', `VPC "${s.vpc_id}" does not exist: create it first`);
  const net = parseCidr(s.cidr);
  if (!net || !contains(parseCidr(vpc.cidr)!, net))
    throw new ApiError('INVALID_ARGUMENT', 'cidr', `${s.cidr} is not inside the VPC's ${vpc.cidr}: pick a subnet of it`);
  const adopt = await pendingNew(tx, k, 'subnet', vpc.tenant, s.id, origin);
  // Across every host of the VPC, not only this one's subnets (the agent checks those).
  for (const [other, cidr] of Object.entries(vpc.subnets)) {
    if (overlaps(parseCidr(cidr)!, net))
      throw new ApiError('ALREADY_EXISTS', 'cidr', `${s.cidr} overlaps subnet "${other}" (${cidr}) of VPC "${s.vpc_id}": pick a CIDR that does not`);
  }
  tx.put(k.object(s.vpc_id), JSON.stringify({ ...vpc, subnets: { ...vpc.subnets, [s.id]: s.cidr } }));
  const o: SubnetObject = {
    kind: 'subnet',
    tenant: vpc.tenant,
    vpc: s.vpc_id,
    cidr: s.cidr,
    gateway: s.gateway || formatIp(firstHost(net)),
    vni: await allocateVni(tx, k, s.id, s.vni),
    hosts: [host],
    ...(adopt ? { adopt } : {}),
  };
  tx.put(k.object(s.id), JSON.stringify(o));
  return o;
}

export async function leaveSubnet(tx: Txn, k: Keys, id: string, host: string, undo = false, as?: string): Promise<void> {
  const cur = await readAs(tx, k, id, 'subnet', as);
  if (!cur?.hosts.includes(host)) return;
  const hosts = cur.hosts.filter((h) => h !== host);
  if (hosts.length > 0) {
    tx.put(k.object(id), JSON.stringify({ ...cur, hosts }));
    return;
  }
  if ((await tx.list(k.ips(id))).size > 0) throw new ApiError('FAILED_PRECONDITION', 'id', `subnet "${id}" still has NICs: delete them first`);
  await remove(tx, k, id, cur, undo);
  const vpc = await read(tx, k, cur.vpc);
  if (vpc?.kind === 'vpc' && id in vpc.subnets) {
    const { [id]: _, ...subnets } = vpc.subnets;
    tx.put(k.object(cur.vpc), JSON.stringify({ ...vpc, subnets }));
  }
  if ((await tx.get(k.vni(cur.vni))) === id) tx.delete(k.vni(cur.vni));
}

// ---- NICs ----

/** A locally administered unicast MAC from the NIC id (and a counter, should it collide). */
export function macFor(id: string, n = 0): string {
  const h = createHash('sha256')
    .update(n === 0 ? id : `${id}#${n}`)
    .digest();
  return ['02', ...[...h.subarray(0, 5)].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}

async function claimMac(tx: Txn, k: Keys, subnet: string, id: string, mac: string): Promise<string> {
  if (mac !== '') {
    const holder = await tx.get(k.mac(subnet, mac));
    if (holder !== undefined && holder !== id)
      throw new ApiError('ALREADY_EXISTS', 'mac', `${mac} is used by another NIC of subnet "${subnet}": leave mac unset to get a free one`);
    tx.put(k.mac(subnet, mac), id);
    return mac;
  }
  for (let n = 0; n < 64; n++) {
    const m = macFor(id, n);
    if ((await tx.get(k.mac(subnet, m))) !== undefined) continue;
    tx.put(k.mac(subnet, m), id);
    return m;
  }
  throw new ApiError('ALREADY_EXISTS', 'mac', 'no free MAC derived from the id: give one');
}

async function claimIp(tx: Txn, k: Keys, s: SubnetObject, subnet: string, id: string, ip: string): Promise<string> {
  const net = parseCidr(s.cidr)!;
  const gateway = parseIp(s.gateway);
  if (ip !== '') {
    const a = parseCidr(ip, false);
    if (!a || a.prefix !== net.prefix || !isHostAddress(net, a.address))
      throw new ApiError('INVALID_ARGUMENT', 'ip', `${ip} is not a host address of subnet ${s.cidr} with /${net.prefix}`);
    if (a.address === gateway) throw new ApiError('ALREADY_EXISTS', 'ip', `${ip} is the subnet's gateway address: pick another`);
    const key = k.ip(subnet, formatIp(a.address));
    const holder = await tx.get(key);
    if (holder !== undefined && holder !== id)
      throw new ApiError('ALREADY_EXISTS', 'ip', `${ip} is used by another NIC of subnet "${subnet}": pick another, or leave ip unset`);
    tx.put(key, id);
    return ip;
  }
  const taken = new Set([...(await tx.list(k.ips(subnet))).keys()].map((key) => parseIp(key.slice(k.ips(subnet).length))));
  for (let a = net.network + 1; isHostAddress(net, a); a++) {
    if (a === gateway || taken.has(a) || (await tx.get(k.ip(subnet, formatIp(a)))) !== undefined) continue;
    tx.put(k.ip(subnet, formatIp(a)), id);
    return `${formatIp(a)}/${net.prefix}`;
  }
  throw new ApiError('FAILED_PRECONDITION', 'subnet_id', `subnet "${subnet}" (${s.cidr}) has no free address left`);
}

/** `ip`: '' allocates the lowest free address when `allocateIp`, else the NIC has none. `mac`: '' allocates. */
export async function claimNic(
  tx: Txn,
  k: Keys,
  n: { id: string; subnet_id: string; mac: string; ip: string } & NicFilter,
  host: string,
  allocateIp: boolean,
  as?: string,
  origin?: Origin,
): Promise<NicObject> {
  const cur = await readAs(tx, k, n.id, 'nic', as);
  if (cur) {
    immutable(`NIC "${n.id}"`, 'subnet_id', cur.subnet, n.subnet_id);
    immutable(`NIC "${n.id}"`, 'host', cur.host, host);
    if (n.mac !== '') immutable(`NIC "${n.id}"`, 'mac', cur.mac, n.mac);
    if (n.ip !== '' || !allocateIp) immutable(`NIC "${n.id}"`, 'ip', cur.ip, n.ip);
    const next = await filtered(tx, k, n.id, cur, n);
    if (JSON.stringify(next) !== JSON.stringify(cur)) tx.put(k.object(n.id), JSON.stringify(next));
    return pendingAgain(tx, k, next, n.id, origin);
  }
  await fresh(tx, k, n.id, 'nic');
  const s = await readAs(tx, k, n.subnet_id, 'subnet', as);
  if (as !== undefined && s?.tenant !== as) throw notYours('subnet', n.subnet_id, as);
  if (!s) throw new ApiError('FAILED_PRECONDITION', 'subnet_id', `subnet "${n.subnet_id}" does not exist: create it first`);
  if (!s.hosts.includes(host)) {
    throw new ApiError(
      'FAILED_PRECONDITION',
      'host',
      `subnet "${n.subnet_id}" does not span host ${host} (it spans ${s.hosts.join(', ')}): put the NIC on one of those, or add ${host} to the subnet's hosts`,
    );
  }
  const adopt = await pendingNew(tx, k, 'nic', s.tenant, n.id, onHost(origin, host));
  const o: NicObject = {
    kind: 'nic',
    tenant: s.tenant,
    subnet: n.subnet_id,
    host,
    mac: await claimMac(tx, k, n.subnet_id, n.id, n.mac),
    ip: n.ip === '' && !allocateIp ? '' : await claimIp(tx, k, s, n.subnet_id, n.id, n.ip),
    ...(adopt ? { adopt } : {}),
  };
  const made = await filtered(tx, k, n.id, o, n);
  tx.put(k.object(n.id), JSON.stringify(made));
  return made;
}

/** What a NIC's claim says about filtering at its port (agent/firewall). */
export interface NicFilter {
  security_group_ids?: string[];
  allowed_addresses?: string[];
  port_security?: boolean;
}

/** `o` with the NIC's groups, allowed addresses and port security as `f` has them; its memberships moved. */
async function filtered(tx: Txn, k: Keys, id: string, o: NicObject, f: NicFilter): Promise<NicObject> {
  const groups = [...(f.security_group_ids ?? [])].sort();
  await moveMember(tx, k, id, o.tenant, o.groups ?? [], groups);
  return { ...o, groups, allowed: [...(f.allowed_addresses ?? [])], unfiltered: f.port_security === false };
}

/** Releases the NIC's address and MAC; a NIC that lives on another host is not this host's to release. */
export async function releaseNic(tx: Txn, k: Keys, id: string, host: string, undo = false, as?: string): Promise<void> {
  const cur = await readAs(tx, k, id, 'nic', as);
  if (!cur || cur.host !== host) return;
  await remove(tx, k, id, cur, undo);
  await moveMember(tx, k, id, cur.tenant, cur.groups ?? [], []);
  if (cur.ip !== '') tx.delete(k.ip(cur.subnet, cur.ip.split('/')[0]!));
  tx.delete(k.mac(cur.subnet, cur.mac));
}

// ---- external addresses ----

interface ExternalIp {
  router: string;
  /** The router and its NAT rules that use the address; the key goes with the last. */
  users: string[];
}

/** `ip` on `network` for `user` (the router itself or one of its NAT rules); another router's is refused. */
async function claimExternalIp(tx: Txn, k: Keys, network: string, ip: string, router: string, user: string, field: string): Promise<void> {
  const raw = await tx.get(k.extip(network, ip));
  const cur = raw === undefined ? undefined : (JSON.parse(raw) as ExternalIp);
  if (cur && cur.router !== router)
    throw new ApiError('ALREADY_EXISTS', field, `${ip} on external network "${network}" belongs to another router: pick another address`);
  if (cur?.users.includes(user)) return;
  tx.put(k.extip(network, ip), JSON.stringify({ router, users: [...(cur?.users ?? []), user] }));
}

async function releaseExternalIp(tx: Txn, k: Keys, network: string, ip: string, user: string): Promise<void> {
  const raw = await tx.get(k.extip(network, ip));
  if (raw === undefined) return;
  const cur = JSON.parse(raw) as ExternalIp;
  const users = cur.users.filter((u) => u !== user);
  if (users.length === cur.users.length) return;
  if (users.length === 0) tx.delete(k.extip(network, ip));
  else tx.put(k.extip(network, ip), JSON.stringify({ ...cur, users }));
}

// ---- routers ----

export async function claimRouter(
  tx: Txn,
  k: Keys,
  r: { id: string; vpc_id: string; subnet_ids: string[]; external_network: string; external_ip: string },
  host: string,
  as?: string,
  origin?: Origin,
): Promise<RouterObject> {
  const cur = await readAs(tx, k, r.id, 'router', as);
  if (cur) {
    immutable(`router "${r.id}"`, 'vpc_id', cur.vpc, r.vpc_id);
    immutable(`router "${r.id}"`, 'host', cur.host, host);
  } else await fresh(tx, k, r.id, 'router');
  const vpc = await readAs(tx, k, r.vpc_id, 'vpc', as);
  if (as !== undefined && vpc?.tenant !== as) throw notYours('vpc', r.vpc_id, as);
  if (!vpc) throw new ApiError('FAILED_PRECONDITION', 'vpc_id', `VPC "${r.vpc_id}" does not exist: create it first`);
  const adopt = cur ? (await pendingAgain(tx, k, cur, r.id, origin)).adopt : await pendingNew(tx, k, 'router', vpc.tenant, r.id, onHost(origin, host));
  for (const [i, sid] of r.subnet_ids.entries()) {
    const s = await readAs(tx, k, sid, 'subnet', as);
    if (!s || s.vpc !== r.vpc_id) throw new ApiError('FAILED_PRECONDITION', `subnet_ids[${i}]`, `subnet "${sid}" is not a subnet of VPC "${r.vpc_id}"`);
    const holder = await tx.get(k.leg(sid));
    if (holder !== undefined && holder !== r.id)
      throw new ApiError('ALREADY_EXISTS', `subnet_ids[${i}]`, `subnet "${sid}" is attached to another router: a subnet has one router`);
    tx.put(k.leg(sid), r.id);
  }
  for (const sid of cur?.subnets ?? []) if (!r.subnet_ids.includes(sid) && (await tx.get(k.leg(sid))) === r.id) tx.delete(k.leg(sid));
  const [network, ip] = r.external_network !== '' && r.external_ip !== '' ? [r.external_network, r.external_ip] : ['', ''];
  if (cur?.ip && (cur.network !== network || cur.ip !== ip)) await releaseExternalIp(tx, k, cur.network!, cur.ip, r.id);
  if (ip !== '') await claimExternalIp(tx, k, network, ip, r.id, r.id, 'external_ip');
  const o: RouterObject = { kind: 'router', tenant: vpc.tenant, vpc: r.vpc_id, host, subnets: [...r.subnet_ids], network, ip, ...(adopt ? { adopt } : {}) };
  tx.put(k.object(r.id), JSON.stringify(o));
  return o;
}

export async function releaseRouter(tx: Txn, k: Keys, id: string, host: string, undo = false, as?: string): Promise<void> {
  const cur = await readAs(tx, k, id, 'router', as);
  if (!cur || cur.host !== host) return;
  await remove(tx, k, id, cur, undo);
  for (const sid of cur.subnets) if ((await tx.get(k.leg(sid))) === id) tx.delete(k.leg(sid));
  if (cur.ip) await releaseExternalIp(tx, k, cur.network!, cur.ip, id);
}

// ---- NAT rules ----

/** A NAT rule of a router of the caller's; its external address is claimed for that router. */
export async function claimNat(
  tx: Txn,
  k: Keys,
  n: { id: string; router_id: string; external_ip: string },
  host: string,
  as?: string,
  origin?: Origin,
): Promise<NatObject> {
  const cur = await readAs(tx, k, n.id, 'nat', as);
  if (cur) immutable(`NAT rule "${n.id}"`, 'router_id', cur.router, n.router_id);
  else await fresh(tx, k, n.id, 'nat');
  const router = await readAs(tx, k, n.router_id, 'router', as);
  if (as !== undefined && router?.tenant !== as) throw notYours('router', n.router_id, as);
  if (!router || router.host !== host)
    throw new ApiError('FAILED_PRECONDITION', 'router_id', `router "${n.router_id}" is not on ${host}: put the rule on its router's host`);
  const adopt = cur ? (await pendingAgain(tx, k, cur, n.id, origin)).adopt : await pendingNew(tx, k, 'nat', router.tenant, n.id, onHost(origin, host));
  const network = router.network ?? '';
  const ip = network !== '' ? n.external_ip : '';
  if (cur?.ip && cur.ip !== ip) await releaseExternalIp(tx, k, cur.network, cur.ip, n.id);
  if (ip !== '') await claimExternalIp(tx, k, network, ip, n.router_id, n.id, 'external_ip');
  const o: NatObject = { kind: 'nat', tenant: router.tenant, router: n.router_id, host, network, ip, ...(adopt ? { adopt } : {}) };
  tx.put(k.object(n.id), JSON.stringify(o));
  return o;
}

export async function releaseNat(tx: Txn, k: Keys, id: string, host: string, undo = false, as?: string): Promise<void> {
  const cur = await readAs(tx, k, id, 'nat', as);
  if (!cur || cur.host !== host) return;
  await remove(tx, k, id, cur, undo);
  if (cur.ip) await releaseExternalIp(tx, k, cur.network, cur.ip, id);
}

// ---- volumes ----

/**
 * A volume's name, unique in the deployment, and its tenant and placement. True when this call
 * made the record (a retry of the same volume finds it and gets false).
 */
export async function claimVolume(tx: Txn, k: Keys, v: { id: string; tenant: string; hosts: string[] }, as?: string): Promise<boolean> {
  const cur = await readAs(tx, k, v.id, 'volume', as);
  if (cur) {
    if (cur.tenant === v.tenant && cur.hosts.join() === v.hosts.join()) return false;
    throw new ApiError('ALREADY_EXISTS', 'id', `volume "${v.id}" exists already (volume names are unique in the deployment): pick another name`);
  }
  const o: VolumeObject = { kind: 'volume', tenant: v.tenant, hosts: [...v.hosts] };
  tx.put(k.object(v.id), JSON.stringify(o));
  return true;
}

/** The volume's replicas moved (MoveVolume, or a rebuild after a host was lost). */
export async function placeVolume(tx: Txn, k: Keys, id: string, hosts: string[], as?: string): Promise<void> {
  const cur = await readAs(tx, k, id, 'volume', as);
  if (!cur || cur.hosts.join() === hosts.join()) return;
  const o: VolumeObject = { ...cur, hosts: [...hosts] };
  tx.put(k.object(id), JSON.stringify(o));
}

/** No tombstone: a volume's name is its owner's to use again, e.g. when terraform replaces it. */
export async function releaseVolume(tx: Txn, k: Keys, id: string, as?: string): Promise<void> {
  const cur = await readAs(tx, k, id, 'volume', as);
  if (cur) await remove(tx, k, id, cur, true);
}
