#!/bin/sh
# Entrypoint of the dwi-local/nginx stand-in, same contract as the official
# image's: when the command is nginx, every file of /docker-entrypoint.d/ is
# handled in version order (*.sh run if executable, *.envsh sourced if
# executable, anything else ignored), then the command is exec'd.
# NGINX_ENTRYPOINT_QUIET_LOGS=1 silences the entrypoint's own messages.
set -e

note() {
  if [ -z "${NGINX_ENTRYPOINT_QUIET_LOGS:-}" ]; then
    echo "$0: $*"
  fi
}

if [ "$1" = nginx ] || [ "$1" = nginx-debug ]; then
  if [ -n "$(find /docker-entrypoint.d/ -mindepth 1 -maxdepth 1 -type f -print -quit 2>/dev/null)" ]; then
    note "/docker-entrypoint.d/ is not empty, will attempt to perform configuration"
    note "Looking for shell scripts in /docker-entrypoint.d/"
    # no pipe into the loop: sourced *.envsh must change this shell's environment
    for f in $(find /docker-entrypoint.d/ -follow -type f -print | sort -V); do
      case "$f" in
        *.envsh)
          if [ -x "$f" ]; then
            note "Sourcing $f"
            # shellcheck disable=SC1090
            . "$f"
          else
            note "Ignoring $f, not executable"
          fi
          ;;
        *.sh)
          if [ -x "$f" ]; then
            note "Launching $f"
            "$f"
          else
            note "Ignoring $f, not executable"
          fi
          ;;
        *) note "Ignoring $f" ;;
      esac
    done
    note "Configuration complete; ready for start up"
  else
    note "No files found in /docker-entrypoint.d/, skipping configuration"
  fi
fi

exec "$@"
