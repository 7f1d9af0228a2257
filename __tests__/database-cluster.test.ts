import { Network } from '@cdktf/provider-docker/lib/network';
import { TerraformStack, TerraformVariable } from 'cdktf';
import { describe, expect, it } from 'vitest';
import { DB_PATHS, DatabaseCluster, DatabaseClusterProps, DatabaseEngine, DataRetention } from '../src';
import { labels, newStack, synth, uploaded } from './support/synth';

const PASSWORDS = { password: 'app-pw', rootPassword: 'root-pw', replicationPassword: 'repl-pw' };

function cluster(stack: TerraformStack, props: Partial<DatabaseClusterProps> = {}): DatabaseCluster {
  const network = new Network(stack, 'back', { name: 'site-back', internal: true });
  return new DatabaseCluster(stack, 'db', { namePrefix: 'site', network, ...PASSWORDS, ...props });
}

function env(container: any): Record<string, string> {
  return Object.fromEntries(container.env.map((e: string) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
}

describe('DatabaseCluster', () => {
  it('runs a MySQL 8.4 primary and one replica by default, on the given network, nothing published', () => {
    const stack = newStack();
    const db = cluster(stack);
    const out = synth(stack);
    const containers = out.resources('docker_container');
    expect(containers.map((c) => c.name).sort()).toEqual(['site-db-primary', 'site-db-read', 'site-db-replica-1']);
    for (const c of containers) {
      expect(c.ports).toBeUndefined();
      expect(c.networks_advanced).toEqual([{ name: '${docker_network.back.id}' }]);
      expect(c).toMatchObject({ wait: true, security_opts: ['no-new-privileges:true'] });
    }
    expect(out.named('docker_container', 'site-db-primary')).toMatchObject({ wait_timeout: 300, destroy_grace_seconds: 60 });
    expect(out.resources('docker_image').map((i) => i.name).sort()).toEqual(['haproxy:3.0.5', 'mysql:8.4.3']);
    expect(db.primaryHost).toBe('site-db-primary');
    expect(db.replicaHosts).toEqual(['site-db-replica-1']);
    expect(db.readHost).toBe('site-db-read');
  });

  it('balances reads over the replicas with the primary as backup, through an HAProxy TCP listener', () => {
    const stack = newStack();
    const db = cluster(stack, { replicas: 2, readBalancerImage: 'local/haproxy:2.6' });
    const out = synth(stack);
    const lb = out.named('docker_container', 'site-db-read');
    const cfg = uploaded(lb, '/usr/local/etc/haproxy/haproxy.cfg');
    expect(cfg).toContain('mode tcp');
    expect(cfg).toContain('bind :3306');
    expect(cfg).toContain('server replica-1 site-db-replica-1:3306\n');
    expect(cfg).toContain('server replica-2 site-db-replica-2:3306\n');
    expect(cfg).toContain('server primary site-db-primary:3306 backup');
    expect(cfg).toContain('on-marked-down shutdown-sessions on-marked-up shutdown-backup-sessions');
    expect(lb.networks_advanced).toEqual([{ name: '${docker_network.back.id}' }]);
    expect(lb.ports).toBeUndefined();
    // It starts beside the nodes: applications that wait for it need not wait for replicas.
    expect(lb.depends_on).toBeUndefined();
    expect(lb.capabilities).toEqual({ drop: ['ALL'] });
    expect(db.readHost).toBe('site-db-read');
    expect(db.endpointDependencies).toContain(db.readBalancer);
  });

  it('reads from the primary directly when the read balancer is off', () => {
    const stack = newStack();
    const db = cluster(stack, { readBalancer: false });
    expect(synth(stack).resources('docker_container').map((c) => c.name)).not.toContain('site-db-read');
    expect(db.readHost).toBe('site-db-primary');
  });

  it('creates the application database and user on the primary only', () => {
    const stack = newStack();
    cluster(stack);
    const out = synth(stack);
    expect(env(out.named('docker_container', 'site-db-primary'))).toMatchObject({
      MYSQL_ROOT_PASSWORD: 'root-pw',
      MYSQL_DATABASE: 'app',
      MYSQL_USER: 'app',
      MYSQL_PASSWORD: 'app-pw',
    });
    const replicaEnv = env(out.named('docker_container', 'site-db-replica-1'));
    expect(replicaEnv).toMatchObject({ MYSQL_ROOT_PASSWORD: 'root-pw', DWI_SOURCE_HOST: 'site-db-primary', DWI_SOURCE_PORT: '3306' });
    expect(Object.keys(replicaEnv)).not.toContain('MYSQL_DATABASE');
    expect(Object.keys(replicaEnv)).not.toContain('MYSQL_USER');
    expect(Object.keys(replicaEnv)).not.toContain('MYSQL_PASSWORD');
  });

  it('gives every node a deterministic server id, and the replicas read_only', () => {
    const stack = newStack();
    cluster(stack, { replicas: 3 });
    const out = synth(stack);
    const cnf = (name: string) => uploaded(out.named('docker_container', name), DB_PATHS.config);
    expect(cnf('site-db-primary')).toContain('server_id = 1\n');
    expect(cnf('site-db-primary')).not.toContain('read_only');
    for (const i of [1, 2, 3]) {
      expect(cnf(`site-db-replica-${i}`)).toContain(`server_id = ${i + 1}\n`);
      expect(cnf(`site-db-replica-${i}`)).toContain('read_only = ON');
    }
  });

  it('uploads the init script for the role and a TCP health check that needs both replication threads on replicas', () => {
    const stack = newStack();
    cluster(stack);
    const out = synth(stack);
    const primary = out.named('docker_container', 'site-db-primary');
    const replica = out.named('docker_container', 'site-db-replica-1');
    expect(uploaded(primary, DB_PATHS.initScript)).toContain('sql_log_bin = 0');
    expect(uploaded(replica, DB_PATHS.initScript)).toContain('CHANGE REPLICATION SOURCE TO');
    expect(uploaded(replica, DB_PATHS.healthCheck)).toContain('_SQL_Running: Yes');
    expect(uploaded(primary, DB_PATHS.healthCheck)).not.toContain('Running');
    expect(primary.upload.find((u: any) => u.file === DB_PATHS.initScript).permissions).toBe('0755');
    expect(replica.healthcheck).toMatchObject({ test: ['CMD', DB_PATHS.healthCheck], interval: '2s', start_period: '30s', retries: 5 });
    expect(replica.depends_on).toEqual([expect.stringMatching(/^docker_container\.db_primary_[0-9A-F]+$/)]);
    expect(labels(replica)['io.cdktf-distributed-web.role']).toBe('database-replica');
  });

  it('uses MariaDB names and syntax for the MARIADB engine', () => {
    const stack = newStack();
    cluster(stack, { engine: DatabaseEngine.MARIADB, databaseName: 'shop', username: 'shopper' });
    const out = synth(stack);
    expect(out.resources('docker_image').map((i) => i.name)).toContain('mariadb:11.4.4');
    const primary = out.named('docker_container', 'site-db-primary');
    expect(env(primary)).toMatchObject({ MARIADB_ROOT_PASSWORD: 'root-pw', MARIADB_DATABASE: 'shop', MARIADB_USER: 'shopper' });
    expect(uploaded(out.named('docker_container', 'site-db-replica-1'), DB_PATHS.initScript)).toContain('MASTER_USE_GTID=slave_pos');
  });

  it('keeps data on named volumes that outlive the stack by default (RETAIN)', () => {
    const stack = newStack();
    const db = cluster(stack);
    const out = synth(stack);
    expect(out.resources('docker_volume')).toEqual([]);
    expect(out.named('docker_container', 'site-db-primary').volumes).toEqual([
      { volume_name: 'site-db-primary-data', container_path: '/var/lib/mysql' },
    ]);
    expect(db.volumeNames).toEqual(['site-db-primary-data', 'site-db-replica-1-data']);
    expect(out.named('docker_container', 'site-db-read').volumes).toBeUndefined();
  });

  it('manages the volumes as resources with DataRetention.DESTROY', () => {
    const stack = newStack();
    cluster(stack, { dataRetention: DataRetention.DESTROY });
    const out = synth(stack);
    expect(out.resources('docker_volume').map((v) => v.name)).toEqual(['site-db-primary-data', 'site-db-replica-1-data']);
    expect(out.named('docker_container', 'site-db-primary').volumes[0].volume_name).toMatch(/^\$\{docker_volume\..*\.name\}$/);
  });

  it('creates the exporter user on the primary only when a monitoring password is given', () => {
    const stack = newStack();
    const db = cluster(stack, { monitoringPassword: 'mon-pw' });
    const out = synth(stack);
    expect(env(out.named('docker_container', 'site-db-primary')).DWI_MONITOR_PASSWORD).toBe('mon-pw');
    expect(Object.keys(env(out.named('docker_container', 'site-db-replica-1')))).not.toContain('DWI_MONITOR_PASSWORD');
    expect(uploaded(out.named('docker_container', 'site-db-primary'), DB_PATHS.initScript)).toContain("CREATE USER IF NOT EXISTS 'exporter'");
    expect(db.monitoringEnabled).toBe(true);
    expect(Object.keys(env(synth((() => { const s = newStack(); cluster(s); return s; })()).named('docker_container', 'site-db-primary')))).not.toContain('DWI_MONITOR_PASSWORD');
  });

  it('runs a lone primary with 0 replicas, reads then go to the primary', () => {
    const stack = newStack();
    const db = cluster(stack, { replicas: 0 });
    expect(synth(stack).resources('docker_container')).toHaveLength(1);
    expect(db.readHost).toBe('site-db-primary');
  });

  it('passes passwords from variables as references: the JSON holds none', () => {
    const stack = newStack();
    const secret = (name: string) => new TerraformVariable(stack, name, { type: 'string', sensitive: true }).stringValue;
    cluster(stack, { password: secret('pw'), rootPassword: secret('root'), replicationPassword: secret('repl') });
    const out = synth(stack);
    expect(env(out.named('docker_container', 'site-db-primary'))).toMatchObject({
      MYSQL_ROOT_PASSWORD: '${var.root}',
      MYSQL_PASSWORD: '${var.pw}',
      DWI_REPLICATION_PASSWORD: '${var.repl}',
    });
    expect(out.json.variable.pw.sensitive).toBe(true);
  });

  describe('validation', () => {
    const cases: [string, Partial<DatabaseClusterProps>, RegExp][] = [
      ['replicas is negative', { replicas: -1 }, /test\/db: 'replicas' must be an integer from 0 to 16, got -1/],
      ['replicas is absurd', { replicas: 1000 }, /'replicas' must be an integer from 0 to 16, got 1000/],
      ['the engine is unknown', { engine: 'postgres' as DatabaseEngine }, /'engine' must be one of MYSQL \("mysql"\), MARIADB \("mariadb"\), got "postgres"/],
      ['dataRetention is unknown', { dataRetention: 'keep' as DataRetention }, /'dataRetention' must be one of RETAIN.*got "keep"/],
      ['the database name is empty', { databaseName: '' }, /'databaseName' must be 1 to 64 letters, digits or underscores, got ""/],
      ['the database name has a quote', { databaseName: "app'; DROP" }, /'databaseName'.*got "app'; DROP"/],
      ['the username is root', { username: 'root' }, /'username' must not be "root"/],
      ['the username is too long', { username: 'u'.repeat(33) }, /'username' must be 1 to 32 letters/],
      ['both users have the same name', { username: 'repl', replicationUsername: 'repl' }, /'replicationUsername' must differ from 'username'/],
      ['the password is empty', { password: '' }, /'password' must be a non-empty string, got ""/],
      ['the root password is missing', { rootPassword: undefined as unknown as string }, /'rootPassword' must be a non-empty string, got undefined/],
      ['the replication password is empty', { replicationPassword: '' }, /'replicationPassword' must be a non-empty string/],
      ['the image is malformed', { image: 'mysql:8.4 ' }, /'image' must be a Docker image reference/],
      ['the name prefix is upper-case', { namePrefix: 'Site' }, /'namePrefix' must be a lower-case DNS label.*got "Site"/],
      ['the startup timeout is 0', { startupTimeoutSeconds: 0 }, /'startupTimeoutSeconds' must be an integer from 10 to 3600, got 0/],
      ['the health-check interval is 0', { healthCheck: { intervalSeconds: 0 } }, /'healthCheck.intervalSeconds'.*got 0/],
      ['a read balancer is asked for without replicas', { replicas: 0, readBalancer: true }, /'readBalancer' needs at least one replica, got replicas 0/],
      ['the read balancer image is malformed', { readBalancerImage: 'HAProxy' }, /'readBalancerImage' must be a Docker image reference/],
    ];
    it.each(cases)('fails when %s', (_name, props, message) => {
      expect(() => cluster(newStack(), props)).toThrow(message);
    });
  });
});
