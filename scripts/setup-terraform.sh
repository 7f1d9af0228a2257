#!/usr/bin/env bash
# setup-terraform.sh - offline Terraform toolchain for `cdktf deploy`.
#
# What: builds the two Terraform providers this project uses with the Go
# toolchain (sources from the Go module proxy, never from a Terraform
# registry), installs them into a filesystem mirror (unpacked layout, under
# both registry.terraform.io and registry.opentofu.org), writes a CLI config
# (terraformrc: filesystem_mirror only, no direct fallback, checkpoint off)
# and an env file to source. If no `terraform` is on PATH (or --force-tofu),
# it also builds the OpenTofu CLI from Go modules and the env file selects it
# for cdktf through TERRAFORM_BINARY_NAME=tofu.
# Why: this workplace cannot reach the Terraform registry, GitHub or
# releases.hashicorp.com, so `terraform init` must find everything locally.
#
# Idempotent and non-interactive: every artifact has a stamp file naming its
# source; a run whose stamps all match touches nothing and takes well under a
# second. Concurrent runs are serialised with flock.
#
# Usage: scripts/setup-terraform.sh [--force-tofu] [--rebuild] [--self-test]
#   then: . "${DWI_CACHE:-/var/cache/cdktf-distributed-web}/terraform/env.sh"
#
# Pins (override by environment):
#   docker: DWI_TF_DOCKER_REF of github.com/kreuzwerker/terraform-provider-docker,
#           installed as kreuzwerker/docker DWI_TF_DOCKER_VERSION (4.6.0).
#           v3.6.2 (commit 2f20f8c3ce82) is NOT served by the Go proxy reachable
#           here (403 "not available"); its only version there is a commit
#           after v4.6.0. @cdktf/provider-docker 12.x pins exactly 3.6.2, so
#           either override the version in the stack or set
#           DWI_TF_DOCKER_VERSION=3.6.2 to install this v4 code under the 3.6.2
#           label (works with this project's stack, but state written by it is
#           v4 state: do not later switch the same state to a real 3.6.2).
#           Set DWI_TF_DOCKER_REF=2f20f8c3ce82 DWI_TF_DOCKER_VERSION=3.6.2 where
#           the proxy does serve the real v3.6.2.
#   null:   hashicorp/terraform-provider-null is not served either (only
#           v1.0.0 of 2017), so a stand-in of ours with the 3.2.4 schema
#           (scripts/terraform-providers/null) is built and installed under
#           its own address, dwi-local/null DWI_TF_NULL_VERSION (3.2.4): it is
#           not HashiCorp's code, so it does not take HashiCorp's name. Set
#           DWI_TF_NULL_REF to a version/commit of the upstream module to build
#           that instead, as hashicorp/null.
#   The env file exports DWI_TF_DOCKER_VERSION and DWI_TF_NULL_SOURCE: a stack
#   (the e2e app) reads them to require exactly what was installed.
#   tofu:   github.com/opentofu/opentofu DWI_TOFU_VERSION (v1.10.10).
# Builds use CGO_ENABLED=0 -trimpath and are reproducible: the same Go version
# gives the same bytes, so lock-file h1: hashes agree across machines (they
# never match the registry's official ones).
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

FORCE_TOFU=${DWI_TF_FORCE_TOFU:-0}
REBUILD=0
SELF_TEST=0
for arg in "$@"; do
  case "$arg" in
    --force-tofu) FORCE_TOFU=1 ;;
    --rebuild) REBUILD=1 ;;
    --self-test) SELF_TEST=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "setup-terraform: unknown argument: $arg" >&2; usage >&2; exit 2 ;;
  esac
done

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DWI_CACHE=${DWI_CACHE:-/var/cache/cdktf-distributed-web}
TF_HOME="$DWI_CACHE/terraform"
MIRROR="$TF_HOME/mirror"
BIN_DIR="$TF_HOME/bin"
STAMPS="$TF_HOME/stamps"
RC_FILE="$TF_HOME/terraformrc"
ENV_FILE="$TF_HOME/env.sh"
PLATFORM=linux_amd64
HOSTS=(registry.terraform.io registry.opentofu.org)

DOCKER_MODULE=github.com/kreuzwerker/terraform-provider-docker
DOCKER_REF=${DWI_TF_DOCKER_REF:-v0.0.0-20260916201441-96d331c98ff4}
DOCKER_VERSION=${DWI_TF_DOCKER_VERSION:-4.6.0}
NULL_MODULE=github.com/hashicorp/terraform-provider-null
NULL_REF=${DWI_TF_NULL_REF:-}
NULL_VERSION=${DWI_TF_NULL_VERSION:-3.2.4}
NULL_LOCAL_SRC="$SCRIPT_DIR/terraform-providers/null"
if [[ -n "$NULL_REF" ]]; then NULL_NAMESPACE=hashicorp; else NULL_NAMESPACE=dwi-local; fi
TOFU_MODULE=github.com/opentofu/opentofu
TOFU_VERSION=${DWI_TOFU_VERSION:-v1.10.10}

log() { printf 'setup-terraform: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

mkdir -p "$TF_HOME" "$STAMPS" || die "cannot create $TF_HOME (set DWI_CACHE to a writable directory)"
exec 9>>"$TF_HOME/.lock"
flock 9

# ---------------------------------------------------------------- helpers

# Write $2 to file $1 only if the content differs (keeps warm runs no-op).
write_if_changed() {
  local file=$1 content=$2
  if [[ -f "$file" && "$(cat "$file")" == "$content" ]]; then return 0; fi
  printf '%s\n' "$content" >"$file.tmp.$$"
  mv -f "$file.tmp.$$" "$file"
  log "wrote $file"
}

stamp_ok() { # name key files...
  local name=$1 key=$2; shift 2
  [[ $REBUILD == 0 ]] || return 1
  [[ -f "$STAMPS/$name" && "$(head -n1 "$STAMPS/$name")" == "$key" ]] || return 1
  local f
  for f in "$@"; do [[ -x "$f" ]] || return 1; done
}

write_stamp() { # name key extra-info
  printf '%s\n%s\n' "$2" "$3" >"$STAMPS/$1.tmp.$$"
  mv -f "$STAMPS/$1.tmp.$$" "$STAMPS/$1"
}

GO=
find_go() {
  [[ -n "$GO" ]] && return 0
  GO=$(command -v go || true)
  [[ -n "$GO" ]] || { [[ -x /usr/local/go/bin/go ]] && GO=/usr/local/go/bin/go; }
  [[ -n "$GO" ]] || die "no Go toolchain (go on PATH or /usr/local/go/bin/go); Go >= 1.25 is needed to build the providers"
  # Never download a toolchain (not reachable); no workspace or user flags leak in.
  export GOTOOLCHAIN=local GOWORK=off GOFLAGS=-buildvcs=false CGO_ENABLED=0
  log "using $("$GO" version)"
}

# Fetch module@ref through the Go module proxy; prints "version<TAB>dir".
# Runs outside any module (in $TF_HOME) so no go.mod or replace rule applies.
go_download() {
  if ! (cd "$TF_HOME" && "$GO" mod download "$1@$2"); then
    log "go mod download $1@$2 failed: is that version served by GOPROXY=$("$GO" env GOPROXY)?"
    return 1
  fi
  (cd "$TF_HOME" && "$GO" list -m -f '{{.Version}}{{"\t"}}{{.Dir}}' "$1@$2")
}

# go build (in a module's own directory, so its go.mod/go.sum/replace rules
# apply exactly as upstream) to out atomically.
go_build() { # dir pkg out ldflags
  local dir=$1 pkg=$2 out=$3 ldflags=$4
  mkdir -p "$(dirname "$out")"
  log "building $pkg in $dir -> $out"
  local t0=$SECONDS
  (cd "$dir" && "$GO" build -trimpath -ldflags "$ldflags" -o "$out.tmp.$$" "$pkg") || { rm -f "$out.tmp.$$"; return 1; }
  mv -f "$out.tmp.$$" "$out"
  log "built $(basename "$out") in $((SECONDS - t0))s"
}

# Install a built binary into the mirror for both hosts; prune other versions.
mirror_install() { # type namespace version built-file
  local type=$1 ns=$2 ver=$3 src=$4 host dir
  for host in "${HOSTS[@]}"; do
    local pdir="$MIRROR/$host/$ns/$type"
    if [[ -d "$pdir" ]]; then
      for dir in "$pdir"/*; do
        [[ "$(basename "$dir")" == "$ver" ]] || { log "pruning old $dir"; rm -rf "$dir"; }
      done
    fi
    dir="$pdir/$ver/$PLATFORM"
    mkdir -p "$dir"
    if [[ "$src" != "$dir/terraform-provider-${type}_v$ver" ]]; then
      ln -f "$src" "$dir/terraform-provider-${type}_v$ver" 2>/dev/null || cp -f "$src" "$dir/terraform-provider-${type}_v$ver"
    fi
  done
}

mirror_path() { echo "$MIRROR/${3:-registry.terraform.io}/$1/$2/$PLATFORM"; }

# ---------------------------------------------------------------- providers

build_docker() {
  local out; out="$(mirror_path kreuzwerker/docker "$DOCKER_VERSION")/terraform-provider-docker_v$DOCKER_VERSION"
  local key="docker $DOCKER_MODULE@$DOCKER_REF as $DOCKER_VERSION"
  if stamp_ok docker "$key" "$out" "$(mirror_path kreuzwerker/docker "$DOCKER_VERSION" registry.opentofu.org)/terraform-provider-docker_v$DOCKER_VERSION"; then
    log "kreuzwerker/docker $DOCKER_VERSION up to date"; return 0
  fi
  find_go
  if [[ -n "${DWI_TF_DOCKER_VERSION:-}" && -z "${DWI_TF_DOCKER_REF:-}" ]]; then
    log "WARNING: installing the v4.6.0-line commit $DOCKER_REF under the label $DOCKER_VERSION"
  fi
  local ver dir
  IFS=$'\t' read -r ver dir < <(go_download "$DOCKER_MODULE" "$DOCKER_REF") || die "cannot fetch $DOCKER_MODULE@$DOCKER_REF"
  [[ -n "$dir" ]] || die "cannot fetch $DOCKER_MODULE@$DOCKER_REF"
  # Upstream module path is github.com/terraform-providers/terraform-provider-docker
  # (tags without /vN), so build in its own directory rather than `go install`.
  go_build "$dir" . "$out" "-s -w -X main.version=$DOCKER_VERSION -X main.commit=$ver"
  mirror_install docker kreuzwerker "$DOCKER_VERSION" "$out"
  write_stamp docker "$key" "resolved $DOCKER_MODULE@$ver; $("$GO" version)"
}

build_null() {
  local out; out="$(mirror_path "$NULL_NAMESPACE/null" "$NULL_VERSION")/terraform-provider-null_v$NULL_VERSION"
  local key src_dir info
  if [[ -n "$NULL_REF" ]]; then
    key="null $NULL_MODULE@$NULL_REF as hashicorp/null $NULL_VERSION"
  else
    [[ -f "$NULL_LOCAL_SRC/go.mod" ]] || die "missing $NULL_LOCAL_SRC"
    key="null local $(cat "$NULL_LOCAL_SRC"/go.mod "$NULL_LOCAL_SRC"/go.sum "$NULL_LOCAL_SRC"/*.go | sha256sum | cut -c1-16) as $NULL_NAMESPACE/null $NULL_VERSION"
  fi
  if stamp_ok null "$key" "$out" "$(mirror_path "$NULL_NAMESPACE/null" "$NULL_VERSION" registry.opentofu.org)/terraform-provider-null_v$NULL_VERSION"; then
    log "$NULL_NAMESPACE/null $NULL_VERSION up to date"; return 0
  fi
  find_go
  if [[ -n "$NULL_REF" ]]; then
    local ver
    IFS=$'\t' read -r ver src_dir < <(go_download "$NULL_MODULE" "$NULL_REF") || die "cannot fetch $NULL_MODULE@$NULL_REF"
    [[ -n "$src_dir" ]] || die "cannot fetch $NULL_MODULE@$NULL_REF"
    info="resolved $NULL_MODULE@$ver"
  else
    src_dir=$NULL_LOCAL_SRC
    log "NOTE: $NULL_NAMESPACE/null $NULL_VERSION is the local stand-in from $NULL_LOCAL_SRC"
    info="stand-in built from scripts/terraform-providers/null (not hashicorp's code)"
  fi
  go_build "$src_dir" . "$out" "-s -w -X main.version=$NULL_VERSION"
  mirror_install null "$NULL_NAMESPACE" "$NULL_VERSION" "$out"
  write_stamp null "$key" "$info; $("$GO" version)"
}

# ---------------------------------------------------------------- CLI

TF_BIN_NAME=terraform
build_tofu() {
  local out="$BIN_DIR/tofu" key="tofu $TOFU_MODULE@$TOFU_VERSION"
  if stamp_ok tofu "$key" "$out"; then log "OpenTofu $TOFU_VERSION up to date"; return 0; fi
  find_go
  local ver dir
  IFS=$'\t' read -r ver dir < <(go_download "$TOFU_MODULE" "$TOFU_VERSION") || die "cannot fetch $TOFU_MODULE@$TOFU_VERSION"
  [[ -n "$dir" ]] || die "cannot fetch $TOFU_MODULE@$TOFU_VERSION"
  # Built in the module's own directory, so OpenTofu's `replace` of
  # github.com/hashicorp/hcl/v2 => github.com/opentofu/hcl/v2 applies.
  go_build "$dir" ./cmd/tofu "$out" "-s -w -X 'github.com/opentofu/opentofu/version.dev=no'"
  write_stamp tofu "$key" "resolved $TOFU_MODULE@$ver; $("$GO" version)"
}

# ---------------------------------------------------------------- main

build_docker
build_null
# A stand-in never stays under HashiCorp's address (earlier versions of this script put it there).
if [[ $NULL_NAMESPACE != hashicorp ]]; then
  for host in "${HOSTS[@]}"; do rm -rf "${MIRROR:?}/$host/hashicorp/null"; done
fi

if [[ $FORCE_TOFU == 1 ]] || ! command -v terraform >/dev/null 2>&1; then
  [[ $FORCE_TOFU == 1 ]] || log "no terraform on PATH: using OpenTofu"
  build_tofu
  TF_BIN_NAME=tofu
fi

includes=""
for host in "${HOSTS[@]}"; do
  includes+="${includes:+, }\"$host/kreuzwerker/docker\", \"$host/$NULL_NAMESPACE/null\""
done
write_if_changed "$RC_FILE" "# Generated by scripts/setup-terraform.sh - do not edit.
# Providers come only from the local filesystem mirror; there is no direct
# (registry) fallback, so any other provider fails at init.
disable_checkpoint = true

provider_installation {
  filesystem_mirror {
    path    = \"$MIRROR\"
    include = [$includes]
  }
}"

env_body="# Generated by scripts/setup-terraform.sh - source it before cdktf/terraform.
export TF_CLI_CONFIG_FILE=\"$RC_FILE\"
export CHECKPOINT_DISABLE=1
# What the mirror holds, for stacks that must require exactly that.
export DWI_TF_DOCKER_VERSION=$DOCKER_VERSION
export DWI_TF_NULL_SOURCE=$NULL_NAMESPACE/null
export DWI_TF_NULL_VERSION=$NULL_VERSION"
if [[ $TF_BIN_NAME == tofu ]]; then
  env_body+="
# No terraform here (or --force-tofu): cdktf must call OpenTofu.
case \":\$PATH:\" in *\":$BIN_DIR:\"*) ;; *) export PATH=\"$BIN_DIR:\$PATH\" ;; esac
export TERRAFORM_BINARY_NAME=tofu"
else
  env_body+="
unset TERRAFORM_BINARY_NAME"
fi
write_if_changed "$ENV_FILE" "$env_body"

if [[ $TF_BIN_NAME == tofu ]]; then
  log "OpenTofu selected: cdktf needs TERRAFORM_BINARY_NAME=tofu (set by the env file)"
fi
log "ready: . $ENV_FILE"

# ---------------------------------------------------------------- self-test
# Offline init/validate/providers/apply of a tiny config using the mirror.
if [[ $SELF_TEST == 1 ]]; then
  # shellcheck disable=SC1090
  . "$ENV_FILE"
  tf=${TERRAFORM_BINARY_NAME:-terraform}
  t=$(mktemp -d)
  trap 'rm -rf "$t"' EXIT
  cat >"$t/main.tf.json" <<EOF
{
  "terraform": {"required_providers": {
    "docker": {"source": "kreuzwerker/docker", "version": "$DOCKER_VERSION"},
    "null": {"source": "$NULL_NAMESPACE/null", "version": "$NULL_VERSION"}}},
  "provider": {"docker": {}},
  "resource": {"null_resource": {"probe": {"triggers": {"k": "v"}}}}
}
EOF
  (
    cd "$t"
    export TF_IN_AUTOMATION=1 TF_INPUT=0
    "$tf" init -input=false -no-color >init.log 2>&1 || { cat init.log >&2; exit 1; }
    "$tf" validate -no-color
    "$tf" providers -no-color
    "$tf" apply -auto-approve -input=false -no-color -target=null_resource.probe >apply.log 2>&1 || { cat apply.log >&2; exit 1; }
    grep -E '^Apply complete' apply.log
  ) || die "self-test failed"
  log "self-test passed with $tf"
fi
