// vxctl: the operator's command line: certificates, labs, and what the agents hold.

import { Command } from 'commander';
import { AGENT_VERSION } from '../agent/version.js';
import { registerCertCommands } from './certs.js';
import { registerRegistryCommands } from './registry.js';
import { registerEvpnCommands } from './evpn.js';
import { registerLabCommands } from './lab.js';
import { registerMetricsCommand } from './metrics.js';
import { registerObjectCommands } from './objects.js';
import { registerRouterCommands } from './router.js';
import { registerVolumeCommands } from './volume.js';

const program = new Command('vxctl').description('vxcloud operator CLI').version(AGENT_VERSION);
registerCertCommands(program);
registerLabCommands(program);
registerObjectCommands(program);
registerRouterCommands(program);
registerVolumeCommands(program);
registerEvpnCommands(program);
registerRegistryCommands(program);
registerMetricsCommand(program);

program.parseAsync().catch((e: unknown) => {
  process.stderr.write(`vxctl: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
