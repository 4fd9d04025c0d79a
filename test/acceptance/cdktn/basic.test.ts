import * as example from '../../../examples/cdktn/basic/main.js';
import { cdkBasicSuite } from '../cdk/basic-suite.js';

// The cdktf suite's flow with CDK Terrain's synthesis; terraform applies the JSON either way.
cdkBasicSuite('cdktn', example);
