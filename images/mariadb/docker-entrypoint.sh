#!/bin/bash
# Entrypoint of the dwi-local/mariadb stand-in. Written from the documented
# contract of the official mariadb image:
#  - options alone mean "mariadbd <options>";
#  - for mariadbd/mysqld: check the config, create the data/socket directories,
#    step down from root to user mysql, and, only when the datadir is empty:
#      mariadb-install-db; a temporary server WITHOUT networking (socket only,
#      replication not started); timezone tables and root accounts set up
#      without binary logging; MARIADB_DATABASE / MARIADB_USER created (binary
#      logged, so replicas get them); /docker-entrypoint-initdb.d/* run in
#      sorted order; the temporary server stopped cleanly;
#  - then the command is exec'd (mariadbd in the foreground, PID 1).
# Environment (each MARIADB_X also read as MYSQL_X, and from X_FILE):
#   MARIADB_ROOT_PASSWORD | MARIADB_ALLOW_EMPTY_ROOT_PASSWORD | MARIADB_RANDOM_ROOT_PASSWORD
#   MARIADB_ROOT_HOST (default %), MARIADB_DATABASE, MARIADB_USER, MARIADB_PASSWORD,
#   MARIADB_INITDB_SKIP_TZINFO
set -eo pipefail
shopt -s nullglob

_log() {
  local type="$1"
  shift
  printf '%s [%s] [Entrypoint]: %s\n' "$(date --rfc-3339=seconds)" "$type" "$*"
}
mysql_note() { _log Note "$@"; }
mysql_warn() { _log Warn "$@" >&2; }
mysql_error() {
  _log ERROR "$@" >&2
  exit 1
}

# file_env VAR [DEFAULT]: VAR's value, else the content of the file named by
# VAR_FILE (docker secrets), else DEFAULT; exported as VAR.
file_env() {
  local var="$1" file_var="${1}_FILE" def="${2:-}" val
  if [ -n "${!var:-}" ] && [ -n "${!file_var:-}" ]; then
    mysql_error "both $var and $file_var are set (but are exclusive)"
  fi
  val="$def"
  if [ -n "${!var:-}" ]; then
    val="${!var}"
  elif [ -n "${!file_var:-}" ]; then
    val="$(<"${!file_var}")"
  fi
  export "$var"="$val"
  unset "$file_var"
}

# mariadb_file_env MARIADB_X [DEFAULT]: MARIADB_X wins over its alias MYSQL_X;
# both end up exported with the same value.
mariadb_file_env() {
  local var="$1" alias="MYSQL_${1#MARIADB_}"
  shift
  file_env "$alias" "$@"
  file_env "$var" "${!alias}"
  export "$alias"="${!var}"
}

# the server's effective value of a config option, e.g. datadir or socket
mysql_get_config() {
  local conf="$1"
  shift
  "$@" --verbose --help 2>/dev/null \
    | awk -v conf="$conf" '$1 == conf && /^[^ \t]/ { sub(/^[^ \t]+[ \t]+/, ""); print; exit }'
}

mysql_check_config() {
  local errors
  if ! errors="$("$@" --verbose --help 2>&1 >/dev/null)"; then
    mysql_error "mariadbd failed while attempting to check config: command was: $*: $errors"
  fi
}

# wants help or version only: do not initialise anything
_want_help() {
  local arg
  for arg; do
    case "$arg" in
      -'?' | --help | --print-defaults | -V | --version) return 0 ;;
    esac
  done
  return 1
}

docker_setup_env() {
  declare -g DATADIR SOCKET DATABASE_ALREADY_EXISTS
  DATADIR="$(mysql_get_config datadir "$@")"
  DATADIR="${DATADIR%/}"
  SOCKET="$(mysql_get_config socket "$@")"
  [ -n "$DATADIR" ] || DATADIR=/var/lib/mysql
  [ -n "$SOCKET" ] || SOCKET=/run/mysqld/mysqld.sock

  mariadb_file_env MARIADB_ROOT_HOST '%'
  mariadb_file_env MARIADB_DATABASE
  mariadb_file_env MARIADB_USER
  mariadb_file_env MARIADB_PASSWORD
  mariadb_file_env MARIADB_ROOT_PASSWORD
  file_env MARIADB_ALLOW_EMPTY_ROOT_PASSWORD "${MYSQL_ALLOW_EMPTY_PASSWORD:-}"
  file_env MARIADB_RANDOM_ROOT_PASSWORD "${MYSQL_RANDOM_ROOT_PASSWORD:-}"
  file_env MARIADB_INITDB_SKIP_TZINFO "${MYSQL_INITDB_SKIP_TZINFO:-}"

  DATABASE_ALREADY_EXISTS=
  if [ -d "$DATADIR/mysql" ]; then
    DATABASE_ALREADY_EXISTS=true
  fi
}

docker_verify_minimum_env() {
  if [ -z "$MARIADB_ROOT_PASSWORD" ] && [ -z "$MARIADB_ALLOW_EMPTY_ROOT_PASSWORD" ] && [ -z "$MARIADB_RANDOM_ROOT_PASSWORD" ]; then
    mysql_error "Database is uninitialized and password option is not specified. You need to specify one of MARIADB_ROOT_PASSWORD, MARIADB_ALLOW_EMPTY_ROOT_PASSWORD and MARIADB_RANDOM_ROOT_PASSWORD"
  fi
  if [ "$MARIADB_USER" = root ]; then
    mysql_error "MARIADB_USER=root: MARIADB_USER and MARIADB_PASSWORD are for a regular user and cannot be used for root; use MARIADB_ROOT_PASSWORD"
  fi
  if [ -n "$MARIADB_USER" ] && [ -z "$MARIADB_PASSWORD" ]; then
    mysql_error "MARIADB_USER is set but MARIADB_PASSWORD is not"
  fi
  if [ -n "$MARIADB_PASSWORD" ] && [ -z "$MARIADB_USER" ]; then
    mysql_warn "MARIADB_PASSWORD is set but MARIADB_USER is not: no user is created"
  fi
}

docker_create_db_directories() {
  mkdir -p "$DATADIR" "$(dirname "$SOCKET")"
  if [ "$(id -u)" = 0 ]; then
    # volumes may come in owned by someone else
    find "$DATADIR" \! -user mysql -exec chown mysql:mysql '{}' +
    chown mysql:mysql "$(dirname "$SOCKET")"
  fi
}

docker_init_database_dir() {
  mysql_note "Initializing database files"
  shift # the server binary; what follows are its options
  mariadb-install-db \
    --datadir="$DATADIR" \
    --rpm \
    --auth-root-authentication-method=normal \
    --skip-test-db \
    --default-time-zone=SYSTEM \
    --enforce-storage-engine= \
    --skip-log-bin \
    --expire-logs-days=0 \
    --loose-innodb_buffer_pool_load_at_startup=0 \
    --loose-innodb_buffer_pool_dump_at_shutdown=0 \
    "$@"
  mysql_note "Database files initialized"
}

# the root password, once set, is passed through a defaults file on a pipe
_root_password_set=
_mysql_passfile() {
  if [ -n "$_root_password_set" ] && [ -n "$MARIADB_ROOT_PASSWORD" ]; then
    local pw="${MARIADB_ROOT_PASSWORD//\\/\\\\}"
    printf '[client]\npassword="%s"\n' "$pw"
  else
    printf '[client]\n'
  fi
}

# docker_exec_client ARGS...: the client as root over the socket
docker_exec_client() {
  mariadb --defaults-extra-file=<(_mysql_passfile) --protocol=socket -uroot -hlocalhost \
    --socket="$SOCKET" "$@"
}

# docker_process_sql [--database=DB] [ARGS] < SQL: like the official helper, runs
# in MARIADB_DATABASE by default (init files use it)
docker_process_sql() {
  if [ -n "$MARIADB_DATABASE" ]; then
    set -- --database="$MARIADB_DATABASE" "$@"
  fi
  docker_exec_client --comments "$@"
}

docker_temp_server_start() {
  # no TCP at all (--skip-networking), replication not started
  "$@" --skip-networking --default-time-zone=SYSTEM --socket="$SOCKET" \
    --loose-wsrep_on=OFF --expire-logs-days=0 --skip-slave-start \
    --loose-innodb_buffer_pool_load_at_startup=0 --skip-ssl &
  declare -g MARIADB_PID=$!
  mysql_note "Waiting for server startup"
  local i
  for i in {60..0}; do
    if docker_exec_client --database=mysql -e 'SELECT 1' >/dev/null 2>&1; then
      break
    fi
    if ! kill -0 "$MARIADB_PID" 2>/dev/null; then
      mysql_error "Unable to start server (temporary server exited)."
    fi
    sleep 1
  done
  if [ "$i" = 0 ]; then
    mysql_error "Unable to start server (no answer within 60 s)."
  fi
  mysql_note "Temporary server started."
}

docker_temp_server_stop() {
  mysql_note "Stopping temporary server"
  kill "$MARIADB_PID"
  if ! wait "$MARIADB_PID"; then
    mysql_error "Unable to shut down the temporary server cleanly."
  fi
  mysql_note "Temporary server stopped"
}

# a string literal body for SQL: \ -> \\, newline -> \n, ' -> \'
docker_sql_escape_string_literal() {
  local newline=$'\n' escaped="${1//\\/\\\\}"
  escaped="${escaped//$newline/\\n}"
  echo "${escaped//\'/\\\'}"
}

docker_setup_db() {
  # timezone tables, never binary logged
  if [ -z "$MARIADB_INITDB_SKIP_TZINFO" ]; then
    mysql_note "Loading time zone info into the mysql database"
    {
      echo 'SET @@SESSION.SQL_LOG_BIN=0;'
      mariadb-tzinfo-to-sql --skip-write-binlog /usr/share/zoneinfo 2>/dev/null
    } | docker_exec_client --database=mysql
  fi

  if [ -n "$MARIADB_RANDOM_ROOT_PASSWORD" ]; then
    MARIADB_ROOT_PASSWORD="$(head -c 24 /dev/urandom | base64 | tr -d '/+=\n')"
    export MARIADB_ROOT_PASSWORD MYSQL_ROOT_PASSWORD="$MARIADB_ROOT_PASSWORD"
    mysql_note "GENERATED ROOT PASSWORD: $MARIADB_ROOT_PASSWORD"
  fi

  local root_pw root_host root_create=
  root_pw="$(docker_sql_escape_string_literal "$MARIADB_ROOT_PASSWORD")"
  root_host="$(docker_sql_escape_string_literal "$MARIADB_ROOT_HOST")"
  if [ "$MARIADB_ROOT_HOST" != localhost ]; then
    root_create="CREATE USER 'root'@'${root_host}' IDENTIFIED BY '${root_pw}';
GRANT ALL ON *.* TO 'root'@'${root_host}' WITH GRANT OPTION;
GRANT PROXY ON ''@'%' TO 'root'@'${root_host}' WITH GRANT OPTION;"
  fi

  mysql_note "Securing system users (not binary logged)"
  docker_exec_client --database=mysql --binary-mode <<-EOSQL
	SET @@SESSION.SQL_LOG_BIN=0;
	SET @@SESSION.SQL_MODE=REPLACE(@@SESSION.SQL_MODE, 'NO_BACKSLASH_ESCAPES', '');
	DROP USER IF EXISTS root@'127.0.0.1', root@'::1';
	EXECUTE IMMEDIATE CONCAT('DROP USER IF EXISTS root@\'', @@hostname, '\'');
	ALTER USER 'root'@'localhost' IDENTIFIED BY '${root_pw}';
	${root_create}
	EOSQL
  _root_password_set=1

  # database and user: binary logged (like the official image), so replicas get them
  local sql=
  if [ -n "$MARIADB_DATABASE" ]; then
    mysql_note "Creating database ${MARIADB_DATABASE}"
    sql+="CREATE DATABASE IF NOT EXISTS \`${MARIADB_DATABASE//\`/\`\`}\`;"$'\n'
  fi
  if [ -n "$MARIADB_USER" ] && [ -n "$MARIADB_PASSWORD" ]; then
    local user pw
    user="$(docker_sql_escape_string_literal "$MARIADB_USER")"
    pw="$(docker_sql_escape_string_literal "$MARIADB_PASSWORD")"
    mysql_note "Creating user ${MARIADB_USER}"
    sql+="CREATE USER '${user}'@'%' IDENTIFIED BY '${pw}';"$'\n'
    if [ -n "$MARIADB_DATABASE" ]; then
      # in GRANT, _ and % of a database name are wildcards
      local db="${MARIADB_DATABASE//\`/\`\`}"
      db="${db//_/\\_}"
      db="${db//%/\\%}"
      mysql_note "Giving user ${MARIADB_USER} access to schema ${MARIADB_DATABASE}"
      sql+="GRANT ALL ON \`${db}\`.* TO '${user}'@'%';"$'\n'
    fi
  fi
  if [ -n "$sql" ]; then
    {
      echo "SET @@SESSION.SQL_MODE=REPLACE(@@SESSION.SQL_MODE, 'NO_BACKSLASH_ESCAPES', '');"
      printf '%s' "$sql"
    } | docker_exec_client --database=mysql --binary-mode
  fi
}

# docker_process_init_files FILE...: *.sh run (executable) or sourced, *.sql and
# compressed *.sql.{gz,xz,zst} fed to the client as root, anything else ignored
docker_process_init_files() {
  echo
  local f
  for f; do
    case "$f" in
      *.sh)
        if [ -x "$f" ]; then
          mysql_note "$0: running $f"
          "$f"
        else
          mysql_note "$0: sourcing $f"
          # shellcheck disable=SC1090
          . "$f"
        fi
        ;;
      *.sql) mysql_note "$0: running $f"; docker_process_sql <"$f"; echo ;;
      *.sql.gz) mysql_note "$0: running $f"; gunzip -c "$f" | docker_process_sql; echo ;;
      *.sql.xz) mysql_note "$0: running $f"; xzcat "$f" | docker_process_sql; echo ;;
      *.sql.zst) mysql_note "$0: running $f"; zstd -dc "$f" | docker_process_sql; echo ;;
      *) mysql_warn "$0: ignoring $f" ;;
    esac
    echo
  done
}

docker_mariadb_init() {
  docker_init_database_dir "$@"
  mysql_note "Starting temporary server"
  docker_temp_server_start "$@"
  docker_setup_db
  docker_process_init_files /docker-entrypoint-initdb.d/*
  docker_temp_server_stop
  echo
  mysql_note "MariaDB init process done. Ready for start up."
  echo
}

_main() {
  # options alone: run them with mariadbd
  if [ "${1:0:1}" = '-' ]; then
    set -- mariadbd "$@"
  fi

  if { [ "$1" = mariadbd ] || [ "$1" = mysqld ]; } && ! _want_help "$@"; then
    mysql_note "Entrypoint script for MariaDB Server (dwi-local stand-in) started."
    mysql_check_config "$@"
    docker_setup_env "$@"
    docker_create_db_directories

    # step down from root to the mysql user, then run this script again
    if [ "$(id -u)" = 0 ]; then
      mysql_note "Switching to dedicated user 'mysql'"
      exec setpriv --reuid=mysql --regid=mysql --init-groups "${BASH_SOURCE[0]}" "$@"
    fi

    if [ -z "$DATABASE_ALREADY_EXISTS" ]; then
      docker_verify_minimum_env
      docker_mariadb_init "$@"
    fi
  fi
  exec "$@"
}

# sourcing this file (e.g. from an init script) only defines the functions
if ! (return 0 2>/dev/null); then
  _main "$@"
fi
