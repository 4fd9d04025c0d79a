// The provider block: which hosts to manage and the TLS material to reach their agents — either
// a lab file written by `vxctl lab up`, or hosts and certificates given explicitly.

import { readFile } from 'node:fs/promises';
import { t, isUnknown } from '../plugin/cty.js';
import { attributeError, type Diagnostic } from '../plugin/diagnostics.js';
import type { Config } from '../plugin/framework.js';
import type { StateOf } from '../plugin/schema.js';
import { intBetween, oneOf } from '../plugin/validators.js';
import { readLabFile } from '../../lab/labfile.js';
import { Fleet, type FleetHost } from './fleet.js';

export const providerSchema = {
  description: 'vxcloud: VPCs, subnets, NICs, routers and replicated block volumes on a set of Linux hosts, programmed by the vxcloud agent on each host.',
  attributes: {
    lab_file: {
      type: t.string,
      optional: true,
      description: 'A lab file written by `vxctl lab up`: hosts, endpoints and certificates. Conflicts with `host` and the TLS attributes.',
    },
    ca_file: { type: t.string, optional: true, description: "Path of the deployment CA's certificate (PEM)." },
    cert_file: { type: t.string, optional: true, description: 'Path of the client certificate (PEM) signed by the CA.' },
    key_file: { type: t.string, optional: true, description: 'Path of the client key (PEM).' },
    ca_pem: { type: t.string, optional: true, description: "The CA's certificate as PEM text, instead of ca_file." },
    cert_pem: { type: t.string, optional: true, description: 'The client certificate as PEM text, instead of cert_file.' },
    key_pem: { type: t.string, optional: true, sensitive: true, description: 'The client key as PEM text, instead of key_file.' },
    timeout_seconds: { type: t.number, optional: true, validators: [intBetween(1, 3600)], description: 'Deadline of each agent call (default 60).' },
  },
  blocks: {
    host: {
      nesting: 'list',
      description:
        'An agent to reach the deployment through: the provider learns every other host from the registry (one answering host is enough; list more in case one is down).',
      block: {
        attributes: {
          name: { type: t.string, required: true, description: 'Host name, as in its agent config.' },
          endpoint: { type: t.string, required: true, description: 'Agent endpoint: `host:port` or `unix:///path`.' },
          underlay_address: {
            type: t.string,
            optional: true,
            description: 'Unused, accepted for older configurations: each agent records its underlay address in the registry.',
          },
          roles: {
            type: t.list(t.string),
            optional: true,
            description: 'Unused, accepted for older configurations: each agent records its roles in the registry.',
          },
        },
      },
    },
  },
} as const;

type ProviderConfig = StateOf<typeof providerSchema>;

const roleCheck = oneOf('compute', 'route', 'management', 'storage');

export function validateProviderConfig(c: Config<typeof providerSchema>): Diagnostic[] {
  const out: Diagnostic[] = [];
  const given = (v: unknown): boolean => v !== null && v !== undefined;
  const hosts = Array.isArray(c.host) ? c.host : [];
  if (given(c.lab_file)) {
    for (const k of ['ca_file', 'cert_file', 'key_file', 'ca_pem', 'cert_pem', 'key_pem'] as const) {
      if (given(c[k])) out.push(attributeError([k], 'Conflicting configuration', `lab_file already names the certificates; remove ${k}.`));
    }
    if (hosts.length > 0) out.push(attributeError(['host'], 'Conflicting configuration', 'lab_file already lists the hosts; remove the host blocks.'));
    return out;
  }
  if (isUnknown(c.host)) return out;
  if (hosts.length === 0) out.push(attributeError(['host'], 'No hosts', 'Give lab_file, or at least one host block with name and endpoint.'));
  for (const [file, pem, what] of [
    ['ca_file', 'ca_pem', 'CA certificate'],
    ['cert_file', 'cert_pem', 'client certificate'],
    ['key_file', 'key_pem', 'client key'],
  ] as const) {
    if (given(c[file]) === given(c[pem])) out.push(attributeError([file], `One ${what} needed`, `Give exactly one of ${file} and ${pem}.`));
  }
  const names = new Set<string>();
  hosts.forEach((h, i) => {
    if (isUnknown(h) || !h) return;
    if (typeof h.name === 'string') {
      if (names.has(h.name)) out.push(attributeError(['host', i, 'name'], 'Duplicate host', `Host "${h.name}" is listed twice.`));
      names.add(h.name);
    }
    if (Array.isArray(h.roles)) h.roles.forEach((r, j) => out.push(...roleCheck(r, ['host', i, 'roles', j])));
  });
  return out;
}

async function withInventory(f: Fleet): Promise<Fleet> {
  await f.loadInventory();
  return f;
}

export async function configureFleet(c: ProviderConfig): Promise<Fleet> {
  const timeoutMs = Number(c.timeout_seconds ?? 60) * 1000;
  if (c.lab_file !== null) {
    const lab = await readLabFile(c.lab_file).catch((e: Error) => {
      throw new Error(`lab_file: cannot read ${c.lab_file}: ${e.message}. Run \`vxctl lab up\` first.`);
    });
    const [ca, cert, key] = await Promise.all([readFile(lab.tls.ca), readFile(lab.tls.cert), readFile(lab.tls.key)]);
    const hosts: FleetHost[] = lab.hosts.map((h) => ({ name: h.name, endpoint: h.endpoint, roles: h.roles, up: true }));
    return withInventory(new Fleet(hosts, { ca, cert, key }, timeoutMs));
  }
  const pem = async (file: string | null, text: string | null): Promise<Buffer> => (file !== null ? readFile(file) : Buffer.from(text ?? ''));
  const [ca, cert, key] = await Promise.all([pem(c.ca_file, c.ca_pem), pem(c.cert_file, c.cert_pem), pem(c.key_file, c.key_pem)]);
  const hosts = c.host.map((h) => ({ name: h.name, endpoint: h.endpoint, roles: (h.roles ?? ['compute']).filter((r): r is string => r !== null), up: true }));
  return withInventory(new Fleet(hosts, { ca, cert, key }, timeoutMs));
}
