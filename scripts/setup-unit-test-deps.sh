#!/usr/bin/env bash
# Installs the real binaries the renderer unit tests check their output with:
# `haproxy -c` for haproxy.cfg, `nginx -t` for nginx.conf and `promtool check` / `promtool
# test rules` for prometheus.yml and the alert rules (Debian's packages).
#
# Idempotent and non-interactive (CI runs it with no stdin). Needs root.
# Installs only what is missing, runs `apt-get update` only when it installs, and never
# leaves an haproxy or nginx service running: a policy-rc.d forbids service starts during
# the install, and any haproxy/nginx process that still appears is stopped by its pid.
set -euo pipefail

log() { printf 'setup-unit-test-deps: %s\n' "$*"; }
die() { printf 'setup-unit-test-deps: error: %s\n' "$*" >&2; exit 1; }

# The packages put their binaries in /usr/sbin, which a non-root PATH may lack.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

have() { command -v "$1" >/dev/null 2>&1; }

missing=()
have haproxy || missing+=(haproxy)
have nginx || missing+=(nginx)
have promtool || missing+=(prometheus)

if [ "${#missing[@]}" -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || die "must run as root to install: ${missing[*]}"
  have apt-get || die "apt-get not found: install ${missing[*]} by other means"
  export DEBIAN_FRONTEND=noninteractive

  # Processes of these names that exist before the install are not ours to stop.
  before_pids=" $( (pgrep -x 'haproxy|nginx|prometheus' 2>/dev/null || true) | tr '\n' ' ') "

  # Forbid service starts while the packages install (invoke-rc.d and deb-systemd-invoke
  # both obey policy-rc.d); keep any policy-rc.d that was there and restore it afterwards.
  policy=/usr/sbin/policy-rc.d
  policy_backup=""
  if [ -e "$policy" ]; then
    policy_backup="$(mktemp)"
    cp -p "$policy" "$policy_backup"
  fi
  restore_policy() {
    if [ -n "$policy_backup" ]; then
      cp -p "$policy_backup" "$policy" && rm -f "$policy_backup"
    else
      rm -f "$policy"
    fi
  }
  trap restore_policy EXIT
  printf '#!/bin/sh\n# Written by setup-unit-test-deps.sh: no service starts during the install.\nexit 101\n' >"$policy"
  chmod 0755 "$policy"

  log "apt-get update"
  apt-get update -qq </dev/null

  packages=()
  for name in "${missing[@]}"; do
    if [ "$name" = nginx ]; then
      # nginx-light (bookworm) is the smallest build with everything our config uses;
      # newer releases ship only `nginx`.
      # (Captured first: `grep -q` closing the pipe early would fail it under pipefail.)
      nginx_light_policy="$(apt-cache policy nginx-light 2>/dev/null || true)"
      if grep -q 'Candidate: [0-9]' <<<"$nginx_light_policy"; then
        packages+=(nginx-light)
      else
        packages+=(nginx)
      fi
    else
      packages+=("$name")
    fi
  done

  log "apt-get install ${packages[*]}"
  apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    "${packages[@]}" </dev/null

  # Belt and braces: a service manager that ignored policy-rc.d may have started them.
  if have systemctl && [ -d /run/systemd/system ]; then
    for unit in haproxy nginx prometheus; do
      systemctl stop "$unit" >/dev/null 2>&1 || true
      systemctl disable "$unit" >/dev/null 2>&1 || true
    done
  fi
  for pid in $(pgrep -x 'haproxy|nginx|prometheus' 2>/dev/null || true); do
    case "$before_pids" in
      *" $pid "*) ;;
      *) log "stopping $(ps -o comm= -p "$pid" 2>/dev/null || echo process) (pid $pid) started by the install"
         kill -TERM "$pid" 2>/dev/null || true ;;
    esac
  done
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    left=""
    for pid in $(pgrep -x 'haproxy|nginx|prometheus' 2>/dev/null || true); do
      case "$before_pids" in *" $pid "*) ;; *) left="$left $pid" ;; esac
    done
    [ -z "$left" ] && break
    sleep 0.5
  done
  for pid in ${left:-}; do kill -KILL "$pid" 2>/dev/null || true; done
else
  log "haproxy, nginx and promtool already installed"
fi

have haproxy || die "haproxy is still missing after the install"
have nginx || die "nginx is still missing after the install"
have promtool || die "promtool (package prometheus) is still missing after the install"
[ -f /etc/nginx/mime.types ] || die "/etc/nginx/mime.types is missing (the nginx config includes it)"

log "$(haproxy -v 2>&1 | head -n 1)"
log "$(nginx -v 2>&1 | head -n 1)"
log "$(promtool --version 2>&1 | head -n 1)"
