import { providerSuite } from './suite.js';

// The same flow with OpenTofu; the edge cases run once, under terraform.
providerSuite('tofu', { full: false });
