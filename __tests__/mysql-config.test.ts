import { describe, expect, it } from 'vitest';
import {
  DB_ENV,
  SqlDialect,
  renderHealthCheckScript,
  renderMyCnf,
  renderPrimaryInitScript,
  renderReplicaInitScript,
} from '../src/mysql-config';
import { explain, runOnTempFile } from './support/binaries';
import { ScriptRun, runDbScript } from './support/fake-db-client';

const DIALECTS: SqlDialect[] = ['mysql', 'mariadb'];
const SHELLS = ['sh', 'bash'] as const;

/** Every script the renderers produce, by name. */
const SCRIPTS: [string, string][] = DIALECTS.flatMap((d): [string, string][] => [
  [`${d} primary init`, renderPrimaryInitScript(d)],
  [`${d} replica init`, renderReplicaInitScript(d)],
  [`${d} primary health check`, renderHealthCheckScript(d, 'primary')],
  [`${d} replica health check`, renderHealthCheckScript(d, 'replica')],
]);

/** A password that breaks naive quoting in SQL and in the shell. */
const NASTY = `it's a \\ "test" $HOME`;
/** The same, as the body of a single-quoted SQL literal. */
const NASTY_SQL = `it\\'s a \\\\ "test" $HOME`;
const ROOT_PASSWORD = `r00t's $PATH \\ pw`;

function rootEnv(dialect: SqlDialect): Record<string, string> {
  return { [dialect === 'mysql' ? 'MYSQL_ROOT_PASSWORD' : 'MARIADB_ROOT_PASSWORD']: ROOT_PASSWORD };
}

/** The environment DatabaseCluster gives a node, plus a HOME that must never be expanded. */
function nodeEnv(dialect: SqlDialect, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    HOME: '/home/expanded-by-mistake',
    ...rootEnv(dialect),
    [DB_ENV.sourceHost]: 'site-db-primary',
    [DB_ENV.sourcePort]: '3306',
    [DB_ENV.replicationUser]: 'replicator',
    [DB_ENV.replicationPassword]: NASTY,
    ...overrides,
  };
}

const clientName = (d: SqlDialect) => (d === 'mysql' ? 'mysql' : 'mariadb');

function onlyCall(result: ScriptRun) {
  expect(result.code, explain(result)).toBe(0);
  expect(result.calls).toHaveLength(1);
  return result.calls[0];
}

describe('renderMyCnf', () => {
  it('renders the complete fragment of a MySQL primary', () => {
    // GIVEN / WHEN
    const cnf = renderMyCnf({ dialect: 'mysql', serverId: 1, role: 'primary', reportHost: 'site-db-primary' });
    // THEN
    expect(cnf).toBe(`# Rendered by cdktf-distributed-web. Do not edit: changes are overwritten on deploy.
[mysqld]
server_id = 1
report_host = site-db-primary
log_bin = mysql-bin
relay_log = relay-bin
skip_name_resolve = ON
character_set_server = utf8mb4
gtid_mode = ON
enforce_gtid_consistency = ON
log_replica_updates = ON
`);
  });

  it.each(['primary', 'replica'] as const)('enables GTIDs the MySQL way for a %s', (role) => {
    const cnf = renderMyCnf({ dialect: 'mysql', serverId: 2, role, reportHost: 'x' }).split('\n');
    expect(cnf).toEqual(expect.arrayContaining(['gtid_mode = ON', 'enforce_gtid_consistency = ON', 'log_replica_updates = ON']));
    expect(cnf.join('\n')).not.toMatch(/binlog_format|log_slave_updates/);
  });

  it.each(['primary', 'replica'] as const)('logs row events with replica updates the MariaDB way for a %s', (role) => {
    const cnf = renderMyCnf({ dialect: 'mariadb', serverId: 2, role, reportHost: 'x' }).split('\n');
    expect(cnf).toEqual(expect.arrayContaining(['binlog_format = ROW', 'log_slave_updates = ON', 'log_bin = mysql-bin']));
    // MariaDB has GTIDs always on; MySQL's variables would stop it from starting
    expect(cnf.join('\n')).not.toMatch(/gtid_mode|enforce_gtid_consistency|log_replica_updates/);
  });

  it.each(DIALECTS)('makes a %s replica read-only, but not super-read-only (it would block the init scripts)', (dialect) => {
    // GIVEN / WHEN
    const replica = renderMyCnf({ dialect, serverId: 3, role: 'replica', reportHost: 'site-db-replica-2' });
    const primary = renderMyCnf({ dialect, serverId: 1, role: 'primary', reportHost: 'site-db-primary' });
    // THEN
    expect(replica).toContain('\nread_only = ON\n');
    expect(replica).not.toMatch(/^super_read_only/m);
    expect(primary).not.toMatch(/read_only/);
  });

  it('carries the server id and report host of the node', () => {
    const cnf = renderMyCnf({ dialect: 'mariadb', serverId: 17, role: 'replica', reportHost: 'shop-db-replica-16' });
    expect(cnf).toMatch(/^server_id = 17$/m);
    expect(cnf).toMatch(/^report_host = shop-db-replica-16$/m);
    expect(cnf.split('\n')[1]).toBe('[mysqld]');
  });
});

describe('init and health-check scripts', () => {
  it.each(SCRIPTS)('the %s script holds no secret and no Terraform template syntax', (_name, script) => {
    expect(script).not.toMatch(/\$\{|%\{/);
    // Every password is a shell variable filled from the environment, never a literal
    for (const m of script.matchAll(/(?:IDENTIFIED BY|PASSWORD=)\s*'([^']*)'/g)) expect(m[1]).toMatch(/^\$(password|monitor_password)$/);
    expect(script.startsWith('#!/bin/sh\n')).toBe(true);
    expect(script).toMatch(/^set -eu$/m);
  });

  describe('MySQL 8.4 syntax', () => {
    it('points a replica at its source with GTID auto-positioning and the source public key', () => {
      // GIVEN / WHEN
      const script = renderReplicaInitScript('mysql');
      // THEN
      expect(script).toContain("CHANGE REPLICATION SOURCE TO SOURCE_HOST='$host', SOURCE_PORT=$port,");
      expect(script).toContain('SOURCE_AUTO_POSITION=1, GET_SOURCE_PUBLIC_KEY=1,');
      expect(script).toContain('\nSTART REPLICA;\n');
      expect(script).toContain('\nSET PERSIST_ONLY super_read_only = ON;\n');
      expect(script).not.toMatch(/MASTER|SLAVE/);
    });

    it('asks a MySQL replica for SHOW REPLICA STATUS', () => {
      expect(renderHealthCheckScript('mysql', 'replica')).toContain('SHOW REPLICA STATUS\\G');
    });
  });

  describe('MariaDB syntax', () => {
    it('points a replica at its master with slave_pos GTIDs', () => {
      // GIVEN / WHEN
      const script = renderReplicaInitScript('mariadb');
      // THEN
      expect(script).toContain("CHANGE MASTER TO MASTER_HOST='$host', MASTER_PORT=$port,");
      expect(script).toContain('MASTER_USE_GTID=slave_pos');
      expect(script).toContain('\nSTART SLAVE;\n');
      expect(script).not.toMatch(/REPLICATION SOURCE|START REPLICA|PERSIST/);
    });

    it('asks a MariaDB replica for SHOW SLAVE STATUS', () => {
      expect(renderHealthCheckScript('mariadb', 'replica')).toContain('SHOW SLAVE STATUS\\G');
    });
  });

  it.each(DIALECTS)('creates the %s replication user without writing it to the binary log', (dialect) => {
    const script = renderPrimaryInitScript(dialect);
    const setLogBin = script.indexOf('SET SESSION sql_log_bin = 0;');
    expect(setLogBin).toBeGreaterThan(0);
    expect(setLogBin).toBeLessThan(script.indexOf('CREATE USER'));
  });

  it.each(SCRIPTS)('the %s script passes sh -n', async (_name, script) => {
    for (const shell of SHELLS) {
      const result = await runOnTempFile(shell, 'script.sh', script, (file) => ['-n', file]);
      expect(result.code, `${shell}: ${explain(result)}`).toBe(0);
    }
  });

  it('fails sh -n when a script is broken, so the syntax check can fail', async () => {
    // GIVEN an `if` without its `fi`
    const broken = renderPrimaryInitScript('mysql').replace('set -eu', 'set -eu\nif true; then');
    // WHEN
    const result = await runOnTempFile('sh', 'script.sh', broken, (file) => ['-n', file]);
    // THEN
    expect(result.code).not.toBe(0);
  });
});

describe('running the init scripts against a fake client', () => {
  describe.each(SHELLS)('with %s', (shell) => {
    it('the MySQL primary creates the replication user, escaped, over the socket', async () => {
      // GIVEN / WHEN
      const result = await runDbScript(renderPrimaryInitScript('mysql'), { clientName: 'mysql', env: nodeEnv('mysql'), shell });
      // THEN
      const call = onlyCall(result);
      expect(call.stdin).toBe(
        'SET SESSION sql_log_bin = 0;\n' +
          `CREATE USER IF NOT EXISTS 'replicator'@'%' IDENTIFIED BY '${NASTY_SQL}';\n` +
          "GRANT REPLICATION SLAVE ON *.* TO 'replicator'@'%';\n",
      );
      expect(call.argv).toEqual(['--protocol=socket', '-uroot']);
      expect(call.mysqlPwd).toBe(ROOT_PASSWORD);
    });

    it('the MariaDB primary creates the replication user, escaped, with REPLICATION CLIENT', async () => {
      const result = await runDbScript(renderPrimaryInitScript('mariadb'), { clientName: 'mariadb', env: nodeEnv('mariadb'), shell });
      const call = onlyCall(result);
      expect(call.stdin).toBe(
        'SET SESSION sql_log_bin = 0;\n' +
          `CREATE USER IF NOT EXISTS 'replicator'@'%' IDENTIFIED BY '${NASTY_SQL}';\n` +
          "GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'replicator'@'%';\n",
      );
      expect(call.mysqlPwd).toBe(ROOT_PASSWORD);
    });

    it('the MySQL replica starts replication from its source', async () => {
      // GIVEN a source on a non-default port
      const env = nodeEnv('mysql', { [DB_ENV.sourceHost]: 'shop-db-primary', [DB_ENV.sourcePort]: '3307' });
      // WHEN
      const result = await runDbScript(renderReplicaInitScript('mysql'), { clientName: 'mysql', env, shell });
      // THEN
      const call = onlyCall(result);
      expect(call.stdin).toBe(
        "CHANGE REPLICATION SOURCE TO SOURCE_HOST='shop-db-primary', SOURCE_PORT=3307,\n" +
          `  SOURCE_USER='replicator', SOURCE_PASSWORD='${NASTY_SQL}',\n` +
          '  SOURCE_AUTO_POSITION=1, GET_SOURCE_PUBLIC_KEY=1,\n' +
          '  SOURCE_CONNECT_RETRY=5;\n' +
          'START REPLICA;\n' +
          '-- Applied at the next start, i.e. by the real server once init is over.\n' +
          'SET PERSIST_ONLY super_read_only = ON;\n',
      );
      expect(call.argv).toEqual(['--protocol=socket', '-uroot']);
      expect(call.mysqlPwd).toBe(ROOT_PASSWORD);
    });

    it('the MariaDB replica starts replication from its master', async () => {
      const env = nodeEnv('mariadb', { [DB_ENV.sourceHost]: 'shop-db-primary', [DB_ENV.sourcePort]: '3307' });
      const result = await runDbScript(renderReplicaInitScript('mariadb'), { clientName: 'mariadb', env, shell });
      const call = onlyCall(result);
      expect(call.stdin).toBe(
        "CHANGE MASTER TO MASTER_HOST='shop-db-primary', MASTER_PORT=3307,\n" +
          `  MASTER_USER='replicator', MASTER_PASSWORD='${NASTY_SQL}',\n` +
          '  MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=5;\n' +
          'START SLAVE;\n',
      );
      expect(call.mysqlPwd).toBe(ROOT_PASSWORD);
    });
  });

  it('escapes the replication user name too', async () => {
    const env = nodeEnv('mysql', { [DB_ENV.replicationUser]: "o'neil" });
    const call = onlyCall(await runDbScript(renderPrimaryInitScript('mysql'), { clientName: 'mysql', env }));
    expect(call.stdin).toContain("GRANT REPLICATION SLAVE ON *.* TO 'o\\'neil'@'%';");
  });

  it('fails when the source port is not a number, before calling the client', async () => {
    const env = nodeEnv('mysql', { [DB_ENV.sourcePort]: "3306; DROP USER 'x'" });
    const result = await runDbScript(renderReplicaInitScript('mysql'), { clientName: 'mysql', env });
    expect(result.code).not.toBe(0);
    expect(result.calls).toEqual([]);
  });

  it.each(DIALECTS)('fails when the %s root password variable is missing, before calling the client', async (dialect) => {
    const env = nodeEnv(dialect);
    delete env[dialect === 'mysql' ? 'MYSQL_ROOT_PASSWORD' : 'MARIADB_ROOT_PASSWORD'];
    const result = await runDbScript(renderPrimaryInitScript(dialect), { clientName: clientName(dialect), env });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/ROOT_PASSWORD/);
    expect(result.calls).toEqual([]);
  });

  it('fails when the client fails', async () => {
    const result = await runDbScript(renderPrimaryInitScript('mariadb'), { clientName: 'mariadb', env: nodeEnv('mariadb'), clientExitCode: 1 });
    expect(result.code).not.toBe(0);
  });
});

describe('running the health-check script against a fake client', () => {
  /** `SHOW REPLICA STATUS\G`-like output, right-aligned like the real client's. */
  function status(prefix: 'Replica' | 'Slave', io: string, sql: string): string {
    return [
      '*************************** 1. row ***************************',
      `             ${prefix}_IO_State: Waiting for source to send event`,
      '                  Source_Host: site-db-primary',
      `           ${prefix}_IO_Running: ${io}`,
      `          ${prefix}_SQL_Running: ${sql}`,
      '                   Last_Error: ',
      `    ${prefix}_SQL_Running_State: Replica has read all relay log; waiting for more updates`,
      '',
    ].join('\n');
  }

  it.each(DIALECTS)('checks a %s primary with a query over TCP to 127.0.0.1', async (dialect) => {
    // GIVEN / WHEN
    const result = await runDbScript(renderHealthCheckScript(dialect, 'primary'), { clientName: clientName(dialect), env: rootEnv(dialect) });
    // THEN
    const call = onlyCall(result);
    expect(call.argv).toEqual(['--protocol=tcp', '-h', '127.0.0.1', '-P', '3306', '-uroot', '-N', '-e', 'SELECT 1']);
    expect(call.mysqlPwd).toBe(ROOT_PASSWORD);
  });

  it('fails when the server does not answer over TCP', async () => {
    const result = await runDbScript(renderHealthCheckScript('mysql', 'primary'), { clientName: 'mysql', env: rootEnv('mysql'), clientExitCode: 1 });
    expect(result.code).not.toBe(0);
  });

  const healthy: [SqlDialect, 'Replica' | 'Slave'][] = [
    ['mysql', 'Replica'],
    ['mysql', 'Slave'],
    ['mariadb', 'Slave'],
    ['mariadb', 'Replica'],
  ];

  it.each(healthy)('passes for a %s replica whose %s IO and SQL threads both run', async (dialect, prefix) => {
    // GIVEN / WHEN
    const result = await runDbScript(renderHealthCheckScript(dialect, 'replica'), {
      clientName: clientName(dialect),
      env: rootEnv(dialect),
      replicaStatus: status(prefix, 'Yes', 'Yes'),
    });
    // THEN
    expect(result.code, explain(result)).toBe(0);
    expect(result.calls.map((c) => c.argv.slice(0, 3))).toEqual([
      ['--protocol=tcp', '-h', '127.0.0.1'],
      ['--protocol=tcp', '-h', '127.0.0.1'],
    ]);
    expect(result.calls[1].argv.at(-1)).toBe(dialect === 'mysql' ? 'SHOW REPLICA STATUS\\G' : 'SHOW SLAVE STATUS\\G');
    expect(result.calls.every((c) => c.mysqlPwd === ROOT_PASSWORD && !c.argv.some((a) => a.includes(ROOT_PASSWORD)))).toBe(true);
  });

  const unhealthy: [string, string, string][] = [
    ['the IO thread is connecting', 'Connecting', 'Yes'],
    ['the IO thread stopped', 'No', 'Yes'],
    ['the SQL thread stopped', 'Yes', 'No'],
    ['both threads stopped', 'No', 'No'],
  ];

  describe.each(DIALECTS)('a %s replica', (dialect) => {
    it.each(unhealthy)('fails when %s', async (_name, io, sql) => {
      const result = await runDbScript(renderHealthCheckScript(dialect, 'replica'), {
        clientName: clientName(dialect),
        env: rootEnv(dialect),
        replicaStatus: status(dialect === 'mysql' ? 'Replica' : 'Slave', io, sql),
      });
      expect(result.code, explain(result)).not.toBe(0);
    });

    it('fails when the node is not a replica at all (empty status)', async () => {
      const result = await runDbScript(renderHealthCheckScript(dialect, 'replica'), {
        clientName: clientName(dialect),
        env: rootEnv(dialect),
        replicaStatus: '',
      });
      expect(result.code, explain(result)).not.toBe(0);
    });
  });
});
