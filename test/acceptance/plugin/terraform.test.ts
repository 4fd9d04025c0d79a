import { cliSuite } from './suite.js';

cliSuite('terraform');
