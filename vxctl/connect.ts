// Which agents a vxctl command talks to: the hosts of a lab (all, or one), or one endpoint.

import type { Command } from 'commander';
import { AgentClient, readTls } from '../lib/agent-client.js';
import { labDir, labFilePath, readLabFile, type LabFile } from '../lab/labfile.js';

export interface TargetOptions {
  lab?: string;
  labFile?: string;
  host?: string;
  endpoint?: string;
  ca?: string;
  cert?: string;
  key?: string;
}

export interface Target {
  name: string;
  client: AgentClient;
  /** The lab the host belongs to, when the targets came from a lab file. */
  lab?: LabFile;
}

export async function targets(o: TargetOptions): Promise<Target[]> {
  if (o.endpoint) {
    if (!o.ca || !o.cert || !o.key) throw new Error('--endpoint needs --ca, --cert and --key');
    const client = new AgentClient(o.endpoint, await readTls({ ca: o.ca, cert: o.cert, key: o.key }));
    return [{ name: o.host ?? o.endpoint, client }];
  }
  const path = o.labFile ?? labFilePath(labDir(o.lab ?? 'vxlab'));
  const lab = await readLabFile(path).catch(() => {
    throw new Error(`no lab file at ${path}: run \`vxctl lab up\`, or give --endpoint with --ca/--cert/--key`);
  });
  const hosts = o.host ? lab.hosts.filter((h) => h.name === o.host) : lab.hosts;
  if (hosts.length === 0) throw new Error(`--host ${o.host}: lab ${lab.name} has ${lab.hosts.map((h) => h.name).join(', ')}`);
  const tls = await readTls(lab.tls);
  return hosts.map((h) => ({ name: h.name, client: new AgentClient(h.endpoint, tls), lab }));
}

/** The options that choose targets, for every command that asks agents. */
export function withTargets(cmd: Command): Command {
  return cmd
    .option('--lab <name>', 'lab whose hosts to ask', 'vxlab')
    .option('--lab-file <path>', 'lab file to read instead of the named lab')
    .option('--host <name>', 'only this host')
    .option('--endpoint <address>', 'one agent: unix:///path or host:port')
    .option('--ca <file>')
    .option('--cert <file>')
    .option('--key <file>');
}
