// Prints vitest's JSON results as one closing line that any CI can read.
import { readFileSync } from 'node:fs';

const r = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const skipped = r.numPendingTests + r.numTodoTests;
console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`);
// A skipped test hides a missing dependency or an unfinished case: count it as a failure.
if (r.numFailedTests > 0 || skipped > 0 || r.numTotalTests === 0) process.exit(1);
