// The `router` section of the agent config: what a route host offers its routers — the external
// network their external legs join, the namespace prefix their names get, and the networks they
// must never forward to. Checked field by field like the rest of the config.

import { FieldError, mapping, type Obj } from './fields.js';
import { isHostAddress, parseCidr, parseIp, containsIp } from '../../lib/ipv4.js';

export interface ExternalNetwork {
  /** What RouterSpec.external_network names. */
  name: string;
  /** An existing bridge on this host that reaches the external network; router legs become its ports. */
  bridge: string;
  /** The external network, e.g. 203.0.113.0/24; external legs take their prefix length from it. */
  cidr: string;
  /** The routers' default gateway, inside `cidr`. */
  gateway: string;
}

export interface RouterConfig {
  /** Unset: this host's routers have no external leg. */
  external?: ExternalNetwork;
  /**
   * Router namespaces are `prefix` + 40 bits of SHA-256 of the router id. One agent per machine
   * needs no more; labs run many agents on one /run/netns and give each its own prefix.
   */
  namespacePrefix: string;
  /** Extra networks routers never forward to (management), besides the underlay's own prefixes. */
  protectedCidrs: string[];
}

function text(o: Obj, key: string, path: string, check: (s: string) => boolean, what: string, fallback?: string): string {
  const v = o[key] ?? fallback;
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- echoes whatever YAML value was given, as the other fields' messages do
  if (typeof v !== 'string' || !check(v)) throw new FieldError(`${path}.${key}: ${v === undefined ? 'required, ' : `"${String(v)}" is not `}${what}`);
  return v;
}

const IFNAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/;

/** Parses `router`; a mistake becomes `toError(message)`, the message starting with the field's path. */
export function parseRouterConfig(raw: unknown, toError: (message: string) => Error): RouterConfig {
  try {
    return parse(raw);
  } catch (e) {
    throw e instanceof FieldError ? toError(e.message) : e;
  }
}

function parse(raw: unknown): RouterConfig {
  const o = mapping(raw, 'router');
  // Room for the 10 hex digits of the id's hash within a 63-byte namespace name.
  const namespacePrefix = text(
    o,
    'namespacePrefix',
    'router',
    (s) => /^[A-Za-z0-9][A-Za-z0-9_.-]{0,40}$/.test(s),
    'a namespace name prefix of 1-41 letters, digits, ".", "_" or "-"',
    'vxr-',
  );
  const protectedCidrs = o.protectedCidrs ?? [];
  if (!Array.isArray(protectedCidrs)) throw new FieldError('router.protectedCidrs: a list of IPv4 prefixes such as 10.0.0.0/8');
  protectedCidrs.forEach((c, i) => {
    if (typeof c !== 'string' || parseCidr(c) === undefined)
      throw new FieldError(`router.protectedCidrs[${i}]: "${String(c)}" is not an IPv4 prefix such as 10.0.0.0/8`);
  });
  if (o.external === undefined) return { namespacePrefix, protectedCidrs: protectedCidrs as string[] };
  const e = mapping(o.external, 'router.external');
  const path = 'router.external';
  const cidr = text(e, 'cidr', path, (s) => parseCidr(s) !== undefined && parseCidr(s)!.prefix <= 30, 'an IPv4 network such as 203.0.113.0/24 (/30 or larger)');
  const net = parseCidr(cidr)!;
  const gateway = text(e, 'gateway', path, (s) => parseIp(s) !== undefined, 'an IPv4 address');
  if (!isHostAddress(net, parseIp(gateway)!)) throw new FieldError(`${path}.gateway: ${gateway} is not a host address of ${cidr}`);
  return {
    external: {
      name: text(e, 'name', path, (s) => /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(s), 'a name of 1-64 letters, digits, ".", "_" or "-"', 'external'),
      bridge: text(e, 'bridge', path, (s) => IFNAME.test(s), 'an interface name (the existing bridge on this host that reaches the external network)'),
      cidr,
      gateway,
    },
    namespacePrefix,
    protectedCidrs: protectedCidrs as string[],
  };
}

/** True when `ip` may be a router's or a NAT rule's address on `ext`. */
export function isExternalAddress(ext: ExternalNetwork, ip: string): boolean {
  const a = parseIp(ip);
  const net = parseCidr(ext.cidr)!;
  return a !== undefined && containsIp(net, a) && isHostAddress(net, a) && ip !== ext.gateway;
}
