import { providerSuite } from './suite.js';

// The same example on the dynamic control planes: the provider learns each host's control plane
// and pushes no VTEP table to hosts that fill their own (they would refuse it).
providerSuite('terraform', { full: false, controlPlane: 'evpn' });
providerSuite('terraform', { full: false, controlPlane: 'etcd' });
