#!/usr/bin/env bash
# build-images.sh - build the local stand-in images used by the end-to-end tests.
#
# Why: no container registry is reachable here, so the official haproxy, nginx,
# mariadb and node images cannot be pulled. We build look-alikes from Debian
# packages instead, on a base made by debootstrap:
#   dwi-local/debian:bookworm-minbase  debootstrap --variant=minbase, slimmed, `docker import`ed
#   dwi-local/debian:bookworm   + this machine's extra CA certificates (see below)
#   dwi-local/<name>:<tag>      images/<name>/Dockerfile (FROM dwi-local/debian:bookworm)
# Each image carries a label dwi.input-hash (hash of its build folder + the base
# image id, or of the base recipe) and is rebuilt only when that hash changes, so
# a second run is fast and changes nothing. The debootstrap tarball is cached in
# ${DWI_CACHE:-/var/cache/cdktf-distributed-web}/base/. Needs root; no stdin.
#
# Extra CAs: package registries are reached here through a TLS-intercepting
# egress proxy whose CA the host trusts via /usr/local/share/ca-certificates/.
# Those *.crt files are copied into the base image's same folder, so every image
# that installs Debian's ca-certificates trusts them too (npm/pip/curl in
# `docker build` RUN steps). That is a thin layer over the cached minbase, so a
# new CA rebuilds the images but not the debootstrap tarball.
#
# Usage: scripts/build-images.sh [name ...]     (default: all of images/*/)
#   DWI_EXTRA_CA_DIR=dir  where the extra CA *.crt come from (default
#                         /usr/local/share/ca-certificates; empty: none)
#   DWI_FORCE_REBUILD=1   rebuild every image even when hashes match, without the
#                         layer cache (the debootstrap tarball is still reused)
#   DWI_DOCKER_CLI=...    docker CLI used to build (default: Debian's /usr/bin/docker)
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
IMAGES_DIR="$REPO_ROOT/images"
CACHE_DIR="${DWI_CACHE:-/var/cache/cdktf-distributed-web}"
BASE_IMAGE=dwi-local/debian:bookworm
MINBASE_IMAGE=dwi-local/debian:bookworm-minbase
EXTRA_CA_DIR="${DWI_EXTRA_CA_DIR-/usr/local/share/ca-certificates}"
SUITE=bookworm
MIRROR=http://deb.debian.org/debian
SECURITY_MIRROR=http://deb.debian.org/debian-security
LABEL=dwi.input-hash
export DEBIAN_FRONTEND=noninteractive

# tag of each stand-in (folder name -> image reference)
declare -A TAGS=(
  [haproxy]=dwi-local/haproxy:2.6
  [nginx]=dwi-local/nginx:1.22
  [mariadb]=dwi-local/mariadb:10.11
  [node]=dwi-local/node:18
  [prometheus]=dwi-local/prometheus:2.42
  [mysqld-exporter]=dwi-local/mysqld-exporter:0.14
  [nginx-exporter]=dwi-local/nginx-exporter:0.11
)

log() { printf '[build-images] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

[ "$(id -u)" = 0 ] || die "must run as root"

# 1. a running engine (idempotent, fast when already up)
# Start a daemon only when none answers: a running one keeps its flags (setup-e2e.sh
# adds a TLS listener that a plain setup-docker.sh run would take away).
docker info >/dev/null 2>&1 || "$REPO_ROOT/scripts/setup-docker.sh" >&2
DOCKER="${DWI_DOCKER_CLI:-/usr/bin/docker}"
command -v "$DOCKER" >/dev/null || DOCKER=docker
export DOCKER_BUILDKIT=0 # the classic builder: same path as the docker provider's /build API

mkdir -p "$CACHE_DIR/base"
exec 8>"$CACHE_DIR/.build-images.lock"
flock -w 1800 8 || die "another build-images.sh holds $CACHE_DIR/.build-images.lock"

image_label() { "$DOCKER" image inspect -f "{{index .Config.Labels \"$LABEL\"}}" "$1" 2>/dev/null || true; }

declare -a REPORT=()

folder_hash() {
  # content + relative path + mode of every file of the build folder, and the base id
  local dir="$1" base_id="$2"
  {
    echo "base=$base_id"
    (cd "$dir" && find . -type f -print0 | LC_ALL=C sort -z | while IFS= read -r -d '' f; do
      printf '%s %s\n' "$(stat -c %a "$f")" "$f"
      sha256sum <"$f"
    done)
  } | sha256sum | cut -c1-16
}

# 2. the base image ------------------------------------------------------------
customize_rootfs() {
  # Runs on the host against the debootstrapped tree in $1. Mirrors what the
  # official debian:bookworm-slim image does (debuerreotype's minimizing config).
  local r="$1"
  # never start services from maintainer scripts inside images
  printf '#!/bin/sh\nexit 101\n' >"$r/usr/sbin/policy-rc.d"
  chmod 755 "$r/usr/sbin/policy-rc.d"
  # apt: no caches, compressed lists, no translations, no suggests kept
  cat >"$r/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  echo 'Acquire::GzipIndexes "true";' >"$r/etc/apt/apt.conf.d/docker-gzip-indexes"
  echo 'Acquire::Languages "none";' >"$r/etc/apt/apt.conf.d/docker-no-languages"
  echo 'Apt::AutoRemove::SuggestsImportant "false";' >"$r/etc/apt/apt.conf.d/docker-autoremove-suggests"
  echo 'force-unsafe-io' >"$r/etc/dpkg/dpkg.cfg.d/docker-apt-speedup"
  # slim: later package installs skip docs, man pages and translations
  cat >"$r/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
  # same for what debootstrap already unpacked
  find "$r/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$r/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$r/usr/share/man"/* "$r/usr/share/groff"/* "$r/usr/share/info"/* "$r/usr/share/lintian"/* "$r/usr/share/linda"/*
  find "$r/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
  # sources: main + updates + security, deb822 like the official image
  rm -f "$r/etc/apt/sources.list"
  cat >"$r/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $SECURITY_MIRROR
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  # bring the base up to date with updates/security, then drop every cache
  cp /etc/resolv.conf "$r/etc/resolv.conf"
  chroot "$r" apt-get -o DPkg::Lock::Timeout=600 update -q </dev/null
  chroot "$r" apt-get -y -q -o Dpkg::Options::=--force-confold dist-upgrade </dev/null
  chroot "$r" apt-get clean
  rm -rf "$r"/var/lib/apt/lists/* "$r"/var/cache/apt/*.bin "$r"/var/cache/debconf/*-old \
         "$r"/var/lib/dpkg/*-old "$r"/tmp/* "$r"/var/tmp/*
  find "$r/var/log" -type f -delete
  : >"$r/etc/resolv.conf"
  : >"$r/etc/machine-id"
  echo localhost >"$r/etc/hostname"
}

build_base() {
  local recipe hash tarball t0 status=up-to-date
  # everything that determines the base: parameters + the customisation code
  recipe="debootstrap --variant=minbase $SUITE $MIRROR $SECURITY_MIRROR
$(declare -f customize_rootfs)"
  hash="$(printf '%s' "$recipe" | sha256sum | cut -c1-16)"
  tarball="$CACHE_DIR/base/debian-$SUITE-minbase-$hash.tar.gz"
  t0="$(now)"
  if [ "${DWI_FORCE_REBUILD:-0}" = 1 ] || [ "$(image_label "$MINBASE_IMAGE")" != "$hash" ]; then
    if [ ! -s "$tarball" ]; then
      command -v debootstrap >/dev/null || {
        log "installing debootstrap"
        apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends debootstrap </dev/null >&2 \
          || { apt-get -o DPkg::Lock::Timeout=600 update -q </dev/null >&2 && apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends debootstrap </dev/null >&2; }
      }
      local work
      work="$(mktemp -d "$CACHE_DIR/base/rootfs.XXXXXX")"
      # shellcheck disable=SC2064
      trap "rm -rf '$work'" EXIT
      log "debootstrap $SUITE (minbase) into $work"
      debootstrap --variant=minbase "$SUITE" "$work" "$MIRROR" >"$CACHE_DIR/base/debootstrap.log" 2>&1 \
        || { tail -n 30 "$CACHE_DIR/base/debootstrap.log" >&2; die "debootstrap failed (log: $CACHE_DIR/base/debootstrap.log)"; }
      customize_rootfs "$work" >>"$CACHE_DIR/base/debootstrap.log" 2>&1 \
        || { tail -n 30 "$CACHE_DIR/base/debootstrap.log" >&2; die "customizing the rootfs failed"; }
      tar --numeric-owner --xattrs -C "$work" -c . | gzip -1 >"$tarball.tmp"
      mv "$tarball.tmp" "$tarball"
      rm -rf "$work"
      trap - EXIT
      # keep only the current tarball
      find "$CACHE_DIR/base" -maxdepth 1 -name "debian-$SUITE-minbase-*.tar.gz" ! -name "$(basename "$tarball")" -delete
    fi
    log "importing $tarball as $MINBASE_IMAGE"
    "$DOCKER" import \
      --change "LABEL $LABEL=$hash" \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change 'CMD ["bash"]' \
      "$tarball" "$MINBASE_IMAGE" >/dev/null
    status=built
  fi
  REPORT+=("$MINBASE_IMAGE|$status|$(elapsed "$t0")")

  # thin layer: the machine's extra CA certificates
  t0="$(now)"
  status=up-to-date
  local ctx
  ctx="$(mktemp -d)"
  mkdir -p "$ctx/extra-ca"
  if [ -n "$EXTRA_CA_DIR" ] && [ -d "$EXTRA_CA_DIR" ]; then
    find "$EXTRA_CA_DIR" -maxdepth 1 -name '*.crt' -exec cp -L {} "$ctx/extra-ca/" \;
  fi
  chmod 644 "$ctx/extra-ca/"* 2>/dev/null || true
  printf '%s\n' \
    "FROM $MINBASE_IMAGE" \
    "# CA certificates this machine trusts locally (picked up by update-ca-certificates" \
    "# when an image installs Debian's ca-certificates)" \
    "COPY extra-ca/ /usr/local/share/ca-certificates/" >"$ctx/Dockerfile"
  hash="$(folder_hash "$ctx" "$("$DOCKER" image inspect -f '{{.Id}}' "$MINBASE_IMAGE")")"
  if [ "${DWI_FORCE_REBUILD:-0}" = 1 ] || [ "$(image_label "$BASE_IMAGE")" != "$hash" ]; then
    log "building $BASE_IMAGE ($(find "$ctx/extra-ca" -type f | wc -l) extra CA certificates)"
    "$DOCKER" build -q --force-rm --label "$LABEL=$hash" -t "$BASE_IMAGE" "$ctx" </dev/null >/dev/null
    status=built
  fi
  rm -rf "$ctx"
  REPORT+=("$BASE_IMAGE|$status|$(elapsed "$t0")")
}

# 3. the stand-ins ------------------------------------------------------------

build_one() {
  local name="$1" tag dir hash t0 status=up-to-date base_id
  tag="${TAGS[$name]:-dwi-local/$name:latest}"
  dir="$IMAGES_DIR/$name"
  [ -f "$dir/Dockerfile" ] || die "no $dir/Dockerfile"
  base_id="$("$DOCKER" image inspect -f '{{.Id}}' "$BASE_IMAGE")"
  hash="$(folder_hash "$dir" "$base_id")"
  t0="$(now)"
  if [ "${DWI_FORCE_REBUILD:-0}" = 1 ] || [ "$(image_label "$tag")" != "$hash" ]; then
    log "building $tag from images/$name"
    local blog="$CACHE_DIR/build-$name.log"
    local -a opts=(--force-rm --label "$LABEL=$hash" -t "$tag")
    [ "${DWI_FORCE_REBUILD:-0}" = 1 ] && opts+=(--no-cache)
    if ! "$DOCKER" build "${opts[@]}" "$dir" </dev/null >"$blog" 2>&1; then
      tail -n 40 "$blog" >&2
      die "building $tag failed (log: $blog)"
    fi
    status=built
  fi
  REPORT+=("$tag|$status|$(elapsed "$t0")")
}

build_base
if [ "$#" -gt 0 ]; then names=("$@"); else
  names=()
  for d in "$IMAGES_DIR"/*/; do [ -f "$d/Dockerfile" ] && names+=("$(basename "$d")"); done
fi
for n in "${names[@]}"; do build_one "$n"; done

# drop the previous versions of our images that a rebuild left untagged
"$DOCKER" image prune -f --filter "label=$LABEL" >/dev/null || true

# 4. report ----------------------------------------------------------------------
printf '%-34s %-11s %-13s %9s %8s\n' IMAGE STATUS ID SIZE SECONDS
for row in "${REPORT[@]}"; do
  IFS='|' read -r ref status secs <<<"$row"
  id="$("$DOCKER" image inspect -f '{{.Id}}' "$ref" | sed 's/^sha256://' | cut -c1-12)"
  size="$("$DOCKER" image inspect -f '{{.Size}}' "$ref" | awk '{ printf "%.1fMB", $1 / 1000 / 1000 }')"
  printf '%-34s %-11s %-13s %9s %8s\n' "$ref" "$status" "$id" "$size" "$secs"
done
