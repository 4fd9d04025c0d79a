// vxctl metrics: what Prometheus would scrape from an agent (GET /metrics over mutual TLS), for a
// lab's hosts or one address, printed as the agent serves it.

import { parseListen } from '../lib/listen.js';
import { request } from 'node:https';
import { checkServerIdentity } from 'node:tls';
import type { Command } from 'commander';
import { readTls, type TlsMaterial } from '../lib/agent-client.js';
import { labDir, labFilePath, readLabFile } from '../lab/labfile.js';

/** GET /metrics from `address` (`unix:///path` or `host:port`); `host` is the name its certificate carries. */
export function scrapeMetrics(address: string, host: string, tls: TlsMaterial): Promise<{ status: number; body: string }> {
  const at = parseListen(address);
  const where = 'path' in at ? { socketPath: at.path } : at;
  return new Promise((resolve, reject) => {
    const req = request(
      {
        ...where,
        path: '/metrics',
        ...tls,
        servername: host,
        checkServerIdentity: (_, cert) => checkServerIdentity(host, cert),
        timeout: 10_000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`metrics ${address}: no answer in 10 s`)));
    req.on('error', reject);
    req.end();
  });
}

export function registerMetricsCommand(program: Command): void {
  program
    .command('metrics')
    .description("print an agent's Prometheus metrics (the lab's hosts, or --address with --ca/--cert/--key)")
    .option('--lab <name>', 'lab whose hosts to scrape', 'vxlab')
    .option('--lab-file <path>', 'lab file to read instead of the named lab')
    .option('--host <name>', 'only this host of the lab (or the name in the certificate of --address)')
    .option('--address <address>', "one agent's metrics address: host:port or unix:///path")
    .option('--ca <file>')
    .option('--cert <file>')
    .option('--key <file>')
    .action(async (o: { lab: string; labFile?: string; host?: string; address?: string; ca?: string; cert?: string; key?: string }) => {
      let targets: { name: string; address: string; tls: TlsMaterial }[];
      if (o.address) {
        if (!o.ca || !o.cert || !o.key || !o.host) throw new Error('--address needs --host (the name in its certificate), --ca, --cert and --key');
        targets = [{ name: o.host, address: o.address, tls: await readTls({ ca: o.ca, cert: o.cert, key: o.key }) }];
      } else {
        const lab = await readLabFile(o.labFile ?? labFilePath(labDir(o.lab)));
        const tls = await readTls(lab.tls);
        const hosts = lab.hosts.filter((h) => o.host === undefined || h.name === o.host);
        if (hosts.length === 0) throw new Error(`--host ${o.host}: lab ${lab.name} has ${lab.hosts.map((h) => h.name).join(', ')}`);
        targets = hosts.flatMap((h) => (h.metrics ? [{ name: h.name, address: h.metrics, tls }] : []));
      }
      for (const t of targets) {
        const { status, body } = await scrapeMetrics(t.address, t.name, t.tls);
        if (status !== 200) throw new Error(`${t.name}: HTTP ${status}: ${body.trim()}`);
        process.stdout.write(body);
      }
    });
}
