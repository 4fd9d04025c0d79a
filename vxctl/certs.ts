// vxctl certs: a deployment's CA and the certificates of its hosts and clients.

import type { Command } from 'commander';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { createCa, issue, readPair, writePair } from '../lib/certs.js';
import { checkIdentityName, type Identity } from '../lib/identity.js';

async function loadCa(dir: string): Promise<Awaited<ReturnType<typeof readPair>>> {
  return readPair(join(dir, 'ca.pem'), join(dir, 'ca-key.pem')).catch(() => {
    throw new Error(`no CA in ${dir}: run \`vxctl certs ca --dir ${dir}\` first`);
  });
}

export function registerCertCommands(program: Command): void {
  const certs = program.command('certs').description('mint the CA and the host and client certificates of a deployment');
  certs
    .command('ca')
    .description('create the CA (ca.pem, ca-key.pem)')
    .requiredOption('--dir <dir>', 'where the PKI lives')
    .option('--name <cn>', 'CA common name', 'vxcloud CA')
    .action(async (o: { dir: string; name: string }) => {
      const exists = await access(join(o.dir, 'ca.pem')).then(
        () => true,
        () => false,
      );
      if (exists) throw new Error(`${join(o.dir, 'ca.pem')} exists: refusing to replace the CA every host trusts`);
      const files = await writePair(o.dir, 'ca', await createCa(o.name));
      console.log(files.cert);
    });
  certs
    .command('host <name>')
    .description('a host certificate (server and client auth) for the agent on NAME')
    .requiredOption('--dir <dir>', 'where the PKI lives')
    .option('--ip <address...>', 'underlay/management addresses the agent is reached on', [])
    .option('--dns <name...>', 'extra DNS names', [])
    .action(async (name: string, o: { dir: string; ip: string[]; dns: string[] }) => {
      checkIdentityName('host', name);
      const pair = await issue(await loadCa(o.dir), {
        commonName: name,
        role: 'host',
        dnsNames: [name, 'localhost', ...o.dns],
        ips: o.ip,
        identity: { kind: 'host', host: name },
      });
      const files = await writePair(o.dir, name, pair);
      console.log(`${files.cert}\n${files.key}`);
    });
  certs
    .command('client <name>')
    .description('a client certificate (vxctl, the Terraform provider) of a tenant (--tenant T: its own objects only) or an operator (--operator: everything)')
    .requiredOption('--dir <dir>', 'where the PKI lives')
    .option('--tenant <tenant>', 'the tenant it acts for')
    .option('--operator', 'an operator: every tenant, every object')
    .action(async (name: string, o: { dir: string; tenant?: string; operator?: boolean }) => {
      if ((o.tenant === undefined) === (o.operator !== true))
        throw new Error('give exactly one of --tenant T and --operator: a client certificate says whom it acts for');
      if (o.tenant !== undefined) checkIdentityName('--tenant', o.tenant);
      const identity: Identity = o.tenant !== undefined ? { kind: 'tenant', tenant: o.tenant } : { kind: 'operator' };
      const files = await writePair(o.dir, name, await issue(await loadCa(o.dir), { commonName: name, role: 'client', identity }));
      console.log(`${files.cert}\n${files.key}`);
    });
}
