#!/usr/bin/env bash
# The whole suite: build, run vitest, and end with one plain "N passed, N failed" line.
set -uo pipefail
cd "$(dirname "$0")/.."
npm run build --silent || exit 1
mkdir -p dist
npx vitest run --reporter=default --reporter=json --outputFile.json=dist/test-results.json "$@"
rc=$?
node scripts/test-summary.mjs dist/test-results.json || rc=1
exit $rc
