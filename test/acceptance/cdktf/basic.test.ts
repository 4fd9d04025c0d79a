import * as example from '../../../examples/cdktf/basic/main.js';
import { cdkBasicSuite } from '../cdk/basic-suite.js';

cdkBasicSuite('cdktf', example);
