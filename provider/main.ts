// The provider process: `serveProvider(definition)` runs the go-plugin handshake and serves the
// definition over tfplugin6 until terraform shuts it down.

import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Provider } from './plugin/framework.js';
import { checkEnvironment, HandshakeError, serve } from './plugin/handshake.js';
import type { Served } from './plugin/handshake.js';
import { createLogger } from './plugin/log.js';
import { createProviderServer } from './plugin/server.js';

export async function serveProvider<M>(provider: Provider<M>, env: NodeJS.ProcessEnv = process.env): Promise<Served> {
  exitUnlessStartedByTerraform(env);
  const log = createLogger(`provider.terraform-provider-${provider.name}`, env);
  const server = createProviderServer(provider, log);
  return serve({ services: [server], log, env, beforeShutdown: server.shutdown });
}

function exitUnlessStartedByTerraform(env: NodeJS.ProcessEnv): void {
  try {
    checkEnvironment(env);
  } catch (err) {
    if (!(err instanceof HandshakeError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
}

/**
 * Run as a program (bin/terraform-provider-vxcloud): serve vxcloud's own definition, the default
 * export of ./definition.js. It is loaded by name at run time so that this module also serves
 * providers defined elsewhere (test fixtures) without pulling vxcloud's resources in.
 */
async function main(): Promise<void> {
  exitUnlessStartedByTerraform(process.env);
  const definitionModule = './definition.js';
  const { default: provider } = (await import(definitionModule)) as { default: Provider<unknown> };
  await serveProvider(provider);
}

const entry = process.argv[1];
if (entry && realpathSync(entry) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    process.stderr.write(`terraform-provider-vxcloud: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
