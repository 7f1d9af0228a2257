#!/usr/bin/env bash
# What `npm run bench` needs beyond `bash scripts/setup-e2e.sh`, from Debian's packages
# only, idempotent: wrk (HTTP load), GNU time (peak memory), docker-compose (the baseline
# of the deploy benchmark; Debian bookworm has the v1 package, not the compose plugin).
set -euo pipefail
log() { printf 'bench/setup: %s\n' "$*"; }

want=()
command -v wrk >/dev/null || want+=(wrk)
[ -x /usr/bin/time ] || want+=(time)
command -v docker-compose >/dev/null || want+=(docker-compose)
if [ ${#want[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || { log "needs root to install: ${want[*]}"; exit 1; }
  log "installing ${want[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
fi
log "ready: $(wrk -v 2>&1 | head -n 1 | cut -d' ' -f1-2), $(/usr/bin/time --version 2>&1 | head -n 1), $(docker-compose version --short 2>/dev/null)"
