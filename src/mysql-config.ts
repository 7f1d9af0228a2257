/**
 * Pure renderers for the database nodes: my.cnf, the first-boot init scripts and the
 * health-check script.
 *
 * Nothing rendered here holds a secret. Passwords reach the containers as environment
 * variables (see {@link DB_ENV}), and the scripts read them from there; so the files can be
 * uploaded as plain base64 content and the synthesized JSON holds no password.
 *
 * @see https://dev.mysql.com/doc/refman/8.4/en/replication-gtids-howto.html
 * @see https://mariadb.com/kb/en/gtid/
 */

/** `mysql` (MySQL 8.4 syntax) or `mariadb` (MariaDB ≥ 10.6 syntax). */
export type SqlDialect = 'mysql' | 'mariadb';

/** Names of the environment variables our scripts read. */
export const DB_ENV = {
  sourceHost: 'DWI_SOURCE_HOST',
  sourcePort: 'DWI_SOURCE_PORT',
  replicationUser: 'DWI_REPLICATION_USER',
  replicationPassword: 'DWI_REPLICATION_PASSWORD',
  role: 'DWI_DB_ROLE',
  monitorPassword: 'DWI_MONITOR_PASSWORD',
} as const;

/** Where our files go in the database containers. */
export const DB_PATHS = {
  config: '/etc/mysql/conf.d/zz-cdktf-distributed-web.cnf',
  initScript: '/docker-entrypoint-initdb.d/50-cdktf-distributed-web.sh',
  healthCheck: '/usr/local/bin/dwi-db-healthcheck',
} as const;

export interface MyCnfModel {
  readonly dialect: SqlDialect;
  /** Unique per node: 1 for the primary, 2… for the replicas. */
  readonly serverId: number;
  readonly role: 'primary' | 'replica';
  /** Host name this node reports to its source (`report_host`). */
  readonly reportHost: string;
}

/** Renders the node's my.cnf fragment (loaded from `/etc/mysql/conf.d/`). */
export function renderMyCnf(model: MyCnfModel): string {
  const mysql = model.dialect === 'mysql';
  const lines = [
    '# Rendered by cdktf-distributed-web. Do not edit: changes are overwritten on deploy.',
    '[mysqld]',
    `server_id = ${model.serverId}`,
    `report_host = ${model.reportHost}`,
    'log_bin = mysql-bin',
    'relay_log = relay-bin',
    'skip_name_resolve = ON',
    'character_set_server = utf8mb4',
    ...(mysql
      ? ['gtid_mode = ON', 'enforce_gtid_consistency = ON', 'log_replica_updates = ON']
      : ['binlog_format = ROW', 'log_slave_updates = ON']),
  ];
  if (model.role === 'replica') {
    lines.push(
      '# Reads only: clients without SUPER / READ_ONLY ADMIN cannot write.',
      'read_only = ON',
      // MySQL's super_read_only would also block the image's own init scripts, so the
      // replica's init script persists it for the real server instead (see below).
    );
  }
  return lines.join('\n') + '\n';
}

/** Common head of our shell scripts: strict mode, the client binary, the root password, SQL quoting. */
function prelude(dialect: SqlDialect): string[] {
  return [
    '#!/bin/sh',
    '# Rendered by cdktf-distributed-web. Secrets come from the environment, never from this file.',
    'set -eu',
    'client=$(command -v mariadb || command -v mysql)',
    dialect === 'mysql' ? 'root_password="$MYSQL_ROOT_PASSWORD"' : 'root_password="$MARIADB_ROOT_PASSWORD"',
    // Escapes backslashes and single quotes for a single-quoted SQL string literal.
    String.raw`sql_quote() { printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e "s/'/\\\\'/g"; }`,
  ];
}

/** The user a Prometheus mysqld exporter logs in as, when monitoring is on. */
export const MONITOR_USER = 'exporter';

/**
 * The primary's init script: creates the replication user, unlogged, so it exists on the
 * primary only (replicas neither need it nor receive it). When the environment carries a
 * monitoring password it also creates the exporter's user, logged this time, so that it
 * reaches every replica (their replication status is what the exporter reads).
 */
export function renderPrimaryInitScript(dialect: SqlDialect): string {
  const monitorGrants =
    dialect === 'mysql'
      ? 'PROCESS, REPLICATION CLIENT, SELECT'
      : // MariaDB ≥ 10.5.9 needs SLAVE MONITOR for SHOW REPLICA STATUS.
        'PROCESS, REPLICATION CLIENT, SLAVE MONITOR, SELECT';
  return [
    ...prelude(dialect),
    '# Runs once, on an empty data directory, against the image\'s temporary init server.',
    `user=$(sql_quote "$${DB_ENV.replicationUser}")`,
    `password=$(sql_quote "$${DB_ENV.replicationPassword}")`,
    'MYSQL_PWD="$root_password" "$client" --protocol=socket -uroot <<SQL',
    'SET SESSION sql_log_bin = 0;',
    "CREATE USER IF NOT EXISTS '$user'@'%' IDENTIFIED BY '$password';",
    dialect === 'mysql'
      ? "GRANT REPLICATION SLAVE ON *.* TO '$user'@'%';"
      : "GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO '$user'@'%';",
    'SQL',
    `monitor_password=$(printenv ${DB_ENV.monitorPassword} || true)`,
    'if [ -n "$monitor_password" ]; then',
    '  monitor_password=$(sql_quote "$monitor_password")',
    '  MYSQL_PWD="$root_password" "$client" --protocol=socket -uroot <<SQL',
    `CREATE USER IF NOT EXISTS '${MONITOR_USER}'@'%' IDENTIFIED BY '$monitor_password' WITH MAX_USER_CONNECTIONS 3;`,
    `GRANT ${monitorGrants} ON *.* TO '${MONITOR_USER}'@'%';`,
    'SQL',
    'fi',
    '',
  ].join('\n');
}

/**
 * The replica's init script: points the node at its source with GTID auto-positioning and
 * starts replication. Everything the primary created at its own init (the application
 * database and user) then arrives through replication.
 */
export function renderReplicaInitScript(dialect: SqlDialect): string {
  const change =
    dialect === 'mysql'
      ? [
          "CHANGE REPLICATION SOURCE TO SOURCE_HOST='$host', SOURCE_PORT=$port,",
          "  SOURCE_USER='$user', SOURCE_PASSWORD='$password',",
          '  SOURCE_AUTO_POSITION=1, GET_SOURCE_PUBLIC_KEY=1,',
          '  SOURCE_CONNECT_RETRY=5;',
          'START REPLICA;',
          '-- Applied at the next start, i.e. by the real server once init is over.',
          'SET PERSIST_ONLY super_read_only = ON;',
        ]
      : [
          "CHANGE MASTER TO MASTER_HOST='$host', MASTER_PORT=$port,",
          "  MASTER_USER='$user', MASTER_PASSWORD='$password',",
          '  MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=5;',
          'START SLAVE;',
        ];
  return [
    ...prelude(dialect),
    '# Runs once, on an empty data directory, against the image\'s temporary init server.',
    `host=$(sql_quote "$${DB_ENV.sourceHost}")`,
    `port=$(printf "%d" "$${DB_ENV.sourcePort}")`,
    `user=$(sql_quote "$${DB_ENV.replicationUser}")`,
    `password=$(sql_quote "$${DB_ENV.replicationPassword}")`,
    'MYSQL_PWD="$root_password" "$client" --protocol=socket -uroot <<SQL',
    ...change,
    'SQL',
    '',
  ].join('\n');
}

/**
 * The container health check. It connects over TCP on purpose: the image's temporary
 * init server has networking off, so a socket ping would pass before init is done. A
 * replica is healthy only while both replication threads run.
 */
export function renderHealthCheckScript(dialect: SqlDialect, role: 'primary' | 'replica'): string {
  const lines = [
    ...prelude(dialect).slice(0, -1),
    'export MYSQL_PWD="$root_password"',
    '"$client" --protocol=tcp -h 127.0.0.1 -P 3306 -uroot -N -e "SELECT 1" >/dev/null',
  ];
  if (role === 'replica') {
    const status = dialect === 'mysql' ? 'SHOW REPLICA STATUS\\G' : 'SHOW SLAVE STATUS\\G';
    lines.push(
      `status=$("$client" --protocol=tcp -h 127.0.0.1 -P 3306 -uroot -e "${status}")`,
      'printf "%s\\n" "$status" | grep -Eq "^ *(Replica|Slave)_IO_Running: Yes$"',
      'printf "%s\\n" "$status" | grep -Eq "^ *(Replica|Slave)_SQL_Running: Yes$"',
    );
  }
  return lines.join('\n') + '\n';
}
