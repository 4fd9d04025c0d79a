import { cliSuite } from './suite.js';

cliSuite('tofu');
