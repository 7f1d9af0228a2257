#!/usr/bin/env bash
# test-images.sh - quick smoke check of the dwi-local stand-in images' contracts.
#
# Why: the end-to-end tests assume that the locally built stand-ins behave like
# the official haproxy, nginx, mariadb and node images (entrypoints, users, stop
# signals, config paths, MariaDB first-start initialisation and replication).
# This script runs a few containers on a user-defined bridge network that it
# creates and removes itself, and checks those contracts. All test traffic stays
# inside those containers (their loopback or each other by DNS name); nothing
# else is probed. Every wait is bounded; containers, network and temp files are
# removed on exit, failure or interrupt (trap).
#
# Prints PASS/FAIL per check and a closing "N passed, N failed" line; exits
# non-zero on any failure. Needs root. Builds/starts what is missing first
# (scripts/build-images.sh, fast when up to date) unless DWI_SKIP_BUILD=1.
#   DWI_SMOKE_NPM=0   skip the check that `npm` reaches the registry in `docker build`
set -uo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DOCKER="${DWI_DOCKER_CLI:-docker}"
RUN_ID="dwi-smoke-$$"
NET="$RUN_ID"
TMP="$(mktemp -d)"
PASSED=0
FAILED=0
T_START=$SECONDS

log() { printf '[test-images] %s\n' "$*" >&2; }

cleanup() {
  local ids
  ids="$("$DOCKER" ps -aq --filter "label=dwi.smoke=$RUN_ID" 2>/dev/null)"
  [ -n "$ids" ] && timeout 60 "$DOCKER" rm -f -v $ids >/dev/null 2>&1
  timeout 30 "$DOCKER" network rm "$NET" >/dev/null 2>&1
  timeout 30 "$DOCKER" image rm -f "dwi-smoke/npm-probe:$RUN_ID" >/dev/null 2>&1
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'log interrupted; exit 130' INT TERM HUP

pass() { PASSED=$((PASSED + 1)); printf 'PASS: %s\n' "$1"; }
fail() {
  FAILED=$((FAILED + 1))
  printf 'FAIL: %s\n' "$1"
  [ -n "${2:-}" ] && printf '%s\n' "$2" | tail -n 20 | sed 's/^/      /'
  return 0
}
# check NAME EXPECTED ACTUAL: exact match
check_eq() { if [ "$3" = "$2" ]; then pass "$1"; else fail "$1" "expected [$2], got [$3]"; fi; }
# check_has NAME NEEDLE HAYSTACK: substring
check_has() { if [[ "$3" == *"$2"* ]]; then pass "$1"; else fail "$1" "[$2] not found in: $3"; fi; }
# check_cmd NAME CMD...: exit status 0 (CMD may be a function; docker calls are
# bounded by d())
check_cmd() {
  local name="$1" out
  shift
  if out="$("$@" 2>&1)"; then pass "$name"; else fail "$name" "$out"; fi
}
# wait_for SECONDS CMD...: until CMD succeeds, bounded
wait_for() {
  local limit=$((SECONDS + $1))
  shift
  while [ "$SECONDS" -lt "$limit" ]; do
    "$@" >/dev/null 2>&1 && return 0
    sleep 1
  done
  return 1
}

# every docker call is bounded in time
d() { timeout "${DWI_SMOKE_CMD_TIMEOUT:-120}" "$DOCKER" "$@"; }
cname() { echo "$RUN_ID-$1"; }
# create NAME IMAGE [docker create args...] -- [command...]: on our network, with
# the DNS alias NAME; files are added with `docker cp` before start (like the
# docker provider's "upload" blocks).
create() {
  local name="$1" image="$2"
  shift 2
  local -a opts=() cmd=()
  while [ "$#" -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
  [ "$#" -gt 0 ] && shift && cmd=("$@")
  d create --name "$(cname "$name")" --network "$NET" --network-alias "$name" \
    --label "dwi.smoke=$RUN_ID" "${opts[@]}" "$image" "${cmd[@]}" >/dev/null
}
upload() { d cp "$2" "$(cname "$1"):$3"; }      # upload NAME LOCALFILE PATH
dexec() { d exec "$(cname "$1")" "${@:2}"; }     # dexec NAME CMD...
inspect() { d inspect -f "$2" "$(cname "$1")" 2>/dev/null; }
image_cfg() { d image inspect -f "$2" "$1" 2>/dev/null; }
# http NAME PORT PATH: GET over the container's own loopback with bash /dev/tcp
http() {
  dexec "$1" bash -c 'exec 3<>/dev/tcp/127.0.0.1/'"$2"' || exit 1
    printf "GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n" "'"$3"'" >&3
    timeout 10 cat <&3'
}
section() { printf '\n== %s\n' "$*"; }

[ "$(id -u)" = 0 ] || { log "must run as root"; exit 1; }

if [ "${DWI_SKIP_BUILD:-0}" != 1 ]; then
  "$REPO_ROOT/scripts/build-images.sh" >&2 || { log "build-images.sh failed"; exit 1; }
else
  "$REPO_ROOT/scripts/setup-docker.sh" >&2 || { log "setup-docker.sh failed"; exit 1; }
fi

HAPROXY=dwi-local/haproxy:2.6
NGINX=dwi-local/nginx:1.22
MARIADB=dwi-local/mariadb:10.11
NODE=dwi-local/node:18
PROMETHEUS=dwi-local/prometheus:2.42
MYSQLD_EXPORTER=dwi-local/mysqld-exporter:0.14
NGINX_EXPORTER=dwi-local/nginx-exporter:0.11

d network create --label "dwi.smoke=$RUN_ID" "$NET" >/dev/null || { log "cannot create network $NET"; exit 1; }

# ---------------------------------------------------------------------------
section "engine"
for cli in /usr/bin/docker /usr/local/bin/docker; do
  [ -x "$cli" ] || continue
  v="$(timeout 20 "$cli" version --format '{{.Client.Version}}/{{.Server.Version}}' 2>&1)"
  if [[ "$v" == */* ]] && [[ "$v" != *rror* ]]; then pass "engine: $cli talks to the daemon (client/server $v)"; else fail "engine: $cli talks to the daemon" "$v"; fi
done
check_cmd "engine: a container runs on the user-defined network" d run --rm --network "$NET" --label "dwi.smoke=$RUN_ID" dwi-local/debian:bookworm true

# ---------------------------------------------------------------------------
section "nginx ($NGINX)"
check_eq "nginx: STOPSIGNAL SIGQUIT" SIGQUIT "$(image_cfg "$NGINX" '{{.Config.StopSignal}}')"
check_eq "nginx: CMD" '[nginx -g daemon off;]' "$(image_cfg "$NGINX" '{{.Config.Cmd}}')"
check_has "nginx: EXPOSE 80" '80/tcp' "$(image_cfg "$NGINX" '{{json .Config.ExposedPorts}}')"

# our own full nginx.conf (official layout: user nginx; include conf.d/*.conf) plus a
# server of its own on 8080, an executable /docker-entrypoint.d script, a template
cat >"$TMP/nginx.conf" <<'EOF'
user  nginx;
worker_processes  2;
error_log  /var/log/nginx/error.log notice;
pid        /var/run/nginx.pid;
events { worker_connections 256; }
http {
    include       /etc/nginx/mime.types;
    default_type  application/octet-stream;
    access_log    /var/log/nginx/access.log;
    server { listen 8080; location / { return 200 "uploaded-nginx-conf\n"; } }
    include /etc/nginx/conf.d/*.conf;
}
EOF
printf '#!/bin/sh\necho entrypoint-d-ran >/usr/share/nginx/html/marker.txt\n' >"$TMP/50-marker.sh"
chmod 755 "$TMP/50-marker.sh"
printf 'server { listen ${SMOKE_PORT}; location / { return 200 "template-$host\\n"; } }\n' >"$TMP/smoke.conf.template"

create web "$NGINX" -e SMOKE_PORT=8081
upload web "$TMP/nginx.conf" /etc/nginx/nginx.conf
upload web "$TMP/50-marker.sh" /docker-entrypoint.d/50-marker.sh
mkdir -p "$TMP/templates" && cp "$TMP/smoke.conf.template" "$TMP/templates/"
upload web "$TMP/templates" /etc/nginx/
d start "$(cname web)" >/dev/null
if wait_for 30 http web 80 /; then
  check_has "nginx: default conf.d server on :80" "Welcome to nginx" "$(http web 80 /)"
  check_has "nginx: uploaded nginx.conf is used (:8080)" "uploaded-nginx-conf" "$(http web 8080 /)"
  check_has "nginx: /docker-entrypoint.d/*.sh ran" "entrypoint-d-ran" "$(http web 80 /marker.txt)"
  check_has "nginx: templates rendered with envsubst (\$SMOKE_PORT, nginx \$host kept)" "template-localhost" "$(http web 8081 /)"
  workers="$(dexec web bash -c 'for f in /proc/[0-9]*/cmdline; do if tr "\0" " " <"$f" | grep -q "^nginx: worker"; then stat -c %U "${f%/cmdline}"; fi; done | sort -u')"
  check_eq "nginx: workers run as user nginx" nginx "$workers"
  check_has "nginx: access log goes to stdout (docker logs)" 'GET /marker.txt' "$(d logs "$(cname web)" 2>/dev/null)"
  check_cmd "nginx: /var/cache/nginx and /usr/share/nginx/html exist, no sites-enabled/default" \
    d exec "$(cname web)" bash -c 'test -d /var/cache/nginx && test -f /usr/share/nginx/html/index.html && ! test -e /etc/nginx/sites-enabled/default && test "$(readlink /var/log/nginx/error.log)" = /dev/stderr'
else
  fail "nginx: container answers on :80" "$(d logs "$(cname web)" 2>&1)"
fi

# ---------------------------------------------------------------------------
section "haproxy ($HAPROXY)"
check_eq "haproxy: USER haproxy" haproxy "$(image_cfg "$HAPROXY" '{{.Config.User}}')"
check_eq "haproxy: STOPSIGNAL SIGUSR1" SIGUSR1 "$(image_cfg "$HAPROXY" '{{.Config.StopSignal}}')"
check_eq "haproxy: ENTRYPOINT/CMD" '[docker-entrypoint.sh] [haproxy -f /usr/local/etc/haproxy/haproxy.cfg]' \
  "$(image_cfg "$HAPROXY" '{{.Config.Entrypoint}} {{.Config.Cmd}}')"
cat >"$TMP/haproxy.cfg" <<'EOF'
global
    log stdout format raw local0
defaults
    mode http
    log global
    option httplog
    timeout connect 5s
    timeout client 30s
    timeout server 30s
resolvers docker
    nameserver dns 127.0.0.11:53
frontend fe
    bind :8080
    default_backend be
frontend stats
    bind :8404
    stats enable
    stats uri /stats
backend be
    server web1 web:80 check resolvers docker init-addr libc,none
EOF
create lb "$HAPROXY"
upload lb "$TMP/haproxy.cfg" /usr/local/etc/haproxy/haproxy.cfg
d start "$(cname lb)" >/dev/null
if wait_for 30 http lb 8080 /; then
  check_has "haproxy: proxies :8080 to the nginx container by DNS name" "Welcome to nginx" "$(http lb 8080 /)"
  check_has "haproxy: stats page on :8404" "Statistics Report" "$(http lb 8404 /stats)"
  check_eq "haproxy: PID 1 runs as user haproxy" haproxy "$(dexec lb stat -c %U /proc/1)"
  check_has "haproxy: entrypoint added -W -db" "haproxy -W -db -f /usr/local/etc/haproxy/haproxy.cfg" "$(dexec lb bash -c 'tr "\0" " " </proc/1/cmdline')"
  check_cmd "haproxy: bash and ca-certificates present" d exec "$(cname lb)" bash -c 'test -s /etc/ssl/certs/ca-certificates.crt'
  t0=$SECONDS
  d stop -t 20 "$(cname lb)" >/dev/null
  took=$((SECONDS - t0))
  code="$(inspect lb '{{.State.ExitCode}}')"
  if [ "$took" -lt 10 ] && [ "$code" != 137 ]; then pass "haproxy: docker stop (SIGUSR1 soft stop) ends it in ${took}s, exit $code"; else fail "haproxy: soft stop" "took ${took}s, exit $code"; fi
else
  fail "haproxy: container answers on :8080" "$(d logs "$(cname lb)" 2>&1)"
fi
t0=$SECONDS
d stop -t 20 "$(cname web)" >/dev/null
took=$((SECONDS - t0))
code="$(inspect web '{{.State.ExitCode}}')"
if [ "$took" -lt 10 ] && [ "$code" = 0 ]; then pass "nginx: docker stop (SIGQUIT graceful) ends it in ${took}s, exit 0"; else fail "nginx: graceful stop" "took ${took}s, exit $code"; fi

# ---------------------------------------------------------------------------
section "mariadb ($MARIADB)"
check_eq "mariadb: STOPSIGNAL SIGTERM, CMD mariadbd" 'SIGTERM [mariadbd]' "$(image_cfg "$MARIADB" '{{.Config.StopSignal}} {{.Config.Cmd}}')"
check_has "mariadb: VOLUME /var/lib/mysql, EXPOSE 3306" '/var/lib/mysql 3306/tcp' "$(image_cfg "$MARIADB" '{{range $k, $v := .Config.Volumes}}{{$k}}{{end}} {{range $k, $v := .Config.ExposedPorts}}{{$k}}{{end}}')"
check_cmd "mariadb: clients mariadb, mariadb-admin, mysql, mysqladmin; my.cnf includes conf.d and mariadb.conf.d; /run/mysqld owned by mysql" \
  d run --rm --label "dwi.smoke=$RUN_ID" --entrypoint bash "$MARIADB" -c \
  'command -v mariadb mariadb-admin mysql mysqladmin >/dev/null && grep -q "^!includedir /etc/mysql/conf.d/" /etc/mysql/my.cnf && grep -q "^!includedir /etc/mysql/mariadb.conf.d/" /etc/mysql/my.cnf && test "$(stat -c %U /run/mysqld)" = mysql'

# no password option: refuses to initialise
create nopw "$MARIADB"
d start "$(cname nopw)" >/dev/null
if wait_for 30 bash -c "[ \"\$($DOCKER inspect -f '{{.State.Running}}' $(cname nopw))\" = false ]"; then
  code="$(inspect nopw '{{.State.ExitCode}}')"
  out="$(d logs "$(cname nopw)" 2>&1)"
  if [ "$code" != 0 ] && [[ "$out" == *"password option is not specified"* ]]; then pass "mariadb: refuses an empty datadir without a root password option (exit $code)"; else fail "mariadb: refuses without root password" "exit $code: $out"; fi
else
  fail "mariadb: refuses without root password" "still running after 30 s"
fi

# primary: database/user by environment, replication user unlogged, probes in init
mkdir -p "$TMP/primary-initdb" "$TMP/replica-initdb"
printf '[mariadb]\nserver_id=1\nlog_bin=mysql-bin\nbinlog_format=ROW\n' >"$TMP/primary.cnf"
cat >"$TMP/primary-initdb/10-repl-user.sql" <<'EOF'
SET SESSION sql_log_bin = 0;
CREATE USER 'repl'@'%' IDENTIFIED BY 'repl-pw';
GRANT REPLICATION SLAVE ON *.* TO 'repl'@'%';
SET SESSION sql_log_bin = 1;
EOF
cat >"$TMP/primary-initdb/20-probe.sh" <<'EOF'
#!/bin/bash
# executed (it is executable): TCP must be closed while the temporary server runs
if (exec 3<>/dev/tcp/127.0.0.1/3306) 2>/dev/null; then echo "SMOKE: TCP 3306 OPEN DURING INIT"; else echo "SMOKE: TCP 3306 REFUSED DURING INIT"; fi
mariadb -uroot -p"$MARIADB_ROOT_PASSWORD" -e 'SELECT CONCAT("SMOKE: socket ", "ok as ", CURRENT_USER())'
EOF
chmod 755 "$TMP/primary-initdb/20-probe.sh"
printf 'CREATE TABLE seed (id INT PRIMARY KEY);\nINSERT INTO seed VALUES (1);\n' | gzip >"$TMP/primary-initdb/30-seed.sql.gz"
printf '# sourced (not executable): the entrypoint functions are available\ndocker_process_sql <<<"CREATE TABLE sourced (id INT PRIMARY KEY)"\n' >"$TMP/primary-initdb/40-sourced.sh"
chmod 644 "$TMP/primary-initdb/40-sourced.sh" "$TMP/primary-initdb/10-repl-user.sql"

MDB_PRIMARY_ENV=(-e MARIADB_ROOT_PASSWORD=root-pw -e MARIADB_DATABASE=app -e MARIADB_USER=appuser -e MYSQL_PASSWORD=app-pw)
create primary "$MARIADB" "${MDB_PRIMARY_ENV[@]}"
upload primary "$TMP/primary.cnf" /etc/mysql/conf.d/60-replication.cnf
for f in "$TMP/primary-initdb/"*; do upload primary "$f" /docker-entrypoint-initdb.d/; done
d start "$(cname primary)" >/dev/null

tcp_ping() { dexec "$1" mariadb-admin --protocol=tcp -h127.0.0.1 -uroot -p"$2" ping; }
sql() { local c="$1" pw="$2"; shift 2; dexec "$c" mariadb --protocol=tcp -h127.0.0.1 -uroot -p"$pw" -N -B "$@"; }

if wait_for 90 tcp_ping primary root-pw; then
  plog="$(d logs "$(cname primary)" 2>&1)"
  check_has "mariadb: TCP 3306 refused while the temporary server ran" "SMOKE: TCP 3306 REFUSED DURING INIT" "$plog"
  check_has "mariadb: executable init *.sh ran with the socket server up" "SMOKE: socket ok as root@localhost" "$plog"
  check_eq "mariadb: mariadbd is PID 1 as user mysql" "mariadbd mysql" "$(dexec primary bash -c 'echo "$(cat /proc/1/comm) $(stat -c %U /proc/1)"')"
  check_eq "mariadb: *.sql.gz and sourced *.sh ran in MARIADB_DATABASE" "seed sourced" "$(sql primary root-pw -e "SELECT GROUP_CONCAT(table_name ORDER BY table_name SEPARATOR ' ') FROM information_schema.tables WHERE table_schema='app'")"
  check_eq "mariadb: conf.d settings win (server_id, log_bin), timezone tables loaded" "1 1 1" \
    "$(sql primary root-pw -e "SELECT CONCAT_WS(' ', @@server_id, IF(@@log_bin, 1, 0), COUNT(*) > 0) FROM mysql.time_zone_name")"
  check_cmd "mariadb: root@'%' logs in over the network (from another container)" \
    d run --rm --network "$NET" --label "dwi.smoke=$RUN_ID" "$MARIADB" mariadb -hprimary -uroot -proot-pw -e 'SELECT 1'
  check_cmd "mariadb: MARIADB_USER (password via MYSQL_PASSWORD alias) creates a table in MARIADB_DATABASE over the network" \
    d run --rm --network "$NET" --label "dwi.smoke=$RUN_ID" "$MARIADB" mariadb -hprimary -uappuser -papp-pw app \
    -e "CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(20)); INSERT INTO items VALUES (1, 'one'), (2, 'two')"
  binlog="$(sql primary root-pw -e "SHOW BINARY LOGS" | awk '{ print $1 }' | while read -r f; do sql primary root-pw -e "SHOW BINLOG EVENTS IN '$f'"; done)"
  if [[ "$binlog" == *appuser* ]] && [[ "$binlog" != *"'root'"* ]] && [[ "$binlog" != *repl-pw* ]] && [[ "$binlog" != *"'repl'"* ]] && [[ "$binlog" != *time_zone* ]]; then
    pass "mariadb: binlog has the database/user, not root, repl or timezone setup"
  else
    fail "mariadb: binlog contents" "$(printf '%s\n' "$binlog" | grep -iE "user|time_zone|root" | head -n 10)"
  fi
else
  fail "mariadb: primary initialises and answers on TCP 3306" "$(d logs "$(cname primary)" 2>&1)"
fi

# replica: no MARIADB_DATABASE/USER (they arrive by replication); CHANGE MASTER in initdb
printf '[mariadb]\nserver_id=2\nlog_bin=mysql-bin\nbinlog_format=ROW\nread_only=ON\n' >"$TMP/replica.cnf"
cat >"$TMP/replica-initdb/10-replication.sql" <<'EOF'
CHANGE MASTER TO MASTER_HOST='primary', MASTER_PORT=3306, MASTER_USER='repl', MASTER_PASSWORD='repl-pw', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1;
START SLAVE;
EOF
chmod 644 "$TMP/replica-initdb/10-replication.sql"
create replica "$MARIADB" -e MARIADB_ROOT_PASSWORD=replica-root-pw
upload replica "$TMP/replica.cnf" /etc/mysql/conf.d/60-replication.cnf
upload replica "$TMP/replica-initdb/10-replication.sql" /docker-entrypoint-initdb.d/10-replication.sql
d start "$(cname replica)" >/dev/null
repl_status() { dexec replica mariadb --protocol=tcp -h127.0.0.1 -uroot -preplica-root-pw -e 'SHOW REPLICA STATUS\G'; }
both_yes() { local s; s="$(repl_status)"; [[ "$s" == *"Slave_IO_Running: Yes"* ]] && [[ "$s" == *"Slave_SQL_Running: Yes"* ]]; }
has_rows() { [ "$(sql replica replica-root-pw -e "SELECT COUNT(*) FROM app.items")" = "$1" ]; }
if wait_for 90 tcp_ping replica replica-root-pw; then
  if wait_for 60 both_yes; then pass "mariadb: SHOW REPLICA STATUS: Slave_IO_Running and Slave_SQL_Running both Yes"; else fail "mariadb: replica threads running" "$(repl_status)"; fi
  if wait_for 60 has_rows 2; then pass "mariadb: the table created by MARIADB_USER on the primary is on the replica"; else fail "mariadb: replicated table" "$(repl_status)"; fi
  check_eq "mariadb: replica got appuser by replication, not repl (unlogged), read_only on" "1 0 1" \
    "$(sql replica replica-root-pw -e "SELECT CONCAT_WS(' ', SUM(user='appuser'), SUM(user='repl'), IF(@@GLOBAL.read_only, 1, 0)) FROM mysql.user")"
  d run --rm --network "$NET" --label "dwi.smoke=$RUN_ID" "$MARIADB" mariadb -hprimary -uappuser -papp-pw app -e "INSERT INTO items VALUES (3, 'three')" >/dev/null 2>&1
  if wait_for 30 has_rows 3; then pass "mariadb: a later insert on the primary replicates"; else fail "mariadb: live replication" "$(repl_status)"; fi
else
  fail "mariadb: replica initialises and answers on TCP 3306" "$(d logs "$(cname replica)" 2>&1)"
fi

# restart of the primary: clean SIGTERM stop, no second initialisation, replica reconnects
t0=$SECONDS
d stop -t 60 "$(cname primary)" >/dev/null
took=$((SECONDS - t0))
check_eq "mariadb: docker stop (SIGTERM) shuts down cleanly (exit code; took ${took}s)" 0 "$(inspect primary '{{.State.ExitCode}}')"
d start "$(cname primary)" >/dev/null
if wait_for 60 tcp_ping primary root-pw; then
  check_eq "mariadb: restart reuses the datadir (initialised once)" 1 "$(d logs "$(cname primary)" 2>&1 | grep -c 'MariaDB init process done')"
  if wait_for 60 both_yes; then pass "mariadb: replica reconnects after the primary restarts"; else fail "mariadb: replica reconnects" "$(repl_status)"; fi
else
  fail "mariadb: primary restarts" "$(d logs --tail 30 "$(cname primary)" 2>&1)"
fi

# ---------------------------------------------------------------------------
section "node ($NODE)"
check_eq "node: CMD [node]" '[node]' "$(image_cfg "$NODE" '{{.Config.Cmd}}')"
check_has "node: node 18 (entrypoint prepends node to options)" "v18." "$(d run --rm --label "dwi.smoke=$RUN_ID" "$NODE" -e 'console.log(process.version)' 2>&1)"
check_has "node: npm on PATH" "." "$(d run --rm --label "dwi.smoke=$RUN_ID" "$NODE" npm --version 2>&1)"
check_eq "node: user node is uid 1000 with home /home/node" "1000 /home/node" "$(d run --rm --label "dwi.smoke=$RUN_ID" "$NODE" bash -c 'echo "$(id -u node) $(getent passwd node | cut -d: -f6)"' 2>&1)"
if [ "${DWI_SMOKE_NPM:-1}" != 0 ]; then
  # the demo app's Dockerfile runs npm in a RUN step: does a build container reach
  # the npm registry? Then use mysql2 against the primary (the demo app's path).
  mkdir -p "$TMP/npm-probe"
  cat >"$TMP/npm-probe/Dockerfile" <<'EOF'
FROM dwi-local/node:18
WORKDIR /app
RUN npm init -y >/dev/null && npm install --no-audit --no-fund mysql2
COPY probe.js .
CMD ["node", "probe.js"]
EOF
  cat >"$TMP/npm-probe/probe.js" <<'EOF'
const mysql = require('mysql2/promise');
(async () => {
  const c = await mysql.createConnection({ host: 'primary', user: 'appuser', password: 'app-pw', database: 'app' });
  const [rows] = await c.query('SELECT COUNT(*) AS n FROM items');
  console.log('items=' + rows[0].n);
  await c.end();
})().catch((e) => { console.error(e); process.exit(1); });
EOF
  if out="$(DOCKER_BUILDKIT=0 timeout 300 "$DOCKER" build --no-cache --force-rm -t "dwi-smoke/npm-probe:$RUN_ID" "$TMP/npm-probe" 2>&1)"; then
    pass "node: npm install (mysql2) works inside a docker build RUN step"
    check_eq "node: mysql2 from a container reaches the mariadb primary" "items=3" \
      "$(d run --rm --network "$NET" --label "dwi.smoke=$RUN_ID" "dwi-smoke/npm-probe:$RUN_ID" 2>&1)"
  else
    fail "node: npm install (mysql2) works inside a docker build RUN step" "$out"
  fi
fi

# ---------------------------------------------------------------------------
section "monitoring ($PROMETHEUS, $MYSQLD_EXPORTER, $NGINX_EXPORTER)"
check_eq "prometheus: ENTRYPOINT, CMD, USER, WORKDIR" \
  '[/bin/prometheus] [--config.file=/etc/prometheus/prometheus.yml --storage.tsdb.path=/prometheus] nobody /prometheus' \
  "$(image_cfg "$PROMETHEUS" '{{.Config.Entrypoint}} {{.Config.Cmd}} {{.Config.User}} {{.Config.WorkingDir}}')"
check_cmd "prometheus: promtool and wget on PATH" d run --rm --label "dwi.smoke=$RUN_ID" --entrypoint sh "$PROMETHEUS" -c 'promtool --version && command -v wget'
if create prom "$PROMETHEUS" && d start "$(cname prom)" >/dev/null; then
  if wait_for 60 dexec prom wget -q -O /dev/null http://127.0.0.1:9090/-/ready; then
    pass "prometheus: ready on :9090 with the image's own config (wget probe)"
  else
    fail "prometheus: ready on :9090 with the image's own config (wget probe)" "$(d logs "$(cname prom)" 2>&1)"
  fi
fi
check_eq "mysqld-exporter: ENTRYPOINT, USER" '[/bin/mysqld_exporter] nobody' "$(image_cfg "$MYSQLD_EXPORTER" '{{.Config.Entrypoint}} {{.Config.User}}')"
# The 0.15+ command line, against the mariadb primary above as its application user.
if create mexp "$MYSQLD_EXPORTER" -e 'MYSQLD_EXPORTER_PASSWORD=app-pw' -- --mysqld.address=primary:3306 --mysqld.username appuser --collect.slave_status \
  && d start "$(cname mexp)" >/dev/null; then
  if wait_for 60 sh -c "timeout 20 $DOCKER exec $(cname mexp) wget -q -O - http://127.0.0.1:9104/metrics | grep -qx 'mysql_up 1'"; then
    pass "mysqld-exporter: --mysqld.address/--mysqld.username + MYSQLD_EXPORTER_PASSWORD log in (mysql_up 1)"
  else
    fail "mysqld-exporter: --mysqld.address/--mysqld.username + MYSQLD_EXPORTER_PASSWORD log in (mysql_up 1)" "$(d logs "$(cname mexp)" 2>&1)"
  fi
  check_eq "mysqld-exporter: the shim passes other flags on and drops the password variable" \
    '/usr/bin/prometheus-mysqld-exporter --collect.slave_status  unset' \
    "$(dexec mexp sh -c 'printf "%s " $(tr "\0" " " </proc/1/cmdline); printf " %s" "$(tr "\0" "\n" </proc/1/environ | grep -c ^MYSQLD_EXPORTER_PASSWORD= | sed "s/^0$/unset/")"')"
fi
check_eq "nginx-exporter: ENTRYPOINT, USER" '[/usr/bin/nginx-prometheus-exporter] 1001:1001' "$(image_cfg "$NGINX_EXPORTER" '{{.Config.Entrypoint}} {{.Config.User}}')"
if create nexp "$NGINX_EXPORTER" -- --nginx.scrape-uri=http://web:8081/nginx_status --web.listen-address=:9113 && d start "$(cname nexp)" >/dev/null; then
  sleep 1
  check_eq "nginx-exporter: 1.x flags reach 0.11 in its single-dash spelling" \
    '/usr/bin/prometheus-nginx-exporter -nginx.scrape-uri=http://web:8081/nginx_status -web.listen-address=:9113' \
    "$(dexec nexp sh -c 'tr "\0" " " </proc/1/cmdline' | sed 's/ $//')"
fi

echo
log "took $((SECONDS - T_START)) s"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
