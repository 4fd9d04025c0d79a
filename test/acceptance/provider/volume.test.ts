import { volumeSuite } from './volume-suite.js';

volumeSuite('terraform');
