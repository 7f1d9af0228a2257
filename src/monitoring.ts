import { Container } from '@cdktf/provider-docker/lib/container';
import { Token } from 'cdktf';
import { Construct } from 'constructs';
import { DATABASE_PORT } from './database-cluster';
import { DistributedWebInfrastructure } from './distributed-web-infrastructure';
import { containerBasics, fileUpload, imageFor } from './docker-support';
import { ContainerHealthCheckOptions, ResolvedHealthCheck, resolveHealthCheck } from './health-check';
import { HAPROXY_MONITOR_PORT } from './load-balancer';
import { MONITOR_USER } from './mysql-config';
import { AlertRulesModel, PrometheusConfigModel, PrometheusScrapeJob, renderAlertRules, renderPrometheusConfig } from './prometheus-config';
import {
  IMAGE_REFERENCE,
  IMAGE_REFERENCE_TEXT,
  ValidationError,
  checkInteger,
  checkNonEmpty,
  checkPattern,
  checkPort,
  checkPositive,
} from './validation';
import { NGINX_STATUS_PORT } from './web-server';

/**
 * Thresholds and `for` windows of the alert rules.
 * @see https://prometheus.io/docs/prometheus/2.55/configuration/alerting_rules/
 */
export interface MonitoringAlertOptions {
  /**
   * Seconds an HAProxy server must stay down (failing its health check, or its container
   * gone) before `BackendServerDown` fires.
   * @default 15
   */
  readonly backendDownForSeconds?: number;
  /**
   * Replication lag (`Seconds_Behind_Master`) above which a replica counts as lagging.
   * @default 30
   */
  readonly replicationLagSeconds?: number;
  /**
   * Seconds a replica must stay broken (a replication thread stopped, no replication
   * status, or its exporter unable to log in) or lagging before `ReplicaNotReplicating` or
   * `ReplicaLagging` fires.
   * @default 30
   */
  readonly replicaAlertForSeconds?: number;
  /**
   * Share of a backend's responses that are 5xx, in percent, above which `High5xxRate` is pending.
   * @default 5
   */
  readonly errorRatePercent?: number;
  /**
   * Seconds the 5xx share must stay above `errorRatePercent` before `High5xxRate` fires.
   * @default 60
   */
  readonly errorRateForSeconds?: number;
}

export interface MonitoringProps {
  /** The stack to watch: its load balancer, web servers and database nodes. */
  readonly site: DistributedWebInfrastructure;
  /**
   * Password of the database's `exporter` user: the `monitoringPassword` given to the
   * site's database. Accepts a token. It reaches the exporters as the environment variable
   * `MYSQLD_EXPORTER_PASSWORD`, so Terraform state holds it in clear text, like every secret
   * of the stack.
   */
  readonly databasePassword: string;
  /**
   * Prometheus image. It must honour the official image's contract (`/bin/prometheus` as
   * entrypoint, runs as a non-root user who owns `/prometheus`) and have `wget` for the
   * health check.
   * @default 'prom/prometheus:v2.55.1'
   */
  readonly prometheusImage?: string;
  /**
   * mysqld exporter image, with the 0.15+ command line (`--mysqld.address`,
   * `--mysqld.username`, password in `MYSQLD_EXPORTER_PASSWORD`) and `wget`.
   * @default 'prom/mysqld-exporter:v0.16.0'
   * @see https://github.com/prometheus/mysqld_exporter
   */
  readonly mysqldExporterImage?: string;
  /**
   * Nginx exporter image, with the 1.x command line (`--nginx.scrape-uri`).
   * @default 'nginx/nginx-prometheus-exporter:1.3.0'
   * @see https://github.com/nginx/nginx-prometheus-exporter
   */
  readonly nginxExporterImage?: string;
  /**
   * Port of Prometheus' UI and API, published on the Docker host.
   * @default 9090
   */
  readonly port?: number;
  /**
   * Host address the port is published on. Prometheus has no authentication: keep it on
   * loopback unless something in front of it adds some.
   * @default '127.0.0.1'
   */
  readonly hostAddress?: string;
  /**
   * Seconds between two scrapes of every target; the rules are evaluated as often.
   * @default 5
   */
  readonly scrapeIntervalSeconds?: number;
  /**
   * Hours of history Prometheus keeps (`--storage.tsdb.retention.time`). The history lives
   * in the container's anonymous volume: it goes when the container is replaced.
   * @default 360 (15 days, Prometheus' own default)
   */
  readonly retentionHours?: number;
  /** @default - see MonitoringAlertOptions */
  readonly alerts?: MonitoringAlertOptions;
  /**
   * Docker's health check of the Prometheus and mysqld exporter containers (the official
   * Nginx exporter image has no shell nor HTTP client to probe with: Prometheus' `up`
   * series watches it instead).
   * @default - see ContainerHealthCheckOptions
   */
  readonly containerHealthCheck?: ContainerHealthCheckOptions;
}

/** Port of Prometheus inside its container. */
export const PROMETHEUS_PORT = 9090;
/** Port the mysqld exporter listens on. */
export const MYSQLD_EXPORTER_PORT = 9104;
/** Port the Nginx exporter listens on. */
export const NGINX_EXPORTER_PORT = 9113;
/** Where the configuration and the alert rules go in the Prometheus container. */
export const PROMETHEUS_PATHS = {
  config: '/etc/prometheus/prometheus.yml',
  rules: '/etc/prometheus/alerts.yml',
  data: '/prometheus',
} as const;

/**
 * Refuses a token where the value is written into prometheus.yml or the rules at synthesis
 * (a token only resolves in Terraform, after the files are rendered).
 */
function plainNumber(scope: Construct, prop: string, value: number): void {
  if (Token.isUnresolved(value)) {
    throw new ValidationError(scope, `'${prop}' must be a plain number: it is written into Prometheus' files at synthesis, got an unresolved token`);
  }
}

/** A probe that passes while `url` answers 2xx, for images with `wget` (busybox or GNU). */
function wgetProbe(url: string): string[] {
  return ['CMD', 'wget', '-q', '-O', '/dev/null', url];
}

/**
 * Prometheus watching a {@link DistributedWebInfrastructure}: HAProxy's built-in exporter,
 * one Nginx exporter per web server, one mysqld exporter per database node, and alert rules
 * for a backend server down, a replica not replicating or lagging, and a high 5xx rate.
 *
 * Creates the containers `<name>-prometheus` (front and back networks, the only one that
 * publishes a port: `port` on `hostAddress`), `<name>-<server>-nginx-exporter` (front
 * network) and `<db host>-exporter` (back network). The database needs the exporter user:
 * give it `monitoringPassword`, and the same password here as `databasePassword`.
 */
export class Monitoring extends Construct {
  /** The Prometheus container. */
  public readonly prometheus: Container;
  /** One Nginx exporter per web server, in the site's order. */
  public readonly nginxExporters: Container[] = [];
  /** One mysqld exporter per database node, primary first. */
  public readonly mysqldExporters: Container[] = [];
  public readonly prometheusImage: string;
  public readonly mysqldExporterImage: string;
  public readonly nginxExporterImage: string;
  public readonly port: number;
  public readonly hostAddress: string;
  public readonly scrapeIntervalSeconds: number;
  public readonly retentionHours: number;
  /** The alert thresholds with every default resolved. */
  public readonly alerts: AlertRulesModel;
  /** Name of the Prometheus container (its host name on both networks). */
  public readonly containerName: string;
  private readonly configModel: PrometheusConfigModel;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const site = props.site;
    if (!site || !site.loadBalancer || !site.database) {
      throw new ValidationError(this, `'site' must be a DistributedWebInfrastructure, got ${site === undefined ? 'undefined' : typeof site}`);
    }
    this.prometheusImage = props.prometheusImage ?? 'prom/prometheus:v2.55.1';
    this.mysqldExporterImage = props.mysqldExporterImage ?? 'prom/mysqld-exporter:v0.16.0';
    this.nginxExporterImage = props.nginxExporterImage ?? 'nginx/nginx-prometheus-exporter:1.3.0';
    checkPattern(this, 'prometheusImage', this.prometheusImage, IMAGE_REFERENCE, IMAGE_REFERENCE_TEXT);
    checkPattern(this, 'mysqldExporterImage', this.mysqldExporterImage, IMAGE_REFERENCE, IMAGE_REFERENCE_TEXT);
    checkPattern(this, 'nginxExporterImage', this.nginxExporterImage, IMAGE_REFERENCE, IMAGE_REFERENCE_TEXT);
    this.port = props.port ?? 9090;
    checkPort(this, 'port', this.port);
    this.hostAddress = props.hostAddress ?? '127.0.0.1';
    checkPattern(this, 'hostAddress', this.hostAddress, /^(\d{1,3})(\.\d{1,3}){3}$/, 'an IPv4 address such as "127.0.0.1" or "0.0.0.0"');
    const lb = site.loadBalancer;
    const overlaps = this.hostAddress === lb.hostAddress || this.hostAddress === '0.0.0.0' || lb.hostAddress === '0.0.0.0';
    if (this.port === lb.port && overlaps) {
      throw new ValidationError(
        this,
        `'port' must differ from the load balancer's port on the same host address, got ${this.port} on ${this.hostAddress} (the load balancer publishes ${lb.port} on ${lb.hostAddress})`,
      );
    }
    this.scrapeIntervalSeconds = props.scrapeIntervalSeconds ?? 5;
    plainNumber(this, 'scrapeIntervalSeconds', this.scrapeIntervalSeconds);
    checkInteger(this, 'scrapeIntervalSeconds', this.scrapeIntervalSeconds, 1, 3600);
    this.retentionHours = props.retentionHours ?? 360;
    checkInteger(this, 'retentionHours', this.retentionHours, 1, 87_600);

    const a = props.alerts ?? {};
    this.alerts = {
      backendDownForSeconds: a.backendDownForSeconds ?? 15,
      replicationLagSeconds: a.replicationLagSeconds ?? 30,
      replicaAlertForSeconds: a.replicaAlertForSeconds ?? 30,
      errorRatePercent: a.errorRatePercent ?? 5,
      errorRateForSeconds: a.errorRateForSeconds ?? 60,
      // rate() needs several samples in its range: four scrapes, and at least a minute.
      rateWindowSeconds: Math.max(60, 4 * this.scrapeIntervalSeconds),
    };
    for (const [key, value] of Object.entries(a)) plainNumber(this, `alerts.${key}`, value);
    checkInteger(this, 'alerts.backendDownForSeconds', this.alerts.backendDownForSeconds, 0, 86_400);
    checkInteger(this, 'alerts.replicaAlertForSeconds', this.alerts.replicaAlertForSeconds, 0, 86_400);
    checkInteger(this, 'alerts.errorRateForSeconds', this.alerts.errorRateForSeconds, 0, 86_400);
    checkPositive(this, 'alerts.replicationLagSeconds', this.alerts.replicationLagSeconds, 86_400);
    checkPositive(this, 'alerts.errorRatePercent', this.alerts.errorRatePercent, 100);

    checkNonEmpty(this, 'databasePassword', props.databasePassword);
    if (!site.database.monitoringEnabled) {
      throw new ValidationError(
        this,
        `'databasePassword' is the password of the database's "${MONITOR_USER}" user, but the site's database has none: ` +
          `give the database 'monitoringPassword' (the same password), got a database without it`,
      );
    }

    const name = site.name;
    this.containerName = `${name}-prometheus`;
    const check = (prop: string, url: string): ResolvedHealthCheck =>
      resolveHealthCheck(this, prop, wgetProbe(url), props.containerHealthCheck, { startPeriodSeconds: 10 });
    const common = (role: string, hc?: ResolvedHealthCheck) => ({
      ...containerBasics(name, role, hc),
      destroyGraceSeconds: 10,
      // Every image runs as a non-root user and needs no Linux capability.
      capabilities: { drop: ['ALL'] },
    });

    // One Nginx exporter per web server, beside it on the front network. The official image
    // is FROM scratch (no shell, no wget): no Docker health check is possible, so the deploy
    // does not wait for it; Prometheus' `up{job="nginx"}` is its health.
    const nginxImage = imageFor(this, this.nginxExporterImage).imageId;
    const nginxTargets = site.webServers.map((server) => {
      const exporterName = `${server.targetHost}-nginx-exporter`;
      this.nginxExporters.push(
        new Container(this, `NginxExporter-${server.serverName}`, {
          name: exporterName,
          image: nginxImage,
          hostname: exporterName,
          command: [`--nginx.scrape-uri=http://${server.targetHost}:${NGINX_STATUS_PORT}/nginx_status`, `--web.listen-address=:${NGINX_EXPORTER_PORT}`],
          networksAdvanced: [{ name: site.frontNetwork.id }],
          dependsOn: [server.nginx],
          ...common('nginx-exporter'),
        }),
      );
      return { address: `${exporterName}:${NGINX_EXPORTER_PORT}`, labels: { web_server: server.serverName } };
    });

    // One mysqld exporter per database node, on the back network with it.
    const db = site.database;
    const mysqldImage = imageFor(this, this.mysqldExporterImage).imageId;
    const mysqldCheck = check('containerHealthCheck', `http://127.0.0.1:${MYSQLD_EXPORTER_PORT}/`);
    const nodes = [
      { id: 'primary', host: db.primaryHost, role: 'primary', container: db.primary },
      ...db.replicaHosts.map((host, i) => ({ id: `replica-${i + 1}`, host, role: 'replica', container: db.replicas[i] })),
    ];
    const mysqldTargets = nodes.map((node) => {
      const exporterName = `${node.host}-exporter`;
      this.mysqldExporters.push(
        new Container(this, `MysqldExporter-${node.id}`, {
          name: exporterName,
          image: mysqldImage,
          hostname: exporterName,
          command: [
            `--mysqld.address=${node.host}:${DATABASE_PORT}`,
            `--mysqld.username=${MONITOR_USER}`,
            // On by default; named so that the alert rules' source is explicit.
            '--collect.slave_status',
            `--web.listen-address=:${MYSQLD_EXPORTER_PORT}`,
          ],
          env: [`MYSQLD_EXPORTER_PASSWORD=${props.databasePassword}`],
          networksAdvanced: [{ name: site.backNetwork.id }],
          wait: true,
          waitTimeout: 60,
          dependsOn: [node.container],
          ...common('mysqld-exporter', mysqldCheck),
        }),
      );
      return { address: `${exporterName}:${MYSQLD_EXPORTER_PORT}`, labels: { node: node.host, role: node.role } };
    });

    const jobs: PrometheusScrapeJob[] = [
      { name: 'prometheus', targets: [{ address: `localhost:${PROMETHEUS_PORT}` }] },
      { name: 'haproxy', targets: [{ address: `${lb.containerName}:${HAPROXY_MONITOR_PORT}` }] },
      { name: 'nginx', targets: nginxTargets },
      { name: 'mysqld', targets: mysqldTargets },
    ];
    this.configModel = {
      scrapeIntervalSeconds: this.scrapeIntervalSeconds,
      scrapeTimeoutSeconds: Math.min(10, this.scrapeIntervalSeconds),
      evaluationIntervalSeconds: this.scrapeIntervalSeconds,
      ruleFiles: [PROMETHEUS_PATHS.rules],
      jobs,
    };

    const prometheusCheck = check('containerHealthCheck', `http://127.0.0.1:${PROMETHEUS_PORT}/-/ready`);
    this.prometheus = new Container(this, 'Resource', {
      name: this.containerName,
      image: imageFor(this, this.prometheusImage).imageId,
      hostname: this.containerName,
      command: [
        `--config.file=${PROMETHEUS_PATHS.config}`,
        `--storage.tsdb.path=${PROMETHEUS_PATHS.data}`,
        `--storage.tsdb.retention.time=${this.retentionHours}h`,
        `--web.listen-address=:${PROMETHEUS_PORT}`,
      ],
      networksAdvanced: [{ name: site.frontNetwork.id }, { name: site.backNetwork.id }],
      ports: [{ internal: PROMETHEUS_PORT, external: this.port, ip: this.hostAddress, protocol: 'tcp' }],
      upload: [fileUpload(PROMETHEUS_PATHS.config, this.renderConfig()), fileUpload(PROMETHEUS_PATHS.rules, this.renderAlertRules())],
      wait: true,
      waitTimeout: 120,
      dependsOn: [lb.container, ...this.nginxExporters, ...this.mysqldExporters],
      ...common('monitoring', prometheusCheck),
    });
  }

  /** prometheus.yml as it is uploaded. */
  public renderConfig(): string {
    return renderPrometheusConfig(this.configModel);
  }

  /** The alert rules file as it is uploaded. */
  public renderAlertRules(): string {
    return renderAlertRules(this.alerts);
  }

  /** Prometheus' UI and API as seen from the Docker host. */
  public get url(): string {
    return `http://${this.hostAddress === '0.0.0.0' ? '127.0.0.1' : this.hostAddress}:${this.port}`;
  }
}
