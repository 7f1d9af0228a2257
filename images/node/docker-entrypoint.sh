#!/bin/sh
# Entrypoint of the dwi-local/node stand-in, same contract as the official
# image's: run the command, but prepend `node` when the first argument is an
# option (-e ...), is not a command, or is a non-executable file (app.js).
set -e

if [ "${1#-}" != "$1" ] || [ -z "$(command -v "$1" || true)" ] || { [ -f "$1" ] && ! [ -x "$1" ]; }; then
  set -- node "$@"
fi

exec "$@"
