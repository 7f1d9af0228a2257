import { Container } from '@cdktf/provider-docker/lib/container';
import { Network } from '@cdktf/provider-docker/lib/network';
import { Volume } from '@cdktf/provider-docker/lib/volume';
import { ITerraformDependable } from 'cdktf';
import { Construct } from 'constructs';
import { LABELS, containerBasics, fileUpload, imageFor } from './docker-support';
import { HAPROXY_MONITOR_PORT } from './load-balancer';
import { renderDatabaseReadConfig } from './haproxy-config';
import { ContainerHealthCheckOptions, bashHttpProbe, resolveHealthCheck } from './health-check';
import {
  DB_ENV,
  DB_PATHS,
  SqlDialect,
  renderHealthCheckScript,
  renderMyCnf,
  renderPrimaryInitScript,
  renderReplicaInitScript,
} from './mysql-config';
import {
  DNS_LABEL,
  DNS_LABEL_TEXT,
  IMAGE_REFERENCE,
  IMAGE_REFERENCE_TEXT,
  ValidationError,
  checkEnum,
  checkInteger,
  checkNonEmpty,
  checkPattern,
} from './validation';

/** The database server software. */
export enum DatabaseEngine {
  /** MySQL 8.4 LTS (`CHANGE REPLICATION SOURCE TO`, `START REPLICA`). */
  MYSQL = 'mysql',
  /** MariaDB ≥ 10.6 (`CHANGE MASTER TO … MASTER_USE_GTID=slave_pos`). */
  MARIADB = 'mariadb',
}

/** What happens to the database's data volumes when the stack is destroyed. */
export enum DataRetention {
  /** The named volumes are not managed by Terraform: they outlive `cdktf destroy`, and a new deploy with the same names reuses them. */
  RETAIN = 'retain',
  /** The volumes are Terraform resources and are deleted with the stack. */
  DESTROY = 'destroy',
}

/** How an application reaches the database. */
export interface IDatabaseEndpoint {
  /** Host for writes. */
  readonly primaryHost: string;
  /** Host for reads. */
  readonly readHost: string;
  /** Every replica's host. */
  readonly replicaHosts: string[];
  readonly port: number;
  readonly databaseName: string;
  readonly username: string;
  readonly password: string;
  /** Resources an application should wait for. */
  readonly endpointDependencies: ITerraformDependable[];
}

/** Options of the database tier that do not depend on the rest of the stack. */
export interface DatabaseOptions {
  /** @default DatabaseEngine.MYSQL */
  readonly engine?: DatabaseEngine;
  /**
   * Read replicas behind the primary.
   * @default 1
   */
  readonly replicas?: number;
  /**
   * Database created on the primary at first boot (reaches the replicas by replication).
   * @default 'app'
   */
  readonly databaseName?: string;
  /**
   * Application user, with all privileges on `databaseName`.
   * @default 'app'
   */
  readonly username?: string;
  /** The application user's password. Accepts a token, e.g. a sensitive TerraformVariable. */
  readonly password: string;
  /** The root password of every node. Accepts a token. */
  readonly rootPassword: string;
  /** The replication user's password. Accepts a token. */
  readonly replicationPassword: string;
  /**
   * The replication user, created on the primary only.
   * @default 'replicator'
   */
  readonly replicationUsername?: string;
  /**
   * Image of every node. It must honour the official image's contract (`*_ROOT_PASSWORD`,
   * `/docker-entrypoint-initdb.d`, `/etc/mysql/conf.d`).
   * @default - 'mysql:8.4.3' for MYSQL, 'mariadb:11.4.4' for MARIADB
   */
  readonly image?: string;
  /** @default DataRetention.RETAIN */
  readonly dataRetention?: DataRetention;
  /**
   * Seconds a deploy waits for a node to become healthy (a first initialization can take a minute or more).
   * @default 300
   */
  readonly startupTimeoutSeconds?: number;
  /** Docker's health check of every node. @default - interval 2 s, timeout 5 s, 5 retries, start period 30 s */
  readonly healthCheck?: ContainerHealthCheckOptions;
  /**
   * Password of the `exporter` user a Prometheus mysqld exporter logs in as (PROCESS,
   * REPLICATION CLIENT and SELECT; created on the primary at first boot and replicated).
   * Accepts a token.
   * @default - no exporter user
   */
  readonly monitoringPassword?: string;
  /**
   * Put an HAProxy TCP listener in front of the replicas for reads (`<prefix>-db-read`,
   * replicas active, the primary as backup, TCP health checks), and give applications its
   * address as their read host, so that reads survive the loss of a replica.
   * @default - true when there is at least one replica
   */
  readonly readBalancer?: boolean;
  /**
   * HAProxy image of the read balancer.
   * @default 'haproxy:3.0.5'
   */
  readonly readBalancerImage?: string;
}

export interface DatabaseClusterProps extends DatabaseOptions {
  /** Prefix of container and volume names: `<prefix>-db-primary`, `<prefix>-db-replica-1`, … */
  readonly namePrefix: string;
  /** Network the nodes join; keep it internal. */
  readonly network: Network;
}

/** The MySQL protocol port, inside the network only: never published. */
export const DATABASE_PORT = 3306;
const DATA_DIR = '/var/lib/mysql';
const DEFAULT_IMAGES: Record<DatabaseEngine, string> = {
  [DatabaseEngine.MYSQL]: 'mysql:8.4.3',
  [DatabaseEngine.MARIADB]: 'mariadb:11.4.4',
};

/**
 * One primary and N read replicas with GTID replication, set up on first boot.
 *
 * The application database and user are created on the primary only and reach the
 * replicas through replication (a replica that created them too would stop on error 1396
 * when they replay). Replicas are read-only. Data lives on named volumes.
 */
export class DatabaseCluster extends Construct implements IDatabaseEndpoint {
  public readonly engine: DatabaseEngine;
  public readonly primary: Container;
  public readonly replicas: Container[] = [];
  /** The volumes Terraform manages: empty with DataRetention.RETAIN. */
  public readonly volumes: Volume[] = [];
  /** Names of the data volumes, primary first. */
  public readonly volumeNames: string[] = [];
  public readonly primaryHost: string;
  public readonly replicaHosts: string[];
  public readonly readHost: string;
  public readonly port = DATABASE_PORT;
  public readonly databaseName: string;
  public readonly username: string;
  public readonly password: string;
  public readonly replicationUsername: string;
  public readonly image: string;
  public readonly dataRetention: DataRetention;
  /** The read balancer's container, when there is one. */
  public readonly readBalancer?: Container;
  /** Whether the nodes have the exporter user (`monitoringPassword` was given). */
  public readonly monitoringEnabled: boolean;

  constructor(scope: Construct, id: string, props: DatabaseClusterProps) {
    super(scope, id);
    this.engine = props.engine ?? DatabaseEngine.MYSQL;
    checkEnum(this, 'engine', this.engine, DatabaseEngine);
    this.dataRetention = props.dataRetention ?? DataRetention.RETAIN;
    checkEnum(this, 'dataRetention', this.dataRetention, DataRetention);
    const replicaCount = props.replicas ?? 1;
    checkInteger(this, 'replicas', replicaCount, 0, 16);
    this.databaseName = props.databaseName ?? 'app';
    checkPattern(this, 'databaseName', this.databaseName, /^[A-Za-z0-9_]{1,64}$/, '1 to 64 letters, digits or underscores');
    this.username = props.username ?? 'app';
    this.replicationUsername = props.replicationUsername ?? 'replicator';
    for (const [prop, value] of [['username', this.username], ['replicationUsername', this.replicationUsername]]) {
      checkPattern(this, prop, value, /^[A-Za-z0-9_]{1,32}$/, '1 to 32 letters, digits or underscores');
      if (value.toLowerCase() === 'root') throw new ValidationError(this, `'${prop}' must not be "root", got ${JSON.stringify(value)}`);
    }
    if (this.username === this.replicationUsername) {
      throw new ValidationError(this, `'replicationUsername' must differ from 'username', both are ${JSON.stringify(this.username)}`);
    }
    checkNonEmpty(this, 'password', props.password);
    checkNonEmpty(this, 'rootPassword', props.rootPassword);
    checkNonEmpty(this, 'replicationPassword', props.replicationPassword);
    this.password = props.password;
    if (props.monitoringPassword !== undefined) checkNonEmpty(this, 'monitoringPassword', props.monitoringPassword);
    this.monitoringEnabled = props.monitoringPassword !== undefined;
    this.image = props.image ?? DEFAULT_IMAGES[this.engine];
    checkPattern(this, 'image', this.image, IMAGE_REFERENCE, IMAGE_REFERENCE_TEXT);
    checkPattern(this, 'namePrefix', props.namePrefix, DNS_LABEL, DNS_LABEL_TEXT);
    const startupTimeout = props.startupTimeoutSeconds ?? 300;
    checkInteger(this, 'startupTimeoutSeconds', startupTimeout, 10, 3600);

    const dialect: SqlDialect = this.engine;
    const envPrefix = this.engine === DatabaseEngine.MYSQL ? 'MYSQL' : 'MARIADB';
    const image = imageFor(this, this.image).imageId;

    const node = (nodeId: string, index: number, role: 'primary' | 'replica', env: string[], dependsOn?: Container[]): Container => {
      const name = `${props.namePrefix}-db-${nodeId}`;
      let volumeName = `${name}-data`;
      this.volumeNames.push(volumeName);
      if (this.dataRetention === DataRetention.DESTROY) {
        const volume = new Volume(this, `${nodeId}-data`, {
          name: volumeName,
          labels: [{ label: LABELS.project, value: props.namePrefix }],
        });
        this.volumes.push(volume);
        volumeName = volume.name; // a reference, so the volume is created first
      }
      const check = resolveHealthCheck(
        this,
        'healthCheck',
        ['CMD', DB_PATHS.healthCheck],
        { intervalSeconds: 2, timeoutSeconds: 5, retries: 5, ...props.healthCheck },
        { startPeriodSeconds: 30 },
      );
      const initScript = role === 'primary' ? renderPrimaryInitScript(dialect) : renderReplicaInitScript(dialect);
      return new Container(this, nodeId, {
        name,
        image,
        hostname: name,
        networksAdvanced: [{ name: props.network.id }],
        env: [
          `${envPrefix}_ROOT_PASSWORD=${props.rootPassword}`,
          `${DB_ENV.role}=${role}`,
          `${DB_ENV.replicationUser}=${this.replicationUsername}`,
          `${DB_ENV.replicationPassword}=${props.replicationPassword}`,
          ...env,
        ],
        volumes: [{ volumeName, containerPath: DATA_DIR }],
        upload: [
          fileUpload(DB_PATHS.config, renderMyCnf({ dialect, serverId: index + 1, role, reportHost: name })),
          fileUpload(DB_PATHS.initScript, initScript, true),
          fileUpload(DB_PATHS.healthCheck, renderHealthCheckScript(dialect, role), true),
        ],
        // The image's entrypoint steps down to the mysql user itself; nothing may gain privileges after.
        ...containerBasics(props.namePrefix, `database-${role}`, check),
        wait: true,
        waitTimeout: startupTimeout,
        // Time for InnoDB to shut down cleanly: unset means SIGKILL on destroy.
        destroyGraceSeconds: 60,
        dependsOn,
      });
    };

    this.primary = node('primary', 0, 'primary', [
      `${envPrefix}_DATABASE=${this.databaseName}`,
      `${envPrefix}_USER=${this.username}`,
      `${envPrefix}_PASSWORD=${props.password}`,
      ...(props.monitoringPassword !== undefined ? [`${DB_ENV.monitorPassword}=${props.monitoringPassword}`] : []),
    ]);
    this.primaryHost = `${props.namePrefix}-db-primary`;
    for (let i = 1; i <= replicaCount; i++) {
      this.replicas.push(
        node(`replica-${i}`, i, 'replica', [`${DB_ENV.sourceHost}=${this.primaryHost}`, `${DB_ENV.sourcePort}=${DATABASE_PORT}`], [this.primary]),
      );
    }
    this.replicaHosts = this.replicas.map((_, i) => `${props.namePrefix}-db-replica-${i + 1}`);

    const readBalancer = props.readBalancer ?? replicaCount > 0;
    if (readBalancer && replicaCount === 0) {
      throw new ValidationError(this, `'readBalancer' needs at least one replica, got replicas 0`);
    }
    if (readBalancer) {
      const name = `${props.namePrefix}-db-read`;
      const lbImage = props.readBalancerImage ?? 'haproxy:3.0.5';
      checkPattern(this, 'readBalancerImage', lbImage, IMAGE_REFERENCE, IMAGE_REFERENCE_TEXT);
      const check = resolveHealthCheck(this, 'readBalancer', bashHttpProbe(HAPROXY_MONITOR_PORT, '/healthz'), undefined, { startPeriodSeconds: 5 });
      const config = renderDatabaseReadConfig({
        port: DATABASE_PORT,
        monitorPort: HAPROXY_MONITOR_PORT,
        monitorPath: '/healthz',
        servers: [
          ...this.replicaHosts.map((host, i) => ({ name: `replica-${i + 1}`, host, port: DATABASE_PORT, backup: false })),
          { name: 'primary', host: this.primaryHost, port: DATABASE_PORT, backup: true },
        ],
        checkIntervalSeconds: 2,
        rise: 2,
        fall: 3,
        maxConnections: 2000,
        nameserver: '127.0.0.11:53',
      });
      this.readBalancer = new Container(this, 'read-balancer', {
        name,
        image: imageFor(this, lbImage).imageId,
        hostname: name,
        networksAdvanced: [{ name: props.network.id }],
        upload: [fileUpload('/usr/local/etc/haproxy/haproxy.cfg', config)],
        ...containerBasics(props.namePrefix, 'database-read-balancer', check),
        capabilities: { drop: ['ALL'] },
        wait: true,
        waitTimeout: 60,
        destroyGraceSeconds: 10,
        // No dependency on the nodes: HAProxy starts without resolving them (init-addr none),
        // sends reads to the primary until a replica passes its checks, and the
        // applications that wait for this container need not wait for the replicas to boot.
      });
    }
    this.readHost = readBalancer ? `${props.namePrefix}-db-read` : this.primaryHost;
  }

  /** Every node, primary first. */
  public get nodes(): Container[] {
    return [this.primary, ...this.replicas];
  }

  public get endpointDependencies(): ITerraformDependable[] {
    return this.readBalancer ? [this.primary, this.readBalancer] : [this.primary];
  }
}
