import { tenantsSuite } from './tenants-suite.js';

tenantsSuite('evpn');
