#!/bin/sh
# Entrypoint of the dwi-local/haproxy stand-in, same contract as the official
# image's: options alone mean "haproxy <options>", and haproxy itself always runs
# in master-worker mode (-W, reload with SIGUSR2) in the foreground (-db).
set -e

case "$1" in
  -*) set -- haproxy "$@" ;;
esac

if [ "$1" = haproxy ]; then
  shift
  set -- haproxy -W -db "$@"
fi

exec "$@"
