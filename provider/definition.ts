// terraform-provider-vxcloud: the provider's definition, served by provider/main.ts.

import { defineProvider } from './plugin/framework.js';
import { AGENT_VERSION } from '../agent/version.js';
import { blockVolume } from './resources/block-volume.js';
import { hostData, hostsData } from './resources/hosts.js';
import { natRule } from './resources/nat-rule.js';
import { nic } from './resources/nic.js';
import { router } from './resources/router.js';
import { configureFleet, providerSchema, validateProviderConfig } from './resources/provider-config.js';
import { securityGroup } from './resources/security-group.js';
import { securityGroupRule } from './resources/security-group-rule.js';
import { subnet } from './resources/subnet.js';
import { vpc } from './resources/vpc.js';
import type { Fleet } from './resources/fleet.js';

export default defineProvider<typeof providerSchema, Fleet>({
  name: 'vxcloud',
  version: AGENT_VERSION,
  schema: providerSchema,
  validate: validateProviderConfig,
  configure: (config) => configureFleet(config as Parameters<typeof configureFleet>[0]),
  shutdown: (fleet) => fleet.confirmRun(700),
  resources: [vpc, subnet, nic, router, natRule, securityGroup, securityGroupRule, blockVolume],
  dataSources: [hostData, hostsData],
});
