#!/usr/bin/env bash
# The demo: a lab of three hosts on this machine, `terraform apply` of examples/hcl/basic (a VPC,
# two subnets, NICs on two hosts), a ping across hosts over VXLAN, then destroy and teardown.
set -euo pipefail
cd "$(dirname "$0")/.."
LAB=${LAB:-vxdemo}
TERRAFORM=${TERRAFORM:-${VXCLOUD_TOOLS:-/root/.cache/vxcloud-tools/bin}/terraform}
work=$(mktemp -d)
vxctl() { node dist/vxctl/main.js "$@"; }
cleanup() {
  [ -f "$work/terraform.tfstate" ] && (cd "$work" && "$TERRAFORM" destroy -auto-approve -no-color >/dev/null 2>&1 || true)
  vxctl lab down --lab "$LAB" >/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

vxctl lab up --hosts 3 --lab "$LAB"
vxctl lab status --lab "$LAB"

# The provider build goes into a local mirror, so `terraform init` needs no registry.
node dist/provider/plugin/install-cli.js --dir "$work/provider" --version "$(node -p 'require("./package.json").version')" >/dev/null
export TF_CLI_CONFIG_FILE="$work/provider/terraform.rc" TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1
cp examples/hcl/basic/main.tf "$work/"
printf 'lab_file = "/run/vxcloud/labs/%s/lab.json"\nnamespace_prefix = "%s"\n' "$LAB" "$LAB" > "$work/terraform.tfvars"
cd "$work"
"$TERRAFORM" init -no-color >/dev/null
"$TERRAFORM" apply -auto-approve -no-color | tail -n 25
cd - >/dev/null

from=$(cd "$work" && "$TERRAFORM" output -json web | node -e 'const o=JSON.parse(require("fs").readFileSync(0));const [a,b]=Object.entries(o);console.log(a[0], a[1].host, b[1].ip.split("/")[0], b[1].host)')
read -r ns host_a ip_b host_b <<<"$from"
echo
echo "ping from $ns on $host_a to $ip_b on $host_b, across VXLAN:"
ip netns exec "$ns" ping -c 3 -i 0.2 -W 2 "$ip_b"
echo
vxctl nic list --lab "$LAB"
echo
(cd "$work" && "$TERRAFORM" destroy -auto-approve -no-color | tail -n 1)
