#!/usr/bin/env bash
# Generates the CDK bindings of the vxcloud provider, from the schema the provider's definition
# describes: CDKTF's into provider/cdktf/generated/ and CDK Terrain's into provider/cdktn/generated/
# (neither committed). Runs after gen-proto.sh and before the project's tsc, which compiles the
# bindings and the CDK examples with everything else.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -f gen/tfplugin6/tfplugin6.ts ]] || { echo "gen/ is missing: run scripts/gen-proto.sh first" >&2; exit 1; }

# The schema command and the generator, emitted without a type check (the project's tsc checks
# them) into a scratch build that resolves packages from this checkout.
build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT
npx tsc -p provider/cdk/tsconfig.gen.json --noCheck --sourceMap false --outDir "$build"
ln -s "$PWD/node_modules" "$build/node_modules"
echo '{"type":"module"}' >"$build/package.json"

node "$build/provider/schema-cli.js" --out "$build/provider-schema.json"
for flavour in cdktf cdktn; do
  # Both generators' commons run `terraform version` when loaded and report failures to
  # HashiCorp's checkpoint service: neither is wanted in a build.
  CHECKPOINT_DISABLE=1 TERRAFORM_BINARY_NAME=true \
    node "$build/provider/cdk/generate.js" "$flavour" "$build/provider-schema.json" "provider/$flavour/generated"
  # Their declarations, for the package's `vxcloud/$flavour` export; the project's tsc emits the JavaScript.
  npx tsc -p "provider/$flavour/tsconfig.types.json"
done
