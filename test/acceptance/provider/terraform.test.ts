import { providerSuite } from './suite.js';

providerSuite('terraform', { full: true });
