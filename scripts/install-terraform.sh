#!/usr/bin/env bash
# Builds the terraform and OpenTofu CLIs that the acceptance tests run, from the Go module proxy
# (neither is a Debian package). Pinned versions: later tags carry replace directives, which
# `go install pkg@version` refuses. Already-built binaries with the right version are kept.
#
# Usage: scripts/install-terraform.sh [terraform] [tofu]   (default: both)
# Env:   VXCLOUD_TOOLS  folder the binaries go to (default /root/.cache/vxcloud-tools/bin); the
#                       acceptance tests look there too
set -euo pipefail

TERRAFORM_VERSION=1.5.7
TOFU_VERSION=1.6.3
BIN="${VXCLOUD_TOOLS:-/root/.cache/vxcloud-tools/bin}"
# Fallback toolchain for when the installed Go refuses an old dependency; go fetches it itself.
FALLBACK_TOOLCHAIN=go1.21.13

command -v go >/dev/null || { echo "go is missing: install the Debian package golang-go or Go from go.dev" >&2; exit 1; }
mkdir -p "$BIN"

# has_version NAME VERSION: the binary exists and its first `version` line names VERSION.
has_version() {
  local exe="$BIN/$1"
  [[ -x "$exe" ]] || return 1
  # An absent CLI config file only produces a warning; keep it out of the check.
  local first
  first="$(TF_CLI_CONFIG_FILE=/dev/null "$exe" version 2>/dev/null | head -n1)" || return 1
  [[ "$first" == *"v$2" ]]
}

# build NAME VERSION MODULE_PATH [LDFLAGS]
build() {
  local name="$1" version="$2" pkg="$3" ldflags="${4:-}"
  if has_version "$name" "$version"; then
    echo "$name v$version already in $BIN"
    return 0
  fi
  local start=$SECONDS
  echo "building $name v$version into $BIN (takes minutes)"
  if ! GOBIN="$BIN" go install -ldflags="$ldflags" "$pkg@v$version"; then
    echo "retrying $name with GOTOOLCHAIN=$FALLBACK_TOOLCHAIN" >&2
    GOBIN="$BIN" GOTOOLCHAIN="$FALLBACK_TOOLCHAIN" go install -ldflags="$ldflags" "$pkg@v$version"
  fi
  has_version "$name" "$version" || { echo "$name built but does not report v$version" >&2; return 1; }
  echo "$name v$version built in $((SECONDS - start))s"
}

targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(terraform tofu)
for t in "${targets[@]}"; do
  case "$t" in
    terraform) build terraform "$TERRAFORM_VERSION" github.com/hashicorp/terraform ;;
    # Without this stamp (which release builds set) tofu calls itself "$TOFU_VERSION-dev".
    tofu) build tofu "$TOFU_VERSION" github.com/opentofu/opentofu/cmd/tofu \
      "-X github.com/opentofu/opentofu/version.dev=no" ;;
    *) echo "unknown tool: $t (expected terraform or tofu)" >&2; exit 2 ;;
  esac
done
