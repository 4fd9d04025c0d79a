// `vxcloud-agent --check-config FILE`: what an operator (or a systemd unit's ExecStartPre) runs
// before starting an agent — the config's fields, and the files it names: readable, and the agent
// API's certificate that of this host. Says what is wrong, naming the field, or what it found.

import { readFile } from 'node:fs/promises';
import { describeIdentity, identityOfPem } from '../../lib/identity.js';
import { ConfigError, loadConfig } from './config.js';

async function readable(field: string, path: string): Promise<string> {
  return readFile(path, 'utf8').catch((e: NodeJS.ErrnoException) => {
    throw new ConfigError(`${field}: ${path} cannot be read (${e.code ?? e.message})`);
  });
}

/** The config at `path` checked; returns a one-line summary, or throws a ConfigError naming the field. */
export async function checkConfig(path: string): Promise<string> {
  const cfg = await loadConfig(path);
  const files: [string, string][] = [
    ['tls.ca', cfg.tls.ca],
    ['tls.key', cfg.tls.key],
    ...(cfg.registry?.tls
      ? ([
          ['registry.tls.ca', cfg.registry.tls.ca],
          ['registry.tls.cert', cfg.registry.tls.cert],
          ['registry.tls.key', cfg.registry.tls.key],
        ] as [string, string][])
      : []),
    ...(cfg.registry?.managed
      ? ([
          ['registry.managed.cert', cfg.registry.managed.cert],
          ['registry.managed.key', cfg.registry.managed.key],
        ] as [string, string][])
      : []),
  ];
  for (const [field, file] of files) await readable(`${path}: ${field}`, file);
  const id = identityOfPem(await readable(`${path}: tls.cert`, cfg.tls.cert));
  if (id?.kind !== 'host' || id.host !== cfg.host.name) {
    throw new ConfigError(
      `${path}: tls.cert: ${cfg.tls.cert} is the certificate of ${describeIdentity(id)}, not of host ${cfg.host.name}: mint one with \`vxctl certs host ${cfg.host.name} --ip ${cfg.underlay.address}\``,
    );
  }
  const plane = cfg.controlPlane.kind;
  return `${path}: good — host ${cfg.host.name} (${cfg.host.roles.join(', ')}), underlay ${cfg.underlay.interface} ${cfg.underlay.address}, transport ${cfg.transport}, control plane ${plane}, ${cfg.registry ? `registry ${cfg.registry.managed ? 'managed here' : 'at'} ${cfg.registry.endpoints.join(', ')}` : 'no registry'}`;
}
