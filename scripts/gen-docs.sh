#!/usr/bin/env bash
# Regenerates docs/ (registry layout) from the provider's schema and examples/. Needs a build
# (npm run build); test/unit/provider/docs.test.ts fails while the committed docs are stale.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -f dist/provider/docs/main.js ]] || { echo "dist/ is missing the docs generator: run npm run build first" >&2; exit 1; }
node dist/provider/docs/main.js docs
