#!/usr/bin/env bash
# Everything `npm run test:e2e` needs, installed from package registries only, idempotent
# and cached under $DWI_CACHE (default /var/cache/cdktf-distributed-web). Run as root.
#
#  1. TLS material for the remote-host test: a test CA, a server certificate for
#     127.0.0.1 and a client certificate (made once, with openssl).
#  2. The Docker engine (scripts/setup-docker.sh), listening on its unix socket and,
#     for the remote-host test, on tcp://127.0.0.1:2376 with mutual TLS only.
#  3. The stand-in images (scripts/build-images.sh).
#  4. The Terraform CLI and providers in an offline mirror (scripts/setup-terraform.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
cache=${DWI_CACHE:-/var/cache/cdktf-distributed-web}
tls="$cache/docker-tls"
log() { printf 'setup-e2e: %s\n' "$*"; }

if [ ! -s "$tls/client/key.pem" ] || [ ! -s "$tls/server/key.pem" ]; then
  command -v openssl >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl; }
  log "making the test CA and certificates in $tls"
  rm -rf "$tls.tmp" && mkdir -p "$tls.tmp/server" "$tls.tmp/client"
  (
    cd "$tls.tmp"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=cdktf-distributed-web test CA" \
      -keyout ca-key.pem -out ca.pem 2>/dev/null
    sign() { # dir subject extensions
      openssl req -newkey rsa:2048 -nodes -subj "$2" -keyout "$1/key.pem" -out "$1/req.csr" 2>/dev/null
      printf '%s\n' "$3" >"$1/ext.cnf"
      openssl x509 -req -in "$1/req.csr" -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 3650 \
        -extfile "$1/ext.cnf" -out "$1/cert.pem" 2>/dev/null
      rm -f "$1/req.csr" "$1/ext.cnf"
    }
    sign server "/CN=127.0.0.1" "subjectAltName=IP:127.0.0.1,DNS:localhost
extendedKeyUsage=serverAuth"
    sign client "/CN=cdktf-distributed-web e2e client" "extendedKeyUsage=clientAuth"
    cp ca.pem server/ca.pem && cp ca.pem client/ca.pem
    chmod 600 ca-key.pem server/key.pem client/key.pem
  )
  rm -rf "$tls" && mv "$tls.tmp" "$tls"
fi

DWI_DOCKERD_EXTRA_ARGS="-H tcp://127.0.0.1:2376 --tlsverify --tlscacert=$tls/server/ca.pem --tlscert=$tls/server/cert.pem --tlskey=$tls/server/key.pem" \
  bash scripts/setup-docker.sh
bash scripts/build-images.sh
bash scripts/setup-terraform.sh
log "ready: npm run test:e2e"
