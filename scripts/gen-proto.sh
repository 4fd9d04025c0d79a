#!/usr/bin/env bash
# Generates TypeScript (ts-proto, grpc-js services) for every .proto under proto/ into gen/.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v protoc >/dev/null || { echo "protoc is missing: run scripts/setup.sh (Debian package protobuf-compiler)" >&2; exit 1; }
rm -rf gen && mkdir -p gen
mapfile -t files < <(cd proto && find . -name '*.proto' | sed 's|^\./||' | sort)
protoc \
  --plugin=protoc-gen-ts_proto=node_modules/.bin/protoc-gen-ts_proto \
  --ts_proto_out=gen \
  --ts_proto_opt=outputServices=grpc-js,esModuleInterop=true,importSuffix=.js,env=node,forceLong=number,useOptionals=none,unrecognizedEnum=false \
  -I proto "${files[@]}"
