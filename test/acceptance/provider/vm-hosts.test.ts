// The provider suite on a lab whose second compute host is a QEMU VM running the real agent on
// Debian's stock kernel (VLAN-aware bridges, chosen by the agent's own probe), on the same
// underlay and registry as the namespace host.

import { providerSuite } from './suite.js';

providerSuite('terraform', { full: true, vmHosts: 1 });
