#!/usr/bin/env bash
# setup-docker.sh - make sure a Docker engine is installed and running here.
#
# Why: the end-to-end tests deploy our cdktf stacks against a real local Docker
# engine. Nothing on the machine may be assumed to be installed by hand, so this
# script installs Debian's docker.io (+ iptables) when missing, starts dockerd in
# the background when `docker info` fails, waits (bounded) until it answers and
# prints the server version. It is idempotent and needs no stdin: a second call
# with a running daemon only runs `docker info` and returns.
#
# dockerd listens ONLY on the unix socket by default. Every dockerd flag is built
# in one place, dockerd_args() below. Extra flags can be given through
# DWI_DOCKERD_EXTRA_ARGS (a whitespace-separated string), e.g. a later script can
# add a TLS listener on loopback with
#   DWI_DOCKERD_EXTRA_ARGS="-H tcp://127.0.0.1:2376 --tlsverify --tlscacert=ca.pem
#     --tlscert=server.pem --tlskey=server-key.pem" scripts/setup-docker.sh
# If the daemon was started by this script with different flags, it is restarted
# with the new ones (--live-restore keeps running containers alive meanwhile, but
# a `docker build` in progress fails); otherwise nothing changes.
#
# Environment knobs:
#   DWI_CACHE                  cache/state dir (default /var/cache/cdktf-distributed-web)
#   DWI_DOCKERD_EXTRA_ARGS     extra dockerd flags, see above
#   DWI_DOCKER_STORAGE_DRIVER  force a storage driver (overlay2|fuse-overlayfs|vfs)
#   DWI_DOCKERD_LOG            dockerd log file (default /var/log/dwi-dockerd.log)
#   DWI_DOCKERD_WAIT           seconds to wait for the daemon (default 60)
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
CACHE_DIR="${DWI_CACHE:-/var/cache/cdktf-distributed-web}"
STATE_DIR="$CACHE_DIR/dockerd"
DOCKERD_LOG="${DWI_DOCKERD_LOG:-/var/log/dwi-dockerd.log}"
DOCKERD_WAIT="${DWI_DOCKERD_WAIT:-60}"
DOCKER_SOCK=/var/run/docker.sock
DOCKERD_PIDFILE=/var/run/docker.pid
DOCKERD_BIN=/usr/sbin/dockerd
# Debian's CLI; a newer CLI (e.g. /usr/local/bin/docker) negotiates down to the API.
DOCKER_CLI="$(command -v docker || echo /usr/bin/docker)"

log() { printf '[setup-docker] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root"
mkdir -p "$STATE_DIR"

# Serialise concurrent callers (CI may run several setup steps at once).
exec 9>"$STATE_DIR/.lock"
flock -w 600 9 || die "could not take $STATE_DIR/.lock"

docker_ok() { timeout 10 "$DOCKER_CLI" info >/dev/null 2>&1; }

# --- 1. packages -----------------------------------------------------------
apt_install() {
  # Install the given packages if any is missing, without starting services.
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  log "installing: ${missing[*]}"
  local added_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    # keep Debian's maintainer scripts from starting dockerd via init scripts
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    added_policy=1
  fi
  # try with the current package lists first; refresh them only if that fails
  if ! apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${missing[@]}" </dev/null >&2; then
    apt-get -o DPkg::Lock::Timeout=600 update -q </dev/null >&2
    apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${missing[@]}" </dev/null >&2
  fi
  [ "$added_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
  return 0
}

# docker.io's own dependencies bring containerd, runc and tini; iptables is
# needed for bridge networks/NAT; ca-certificates, xz-utils and procps are
# Recommends that are useful (image import, ps); kmod lets dockerd modprobe.
apt_install docker.io iptables ca-certificates xz-utils procps kmod
[ -x "$DOCKERD_BIN" ] || die "$DOCKERD_BIN not found after install"

# --- 2. choose storage driver and iptables mode (once, remembered) ----------
probe_overlay() {
  # Can we mount overlayfs on top of the filesystem holding /var/lib/docker?
  local d rc=1
  mkdir -p /var/lib/docker
  d="$(mktemp -d /var/lib/docker/.dwi-overlay-probe.XXXXXX)"
  mkdir -p "$d"/{lower,upper,work,merged}
  if mount -t overlay overlay -o "lowerdir=$d/lower,upperdir=$d/upper,workdir=$d/work" "$d/merged" 2>/dev/null; then
    umount "$d/merged" && rc=0
  fi
  rm -rf "$d"
  return $rc
}

choose_storage_driver() {
  if [ -n "${DWI_DOCKER_STORAGE_DRIVER:-}" ]; then echo "$DWI_DOCKER_STORAGE_DRIVER"; return; fi
  if [ -s "$STATE_DIR/storage-driver" ]; then cat "$STATE_DIR/storage-driver"; return; fi
  local drv
  if probe_overlay; then
    drv=overlay2
  elif [ -c /dev/fuse ] && apt_install fuse-overlayfs && command -v fuse-overlayfs >/dev/null; then
    drv=fuse-overlayfs
  else
    drv=vfs # always works, but slow and large
  fi
  echo "$drv" >"$STATE_DIR/storage-driver"
  echo "$drv"
}

iptables_works() { iptables -t nat -S >/dev/null 2>&1 && iptables -t filter -S >/dev/null 2>&1; }

choose_iptables() {
  # prints "true" when dockerd may manage iptables, "false" otherwise
  if [ -s "$STATE_DIR/iptables" ]; then cat "$STATE_DIR/iptables"; return; fi
  local ok=false
  if iptables_works; then
    ok=true
  elif [ -x /usr/sbin/iptables-legacy ]; then
    update-alternatives --set iptables /usr/sbin/iptables-legacy >/dev/null 2>&1 || true
    update-alternatives --set ip6tables /usr/sbin/ip6tables-legacy >/dev/null 2>&1 || true
    iptables_works && ok=true
  fi
  [ "$ok" = true ] || log "WARNING: iptables unusable: containers will have no outbound NAT"
  echo "$ok" >"$STATE_DIR/iptables"
  echo "$ok"
}

# --- 3. the one place where dockerd's flags are built ------------------------
dockerd_args() {
  local args=(
    -H "unix://$DOCKER_SOCK"          # unix socket only; TCP only via DWI_DOCKERD_EXTRA_ARGS
    --pidfile "$DOCKERD_PIDFILE"
    --storage-driver "$(choose_storage_driver)"
    --iptables="$(choose_iptables)"
    --log-level warn
    --live-restore                    # containers survive a daemon restart (flag changes)
  )
  # shellcheck disable=SC2206 # word splitting of the extra flags is intended
  [ -n "${DWI_DOCKERD_EXTRA_ARGS:-}" ] && args+=(${DWI_DOCKERD_EXTRA_ARGS})
  printf '%s\n' "${args[@]}"
}

dockerd_pid() {
  local pid
  pid="$(cat "$DOCKERD_PIDFILE" 2>/dev/null || true)"
  [ -n "$pid" ] && [ -d "/proc/$pid" ] && grep -q dockerd "/proc/$pid/comm" 2>/dev/null && echo "$pid"
  return 0
}

stop_dockerd() {
  local pid i
  pid="$(dockerd_pid)"
  [ -n "$pid" ] || return 0
  log "stopping dockerd (pid $pid)"
  kill -TERM "$pid"
  for i in $(seq 1 60); do [ -d "/proc/$pid" ] || return 0; sleep 1; done
  die "dockerd (pid $pid) did not stop within 60 s"
}

start_dockerd() {
  local -a args
  mapfile -t args < <(dockerd_args)
  log "starting dockerd ${args[*]} (log: $DOCKERD_LOG)"
  mkdir -p "$(dirname "$DOCKERD_LOG")"
  printf '%s\n' "${args[@]}" >"$STATE_DIR/args"
  # setsid+nohup: detach from our session so the daemon survives this shell/CI step;
  # 9>&- : the daemon must not inherit (and hold forever) our lock file
  setsid nohup "$DOCKERD_BIN" "${args[@]}" >>"$DOCKERD_LOG" 2>&1 </dev/null 9>&- &
  local i
  for i in $(seq 1 "$DOCKERD_WAIT"); do
    docker_ok && return 0
    if [ "$i" -gt 3 ] && [ -z "$(dockerd_pid)" ] && ! pgrep -x dockerd >/dev/null; then
      tail -n 30 "$DOCKERD_LOG" >&2 || true
      die "dockerd exited during start-up"
    fi
    sleep 1
  done
  tail -n 30 "$DOCKERD_LOG" >&2 || true
  die "dockerd did not answer within ${DOCKERD_WAIT} s"
}

# --- 4. start / restart if needed --------------------------------------------
if docker_ok; then
  # Running. Restart only if we started it and the wanted flags changed.
  if [ -n "$(dockerd_pid)" ] && [ -s "$STATE_DIR/args" ] \
     && [ "$(dockerd_args)" != "$(cat "$STATE_DIR/args")" ]; then
    log "dockerd flags changed: restarting"
    stop_dockerd
    start_dockerd
  elif [ -n "${DWI_DOCKERD_EXTRA_ARGS:-}" ] && [ ! -s "$STATE_DIR/args" ]; then
    log "WARNING: dockerd was not started by this script; DWI_DOCKERD_EXTRA_ARGS ignored"
  fi
else
  if [ -n "$(dockerd_pid)" ]; then
    # a daemon process exists but does not answer: give it a moment, then replace it
    sleep 5
    docker_ok || stop_dockerd
  fi
  docker_ok || start_dockerd
fi

server="$("$DOCKER_CLI" version --format '{{.Server.Version}} (API {{.Server.APIVersion}})')"
driver="$("$DOCKER_CLI" info --format '{{.Driver}}')"
echo "docker server $server, storage driver $driver, iptables $(cat "$STATE_DIR/iptables" 2>/dev/null || echo 'not recorded (daemon not started by this script)')"
