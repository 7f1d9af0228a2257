/**
 * Pure renderers for Prometheus: `prometheus.yml` and the alert rules file, a typed model
 * in, the file's text out.
 *
 * YAML is written by hand, with every string scalar double-quoted (a JSON string is a valid
 * YAML double-quoted scalar once the few characters YAML treats differently are escaped),
 * so no value can change the file's structure. PromQL expressions are literal block
 * scalars built here from numbers only.
 *
 * @see https://prometheus.io/docs/prometheus/2.55/configuration/configuration/
 * @see https://prometheus.io/docs/prometheus/2.55/configuration/alerting_rules/
 */

/** One endpoint Prometheus scrapes, with labels added to every series it yields. */
export interface PrometheusTarget {
  /** `host:port` */
  readonly address: string;
  /** Extra labels of the target's series. */
  readonly labels?: { [name: string]: string };
}

/** One `scrape_configs` entry with static targets. */
export interface PrometheusScrapeJob {
  /** `job_name`, and the `job` label of its series. */
  readonly name: string;
  /** @default '/metrics' */
  readonly metricsPath?: string;
  readonly targets: PrometheusTarget[];
}

export interface PrometheusConfigModel {
  /** Seconds between two scrapes of a target. */
  readonly scrapeIntervalSeconds: number;
  /** Seconds a scrape may take; at most the scrape interval. */
  readonly scrapeTimeoutSeconds: number;
  /** Seconds between two evaluations of the rules. */
  readonly evaluationIntervalSeconds: number;
  /** Paths of rule files inside the container (`rule_files`). */
  readonly ruleFiles: string[];
  readonly jobs: PrometheusScrapeJob[];
}

/** Thresholds and `for` windows of the alert rules. */
export interface AlertRulesModel {
  /** How long an HAProxy server must be down before `BackendServerDown` fires. */
  readonly backendDownForSeconds: number;
  /** Replication lag above which a replica counts as lagging. */
  readonly replicationLagSeconds: number;
  /** How long a replica must be broken or lagging before `ReplicaNotReplicating` / `ReplicaLagging` fire. */
  readonly replicaAlertForSeconds: number;
  /** Share of 5xx responses of a backend, in percent, above which `High5xxRate` is pending. */
  readonly errorRatePercent: number;
  /** How long the 5xx share must stay above the threshold before `High5xxRate` fires. */
  readonly errorRateForSeconds: number;
  /** Range of the `rate()` behind the 5xx share; at least four scrape intervals. */
  readonly rateWindowSeconds: number;
}

/** Names of the alerts {@link renderAlertRules} defines. */
export const ALERT_NAMES = {
  backendServerDown: 'BackendServerDown',
  replicaNotReplicating: 'ReplicaNotReplicating',
  replicaLagging: 'ReplicaLagging',
  high5xxRate: 'High5xxRate',
} as const;

/** Name of the rule group in the rules file. */
export const ALERT_GROUP = 'cdktf-distributed-web';

const HEADER = '# Rendered by cdktf-distributed-web. Do not edit: changes are overwritten on deploy.';

/**
 * A YAML double-quoted scalar. JSON escapes `"`, `\` and the C0 controls the way YAML
 * reads them; YAML also needs DEL, the C1 controls, the BOM and U+2028/U+2029 escaped.
 */
export function yamlString(value: string): string {
  return JSON.stringify(value).replace(/[\u007f-\u009f\u2028\u2029\ufeff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A duration in Prometheus' syntax: whole seconds as `15s`, else milliseconds. */
export function promDuration(seconds: number): string {
  return Number.isInteger(seconds) ? `${seconds}s` : `${Math.round(seconds * 1000)}ms`;
}

/** A number in PromQL (no exponent form for the values we take). */
function promNumber(value: number): string {
  return String(Number(value.toFixed(6)));
}

/** Prometheus label names: written unquoted, so anything else is refused. */
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Renders prometheus.yml. */
export function renderPrometheusConfig(model: PrometheusConfigModel): string {
  const list = (key: string, indent: string, items: string[]) =>
    items.length ? [`${indent}${key}:`, ...items] : [`${indent}${key}: []`];
  const jobs = model.jobs.flatMap((job) => [
    `  - job_name: ${yamlString(job.name)}`,
    `    metrics_path: ${yamlString(job.metricsPath ?? '/metrics')}`,
    ...list(
      'static_configs',
      '    ',
      job.targets.flatMap((target) => {
        const labels = Object.entries(target.labels ?? {});
        for (const [name] of labels) {
          if (!LABEL_NAME.test(name)) throw new Error(`invalid Prometheus label name ${JSON.stringify(name)} on target ${target.address}`);
        }
        return [
          `      - targets: [${yamlString(target.address)}]`,
          ...(labels.length ? ['        labels:', ...labels.map(([name, value]) => `          ${name}: ${yamlString(value)}`)] : []),
        ];
      }),
    ),
  ]);
  return [
    HEADER,
    'global:',
    `  scrape_interval: ${promDuration(model.scrapeIntervalSeconds)}`,
    `  scrape_timeout: ${promDuration(model.scrapeTimeoutSeconds)}`,
    `  evaluation_interval: ${promDuration(model.evaluationIntervalSeconds)}`,
    '',
    ...list('rule_files', '', model.ruleFiles.map((f) => `  - ${yamlString(f)}`)),
    '',
    ...list('scrape_configs', '', jobs),
    '',
  ].join('\n');
}

interface AlertRule {
  readonly alert: string;
  readonly expr: string[];
  readonly forSeconds: number;
  readonly severity: string;
  readonly summary: string;
  readonly description: string;
}

/**
 * The alert rules, as PromQL over what the exporters really export:
 *
 * - `BackendServerDown`: HAProxy's built-in exporter (2.4 and later) has one
 *   `haproxy_server_status` series per server and state (`DOWN`, `UP`, `MAINT`, `DRAIN`,
 *   `NOLB`), 1 for the current one. A failing health check makes a server `DOWN`; a stopped
 *   container also drops out of Docker's DNS, and a server whose name no longer resolves is
 *   put in `MAINT` (there is no admin socket, so no other way into `MAINT` here).
 * - `ReplicaNotReplicating`: mysqld-exporter turns every `SHOW SLAVE STATUS` column into
 *   `mysql_slave_status_<column>`; Yes/No become 1/0. MariaDB and MySQL before 8.4 name the
 *   threads `Slave_IO_Running` / `Slave_SQL_Running`, MySQL 8.4 (`SHOW REPLICA STATUS`)
 *   `Replica_IO_Running` / `Replica_SQL_Running`. A replica whose exporter cannot log in
 *   (`mysql_up` 0) or that reports no replication status at all is not replicating either.
 * - `ReplicaLagging`: `Seconds_Behind_Master` (or `Seconds_Behind_Source`), which is NULL,
 *   hence absent, while a thread is stopped: that case is the alert above.
 * - `High5xxRate`: `haproxy_backend_http_responses_total{code="5xx"}` counts the servers'
 *   5xx and HAProxy's own (a 503 when no server is up) alike.
 */
export function renderAlertRules(model: AlertRulesModel): string {
  const window = promDuration(model.rateWindowSeconds);
  const threadStopped = [
    'mysql_slave_status_slave_io_running',
    'mysql_slave_status_slave_sql_running',
    'mysql_slave_status_replica_io_running',
    'mysql_slave_status_replica_sql_running',
  ];
  const rules: AlertRule[] = [
    {
      alert: ALERT_NAMES.backendServerDown,
      expr: ['haproxy_server_status{state=~"DOWN|MAINT"} == 1'],
      forSeconds: model.backendDownForSeconds,
      severity: 'warning',
      summary: 'HAProxy server {{ $labels.server }} of backend {{ $labels.proxy }} is {{ $labels.state }}',
      description:
        'The load balancer {{ $labels.instance }} has sent no traffic to {{ $labels.server }} for ' +
        `${promDuration(model.backendDownForSeconds)}: its health check fails or its container is gone.`,
    },
    {
      alert: ALERT_NAMES.replicaNotReplicating,
      expr: [
        ...threadStopped.map((m, i) => `${i === 0 ? '' : '  or '}${m} == 0`),
        '  or mysql_up{role="replica"} == 0',
        '  or (',
        '    mysql_up{role="replica"} == 1',
        '    unless on (instance) (mysql_slave_status_slave_io_running or mysql_slave_status_replica_io_running)',
        '  )',
      ],
      forSeconds: model.replicaAlertForSeconds,
      severity: 'critical',
      summary: 'Replica {{ $labels.node }} is not replicating',
      description:
        `For ${promDuration(model.replicaAlertForSeconds)}, {{ $labels.node }} has had a replication thread stopped, ` +
        'no replication status, or no database connection for its exporter: its reads go stale.',
    },
    {
      alert: ALERT_NAMES.replicaLagging,
      expr: [
        `(mysql_slave_status_seconds_behind_master or mysql_slave_status_seconds_behind_source) > ${promNumber(model.replicationLagSeconds)}`,
      ],
      forSeconds: model.replicaAlertForSeconds,
      severity: 'warning',
      summary: 'Replica {{ $labels.node }} is {{ $value }} s behind its source',
      description:
        `{{ $labels.node }} has been more than ${promNumber(model.replicationLagSeconds)} s behind its source for ` +
        `${promDuration(model.replicaAlertForSeconds)}.`,
    },
    {
      alert: ALERT_NAMES.high5xxRate,
      expr: [
        `sum by (instance, proxy) (rate(haproxy_backend_http_responses_total{code="5xx"}[${window}]))`,
        `  / sum by (instance, proxy) (rate(haproxy_backend_http_responses_total[${window}]))`,
        `  * 100 > ${promNumber(model.errorRatePercent)}`,
      ],
      forSeconds: model.errorRateForSeconds,
      severity: 'critical',
      summary: 'Backend {{ $labels.proxy }} answers {{ $value | printf "%.1f" }}% of requests with 5xx',
      description:
        `More than ${promNumber(model.errorRatePercent)}% of the responses of backend {{ $labels.proxy }} on ` +
        `{{ $labels.instance }} have been 5xx for ${promDuration(model.errorRateForSeconds)} (rate over ${window}).`,
    },
  ];

  const lines = [HEADER, 'groups:', `  - name: ${yamlString(ALERT_GROUP)}`, '    rules:'];
  for (const rule of rules) {
    lines.push(
      `      - alert: ${yamlString(rule.alert)}`,
      '        expr: |-',
      ...rule.expr.map((e) => `          ${e}`),
      `        for: ${promDuration(rule.forSeconds)}`,
      '        labels:',
      `          severity: ${yamlString(rule.severity)}`,
      '        annotations:',
      `          summary: ${yamlString(rule.summary)}`,
      `          description: ${yamlString(rule.description)}`,
    );
  }
  return lines.join('\n') + '\n';
}
