// vxcloud_router: a VPC's router on a route host — a gateway leg in each attached subnet, DHCP,
// routing between the subnets, and (with an external network) SNAT for egress.

import type { Router as RouterMessage } from '../../gen/vxcloud/agent/v1/router.js';
import { known, knownOr, t } from '../plugin/cty.js';
import { attributeError, DiagnosticsError, type Diagnostic } from '../plugin/diagnostics.js';
import { defineResource, type Planned } from '../plugin/framework.js';
import type { StateOf } from '../plugin/schema.js';
import { intBetween } from '../plugin/validators.js';
import { isHostAddress, parseCidr, parseIp } from '../../lib/ipv4.js';
import { checkIp } from '../../lib/router-validation.js';
import { adoptOrPass, creating, getEach, placedOn, planStatus, READY, str, strs } from './common.js';
import { fleetDiagnostics } from './errors.js';
import { FleetError, type Fleet, type FleetHost } from './fleet.js';

const schema = {
  version: 0,
  description:
    "A VPC's router: a network namespace on a route host with a gateway leg in each attached subnet, DHCP for them, routing between them, and SNAT to an external network.",
  attributes: {
    id: { type: t.string, computed: true, description: 'Assigned on create.' },
    vpc_id: { type: t.string, required: true, requiresReplace: true, description: 'The VPC it routes.' },
    name: { type: t.string, optional: true, computed: true, description: 'A name for people (default "").' },
    host: {
      type: t.string,
      optional: true,
      computed: true,
      requiresReplace: true,
      description: 'The route host it lives on (default: the first host with the route role).',
    },
    subnet_ids: { type: t.list(t.string), required: true, description: "Subnets it serves; it takes each subnet's gateway address. Changes in place." },
    external_network: {
      type: t.string,
      optional: true,
      requiresReplace: true,
      description: 'An external network of the route host\'s agent config (e.g. "internet").',
    },
    external_ip: { type: t.string, optional: true, requiresReplace: true, description: 'Its address on the external network; SNAT and floating IPs use it.' },
    snat: { type: t.bool, optional: true, computed: true, description: 'Masquerade egress from the subnets behind external_ip (default false).' },
    dhcp_disabled_subnet_ids: { type: t.list(t.string), optional: true, computed: true, description: 'Attached subnets that get no DHCP (default none).' },
    dhcp_lease_seconds: {
      type: t.number,
      optional: true,
      computed: true,
      validators: [intBetween(120, 31_536_000)],
      description: "DHCP lease time (default: the agent's).",
    },
    namespace: { type: t.string, computed: true, description: 'The network namespace on the route host.' },
    status: { type: t.string, computed: true, description: '"ready", or what the host lacks; drift plans a repair.' },
  },
} as const;

type RouterState = StateOf<typeof schema>;
const ATTRS = Object.keys(schema.attributes);

function toState(r: RouterMessage, host: string): RouterState {
  const s = r.spec!;
  return {
    id: s.id,
    vpc_id: s.vpcId,
    name: s.name,
    host,
    subnet_ids: s.subnetIds,
    external_network: s.externalNetwork === '' ? null : s.externalNetwork,
    external_ip: s.externalIp === '' ? null : s.externalIp,
    snat: s.snat,
    dhcp_disabled_subnet_ids: s.dhcpDisabledSubnetIds,
    dhcp_lease_seconds: s.dhcpLeaseSeconds,
    namespace: r.observed!.namespace,
    status: r.status!.ready ? READY : `${host}: ${r.status!.problems.join('; ')}`,
  };
}

async function put(fleet: Fleet, host: string, what: string, spec: Omit<RouterMessage['spec'] & object, 'reservations'>): Promise<RouterMessage> {
  // The router's agent reserves every NIC address of its subnets itself, from the registry.
  return fleet
    .client(host)
    .router.putRouter({ router: { ...spec, reservations: [] } }, fleet.timeoutMs)
    .catch((e: unknown) => {
      adoptOrPass(e);
      throw new DiagnosticsError(fleetDiagnostics(what, new FleetError([{ host, error: e as Error }], new Map()), ATTRS));
    });
}

/**
 * external_network, external_ip and snat against each other and against the route host's external
 * network from the inventory — at plan time, because a replacement would destroy the old router
 * before the agent refused the new one.
 */
export function externalProblems(planned: { external_network: unknown; external_ip: unknown; snat: unknown }, host: FleetHost | undefined): Diagnostic[] {
  const network = typeof planned.external_network === 'string' ? planned.external_network : planned.external_network === null ? '' : undefined;
  const ip = typeof planned.external_ip === 'string' ? planned.external_ip : planned.external_ip === null ? '' : undefined;
  const d: Diagnostic[] = [];
  const ext = host?.external;
  const offer = ext ? `route host "${host.name}" has external network "${ext.name}" (${ext.cidr}, gateway ${ext.gateway})` : undefined;
  if (network === '') {
    if (ip !== undefined && ip !== '')
      d.push(
        attributeError(
          ['external_ip'],
          'external_ip needs external_network',
          `Name the external network the address is on${ext ? `: ${offer}` : ''}, or leave external_ip out.`,
        ),
      );
    if (planned.snat === true)
      d.push(
        attributeError(
          ['snat'],
          'snat needs external_network',
          `SNAT translates to the router's address on an external network: set external_network and external_ip${ext ? ` (${offer})` : ''}, or snat = false.`,
        ),
      );
    return d;
  }
  if (network !== undefined && ip === '')
    d.push(
      attributeError(
        ['external_ip'],
        'external_ip is required with external_network',
        `Give the router's address on "${network}"${ext ? ` (${ext.cidr}, not the gateway ${ext.gateway})` : ''}.`,
      ),
    );
  if (ip !== undefined && ip !== '') {
    const bad = checkIp('external_ip', ip)[0];
    if (bad) d.push(attributeError(['external_ip'], 'Invalid external_ip', bad.message));
  }
  if (network === undefined || !host || d.length > 0) return d;
  if (!ext) {
    d.push(
      attributeError(
        ['external_network'],
        'No external network there',
        `Route host "${host.name}" has no external network (router.external in its agent config): put the router on a route host that has "${network}", or leave external_network out.`,
      ),
    );
  } else if (ext.name !== network) {
    d.push(
      attributeError(
        ['external_network'],
        'Unknown external network',
        `"${network}" is not an external network of route host "${host.name}": it has "${ext.name}".`,
      ),
    );
  } else if (ip !== undefined) {
    const fix = `Pick a host address of ${ext.cidr} other than the gateway ${ext.gateway}.`;
    if (!isHostAddress(parseCidr(ext.cidr)!, parseIp(ip)!))
      d.push(attributeError(['external_ip'], 'Not on the external network', `${ip} is not a host address of "${ext.name}" (${ext.cidr}). ${fix}`));
    else if (ip === ext.gateway) d.push(attributeError(['external_ip'], 'The external gateway', `${ip} is the gateway of "${ext.name}". ${fix}`));
  }
  return d;
}

export const router = defineResource<typeof schema, Fleet>({
  typeName: 'vxcloud_router',
  schema,
  plan({ prior, planned }, { provider }) {
    const diagnostics: Diagnostic[] = [];
    if (typeof planned.host === 'string' && !provider.host(planned.host)?.roles.includes('route')) {
      diagnostics.push(
        attributeError(
          ['host'],
          'Not a route host',
          `"${planned.host}" is not one of the provider's route hosts: ${provider.hostsWithRole('route').join(', ') || 'none'}.`,
        ),
      );
    }
    if (prior === null && planned.host !== null && provider.hostsWithRole('route').length === 0) {
      diagnostics.push(attributeError(['host'], 'No route host', "None of the provider's hosts has the route role."));
    }
    const host = typeof planned.host === 'string' ? planned.host : prior === null && planned.host !== null ? provider.hostsWithRole('route')[0] : undefined;
    diagnostics.push(...externalProblems(planned, host === undefined ? undefined : provider.host(host)));
    return { planned: planStatus(prior, planned) as Planned<typeof schema>, diagnostics };
  },
  async create({ planned }, { provider }) {
    const host = knownOr(planned.host, null) ?? provider.hostsWithRole('route')[0];
    if (!host) throw new DiagnosticsError([attributeError(['host'], 'No route host', "None of the provider's hosts has the route role.")]);
    const made = await creating(provider, 'router', (id) =>
      put(provider, host, 'Creating the router', {
        id,
        vpcId: known(planned.vpc_id),
        name: knownOr(planned.name, null) ?? '',
        subnetIds: strs(known(planned.subnet_ids)),
        externalNetwork: knownOr(planned.external_network, null) ?? '',
        externalIp: knownOr(planned.external_ip, null) ?? '',
        snat: knownOr(planned.snat, null) ?? false,
        dhcpDisabledSubnetIds: strs(knownOr(planned.dhcp_disabled_subnet_ids, null)),
        dhcpLeaseSeconds: Number(knownOr(planned.dhcp_lease_seconds, null) ?? 0),
      }),
    );
    return toState(made, host);
  },
  async read(state, { provider }) {
    const found = await getEach<RouterMessage>(provider, [str(state.host)], (c) => c.router.getRouter({ id: str(state.id) }));
    const r = found.get(str(state.host));
    return r ? toState(r, str(state.host)) : null;
  },
  async update({ prior, planned }, { provider }) {
    const host = str(prior.host);
    const made = await put(provider, host, 'Updating the router', {
      id: str(prior.id),
      vpcId: prior.vpc_id,
      name: knownOr(planned.name, null) ?? '',
      subnetIds: strs(known(planned.subnet_ids)),
      externalNetwork: prior.external_network ?? '',
      externalIp: prior.external_ip ?? '',
      snat: knownOr(planned.snat, null) ?? false,
      dhcpDisabledSubnetIds: strs(knownOr(planned.dhcp_disabled_subnet_ids, null)),
      dhcpLeaseSeconds: Number(knownOr(planned.dhcp_lease_seconds, null) ?? 0),
    });
    return toState(made, host);
  },
  async delete(state, { provider }) {
    await provider.client(str(state.host)).router.deleteRouter({ id: str(state.id) }, provider.timeoutMs);
  },
  async importState(id, { provider }) {
    const hosts = await placedOn(provider, id, 'router');
    if (hosts.length === 0) throw new Error(`no host has a router with id "${id}"`);
    return { id, host: hosts[0]! };
  },
});
