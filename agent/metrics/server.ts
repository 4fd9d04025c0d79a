// GET /metrics over HTTPS with mutual TLS, like the agent API: the scraper presents a certificate
// of the deployment CA, and only an operator's or a host's may read (metrics name every tenant's
// objects and volumes). Prometheus scrapes it with `scheme: https` and a `tls_config` holding the
// CA and an operator certificate (`vxctl certs client prometheus --operator`).

import { freeSocketPath, parseListen } from '../../lib/listen.js';
import { createServer, type Server } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { readFile } from 'node:fs/promises';
import { describeIdentity, identityOfAltNames } from '../../lib/identity.js';
import type { AgentConfig } from '../config/config.js';
import type { AgentMetrics } from './metrics.js';

export async function startMetricsServer(tls: AgentConfig['tls'], listen: readonly string[], metrics: AgentMetrics): Promise<Server[]> {
  const [ca, cert, key] = await Promise.all([readFile(tls.ca), readFile(tls.cert), readFile(tls.key)]);
  const servers: Server[] = [];
  try {
    for (const address of listen) {
      const server = createServer({ ca, cert, key, requestCert: true, rejectUnauthorized: true }, (req, res) => {
        const who = identityOfAltNames((req.socket as TLSSocket).getPeerCertificate().subjectaltname);
        if (who?.kind !== 'operator' && who?.kind !== 'host') {
          res.writeHead(403, { 'content-type': 'text/plain' }).end(`${describeIdentity(who)} may not read metrics: use an operator's certificate\n`);
          return;
        }
        if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
          res.writeHead(404, { 'content-type': 'text/plain' }).end('GET /metrics\n');
          return;
        }
        metrics.registry.metrics().then(
          (body) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(body),
          (e: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${(e as Error).message}\n`),
        );
      });
      servers.push(server);
      await listenOn(server, address);
    }
  } catch (e) {
    for (const s of servers) s.close();
    throw e;
  }
  return servers;
}

/** `unix:///path` or `host:port`, as the API's listen addresses. */
async function listenOn(server: Server, address: string): Promise<void> {
  const at = parseListen(address);
  await freeSocketPath(at);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => reject(new Error(`metrics.listen ${address}: ${e.message}`)));
    if ('path' in at) server.listen(at.path, resolve);
    else server.listen(at.port, at.host, resolve);
  });
}
