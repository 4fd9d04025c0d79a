#!/usr/bin/env bash
# The demo: a lab of three hosts on this machine, a VPC with two subnets and NICs on two hosts
# created through the agent API, a ping across hosts over VXLAN, and the lab torn down again.
set -euo pipefail
cd "$(dirname "$0")/.."
LAB=${LAB:-vxdemo}
trap 'node dist/vxctl/main.js lab down --name "$LAB" >/dev/null' EXIT

node dist/vxctl/main.js lab up --hosts 3 --name "$LAB"
node dist/vxctl/main.js lab status --name "$LAB"
node dist/examples/agent-api/basic.js --lab "$LAB"
echo
node dist/vxctl/main.js nic list --lab "$LAB"
node dist/vxctl/main.js subnet show web --lab "$LAB"
