#!/usr/bin/env bash
# Every bench, then their ratio lines together. Run as root: bash bench/run-all.sh
# Builds the project first: the lab benches start the agent from dist/.
set -euo pipefail
cd "$(dirname "$0")/.."

npm run build
for b in fdb l2-throughput tap-throughput evpn-convergence nat security-groups sbs vm-disk provider; do npx tsc -p "bench/$b/tsconfig.json"; done

out=$(mktemp)
trap 'rm -f "$out"' EXIT
failed=0
for js in fdb/run.js fdb/api.js l2-throughput/run.js tap-throughput/run.js evpn-convergence/run.js nat/run.js security-groups/run.js sbs/nbd-vs-nbdkit.js sbs/volume-vs-peers.js vm-disk/run.js provider/run.js provider/scale.js; do
  echo "== bench/$js"
  # One failing bench must not hide the figures of the others; the exit status still reports it.
  node "bench/${js%%/*}/.build/bench/$js" | tee -a "$out" || { echo "bench/$js failed"; failed=1; }
done
echo
echo "== ratios"
grep ratio "$out" || true
exit "$failed"
