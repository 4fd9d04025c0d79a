import { providerSuite } from './suite.js';

// The same example on EVPN: FRR carries reachability, the registry still allocates (the other
// suites run on the registry control plane, the default).
providerSuite('terraform', { full: false, controlPlane: 'evpn' });
