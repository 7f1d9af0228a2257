#!/usr/bin/env bash
# The end-to-end suite: deploys the example app with `cdktf deploy` against the local
# Docker engine and checks the design's promises for real (see e2e/*.e2e.test.ts).
#
# It never skips: a missing prerequisite fails the run with what is missing and how to
# get it. `bash scripts/setup-e2e.sh` installs all of them (as root, idempotently).
set -euo pipefail
cd "$(dirname "$0")/.."
cache=${DWI_CACHE:-/var/cache/cdktf-distributed-web}

missing=()
if ! docker info >/dev/null 2>&1; then
  missing+=("a running Docker engine reachable by 'docker info': run 'bash scripts/setup-docker.sh' (as root)")
else
  for image in dwi-local/haproxy:2.6 dwi-local/nginx:1.22 dwi-local/mariadb:10.11 dwi-local/node:18 \
    dwi-local/prometheus:2.42 dwi-local/mysqld-exporter:0.14 dwi-local/nginx-exporter:0.11; do
    docker image inspect "$image" >/dev/null 2>&1 || missing+=("the stand-in image $image: run 'bash scripts/build-images.sh'")
  done
fi
if [ -f "$cache/terraform/env.sh" ]; then
  # shellcheck disable=SC1091
  . "$cache/terraform/env.sh"
  command -v "${TERRAFORM_BINARY_NAME:-terraform}" >/dev/null || missing+=("the Terraform CLI '${TERRAFORM_BINARY_NAME:-terraform}': run 'bash scripts/setup-terraform.sh'")
else
  missing+=("the offline Terraform provider mirror ($cache/terraform/env.sh): run 'bash scripts/setup-terraform.sh'")
fi
for file in ca.pem cert.pem key.pem; do
  [ -f "$cache/docker-tls/client/$file" ] || { missing+=("the test TLS material of the Docker TCP endpoint ($cache/docker-tls/client/$file): run 'bash scripts/setup-docker.sh'"); break; }
done
[ -d node_modules/cdktf-cli ] || missing+=("the npm dependencies: run 'npm ci'")

if [ ${#missing[@]} -gt 0 ]; then
  echo "test:e2e cannot run; missing:" >&2
  for m in "${missing[@]}"; do echo "  - $m" >&2; done
  exit 1
fi

export DWI_CACHE="$cache" CHECKPOINT_DISABLE=1
work=${DWI_E2E_WORK:-e2e/.work}
rm -f "$work/results.json"
started=$(date +%s)
status=0
npx vitest run --config e2e/vitest.config.ts "$@" || status=$?
echo "e2e wall time: $(( $(date +%s) - started )) s"
[ -f "$work/results.json" ] && { echo "e2e figures ($work/results.json):"; cat "$work/results.json"; }
exit $status
