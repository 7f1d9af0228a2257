#!/usr/bin/env bash
# `npm run bench [-- NAME ...]`: the benchmarks of BENCHMARKS.md (see bench/bench.ts).
#
# Needs what the e2e suite needs (`bash scripts/setup-e2e.sh`, as root) plus wrk, GNU
# time and docker-compose, which bench/setup.sh installs from Debian's packages. Every
# container, network, volume and image the run creates starts with `dwib`; they are all
# removed at the end, also on failure or Ctrl-C (and by the trap below if node dies).
set -euo pipefail
cd "$(dirname "$0")/.."
cache=${DWI_CACHE:-/var/cache/cdktf-distributed-web}

bash bench/setup.sh
missing=()
docker info >/dev/null 2>&1 || missing+=("a running Docker engine: run 'bash scripts/setup-e2e.sh' (as root)")
for image in dwi-local/haproxy:2.6 dwi-local/nginx:1.22 dwi-local/mariadb:10.11 dwi-local/node:18; do
  docker image inspect "$image" >/dev/null 2>&1 || missing+=("the stand-in image $image: run 'bash scripts/setup-e2e.sh'")
done
if [ -f "$cache/terraform/env.sh" ]; then
  # shellcheck disable=SC1091
  . "$cache/terraform/env.sh"
else
  missing+=("the offline Terraform provider mirror ($cache/terraform/env.sh): run 'bash scripts/setup-e2e.sh'")
fi
[ -d node_modules/cdktf-cli ] || missing+=("the npm dependencies: run 'npm ci'")
if [ ${#missing[@]} -gt 0 ]; then
  echo "bench cannot run; missing:" >&2
  for m in "${missing[@]}"; do echo "  - $m" >&2; done
  exit 1
fi
export CHECKPOINT_DISABLE=1

# Last resort if the runner itself is killed: remove by name what it would have removed.
leftovers() {
  docker ps -a --format '{{.Names}}' | grep '^dwib' | xargs -r docker rm -f -v >/dev/null 2>&1 || true
  docker network ls --format '{{.Name}}' | grep '^dwib' | xargs -r docker network rm >/dev/null 2>&1 || true
  docker volume ls --format '{{.Name}}' | grep '^dwib' | xargs -r docker volume rm -f >/dev/null 2>&1 || true
  docker images --format '{{.Repository}}:{{.Tag}}' | grep -E '^dwibc?-build/' | xargs -r docker rmi >/dev/null 2>&1 || true
}
trap leftovers EXIT

npx ts-node --transpile-only bench/bench.ts "$@"
