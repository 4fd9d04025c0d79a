// go-plugin's side of the contract with terraform: check we were started by a terraform, pick
// protocol 6, serve gRPC on a private unix socket (mutual TLS when terraform offers a client
// certificate), announce it on the one stdout line, and exit when the controller says so.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { ServiceDefinition, UntypedServiceImplementation } from '@grpc/grpc-js';
import { createServerCertificate } from './certs.js';
import type { Logger } from './log.js';
import { GRPCControllerService } from '../../gen/plugin/grpc_controller.js';

export const MAGIC_COOKIE_KEY = 'TF_PLUGIN_MAGIC_COOKIE';
export const MAGIC_COOKIE_VALUE = 'd602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2';
/** go-plugin's own protocol version, the handshake line's first field. */
const CORE_PROTOCOL_VERSION = 1;
export const APP_PROTOCOL_VERSION = 6;
/** Schemas and plans of large configurations exceed grpc-js's 4 MiB default. */
const MAX_MESSAGE_BYTES = 256 * 1024 * 1024;

export class HandshakeError extends Error {}

/** Throws HandshakeError unless the environment is a terraform that speaks protocol 6. */
export function checkEnvironment(env: NodeJS.ProcessEnv): void {
  if (env[MAGIC_COOKIE_KEY] !== MAGIC_COOKIE_VALUE) {
    throw new HandshakeError(
      'This binary is a plugin: terraform (or tofu) starts it when it needs the provider. ' + 'Run terraform instead of running this directly.',
    );
  }
  const offered = (env.PLUGIN_PROTOCOL_VERSIONS ?? '').split(',').map((v) => v.trim());
  if (!offered.includes(String(APP_PROTOCOL_VERSION))) {
    throw new HandshakeError(
      `This provider speaks plugin protocol ${APP_PROTOCOL_VERSION}; the caller offers ${offered.join(',') || 'none'}. ` +
        'Use terraform 1.0 or later, or OpenTofu.',
    );
  }
}

export interface ServeOptions {
  readonly services: readonly { service: ServiceDefinition; implementation: UntypedServiceImplementation }[];
  readonly log: Logger;
  readonly env?: NodeJS.ProcessEnv;
  /** Where the handshake line goes; stdout unless a test captures it. */
  readonly announce?: (line: string) => void;
  /** What Shutdown ends with; the process unless a test keeps it. */
  readonly exit?: (code: number) => void;
  /** Runs on Shutdown before the server closes, for at most 800 ms. */
  readonly beforeShutdown?: () => Promise<void>;
}

export interface Served {
  readonly socketPath: string;
  readonly handshakeLine: string;
  close(): void;
}

export async function serve(opts: ServeOptions): Promise<Served> {
  const env = opts.env ?? process.env;
  const log = opts.log;
  const announce = opts.announce ?? ((line: string) => process.stdout.write(`${line}\n`));
  const exit = opts.exit ?? ((code: number) => process.exit(code));

  // A directory only this user can enter, so no one else can reach the socket.
  const dir = mkdtempSync(join(tmpdir(), 'vxcloud-plugin-'));
  const socketPath = join(dir, 'plugin.sock');

  const server = new grpc.Server({
    'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
    'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
  });
  for (const s of opts.services) server.addService(s.service, s.implementation);

  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    server.forceShutdown();
    rmSync(dir, { recursive: true, force: true });
  };
  server.addService(GRPCControllerService, {
    shutdown: (_call: unknown, callback: grpc.sendUnaryData<object>) => {
      log.debug('shutdown requested');
      // Terraform kills us two seconds after asking: the hook gets 800 ms of them.
      const before = opts.beforeShutdown?.().catch((err: unknown) => log.warn({ err }, 'shutdown hook failed')) ?? Promise.resolve();
      void Promise.race([before, new Promise((r) => setTimeout(r, 800).unref())]).then(() => {
        callback(null, {});
        // Let the reply go out first (closing at once cancels it), then the calls still running
        // finish; but never linger on a stuck one.
        const done = (): void => {
          close();
          exit(0);
        };
        setTimeout(() => server.tryShutdown(done), 20);
        setTimeout(done, 1000).unref();
      });
    },
  });

  let certField = '';
  let credentials = grpc.ServerCredentials.createInsecure();
  const clientCert = env.PLUGIN_CLIENT_CERT;
  if (clientCert) {
    const cert = await createServerCertificate();
    // Only the certificate terraform handed us may connect, as go-plugin's RequireAndVerifyClientCert.
    credentials = grpc.ServerCredentials.createSsl(
      Buffer.from(clientCert),
      [{ private_key: Buffer.from(cert.keyPem), cert_chain: Buffer.from(cert.certPem) }],
      true,
    );
    certField = cert.handshakeField;
  }

  try {
    await new Promise<void>((resolve, reject) => server.bindAsync(`unix://${socketPath}`, credentials, (err) => (err ? reject(err) : resolve())));
  } catch (err) {
    close();
    throw err;
  }

  process.once('exit', close);
  // Cancellation arrives as StopProvider; a Ctrl-C reaches the whole process group, so ignore it.
  process.on('SIGINT', () => log.debug('SIGINT ignored; waiting for StopProvider'));
  process.once('SIGTERM', () => {
    close();
    exit(0);
  });

  const handshakeLine = [CORE_PROTOCOL_VERSION, APP_PROTOCOL_VERSION, 'unix', socketPath, 'grpc', certField].join('|');
  announce(handshakeLine);
  log.debug({ socketPath, tls: certField !== '' }, 'serving');
  return { socketPath, handshakeLine, close };
}
