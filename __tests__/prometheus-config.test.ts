import { describe, expect, it } from 'vitest';
import {
  ALERT_NAMES,
  AlertRulesModel,
  PrometheusConfigModel,
  promDuration,
  renderAlertRules,
  renderPrometheusConfig,
  yamlString,
} from '../src/prometheus-config';
import { explain, promtool } from './support/binaries';

/** What Monitoring hands the renderer for a site of two web servers, a primary and one replica. */
function configModel(overrides: Partial<PrometheusConfigModel> = {}): PrometheusConfigModel {
  return {
    scrapeIntervalSeconds: 5,
    scrapeTimeoutSeconds: 5,
    evaluationIntervalSeconds: 5,
    ruleFiles: ['alerts.yml'],
    jobs: [
      { name: 'prometheus', targets: [{ address: 'localhost:9090' }] },
      { name: 'haproxy', targets: [{ address: 'site-lb:8404' }] },
      {
        name: 'nginx',
        targets: [
          { address: 'site-web-1-nginx-exporter:9113', labels: { web_server: 'web-1' } },
          { address: 'site-web-2-nginx-exporter:9113', labels: { web_server: 'web-2' } },
        ],
      },
      {
        name: 'mysqld',
        targets: [
          { address: 'site-db-primary-exporter:9104', labels: { node: 'site-db-primary', role: 'primary' } },
          { address: 'site-db-replica-1-exporter:9104', labels: { node: 'site-db-replica-1', role: 'replica' } },
        ],
      },
    ],
    ...overrides,
  };
}

/** Monitoring's defaults. */
const DEFAULT_ALERTS: AlertRulesModel = {
  backendDownForSeconds: 15,
  replicationLagSeconds: 30,
  replicaAlertForSeconds: 30,
  errorRatePercent: 5,
  errorRateForSeconds: 60,
  rateWindowSeconds: 60,
};

describe('renderPrometheusConfig', () => {
  it('renders the complete file for a representative model', () => {
    expect(renderPrometheusConfig(configModel())).toBe(`# Rendered by cdktf-distributed-web. Do not edit: changes are overwritten on deploy.
global:
  scrape_interval: 5s
  scrape_timeout: 5s
  evaluation_interval: 5s

rule_files:
  - "alerts.yml"

scrape_configs:
  - job_name: "prometheus"
    metrics_path: "/metrics"
    static_configs:
      - targets: ["localhost:9090"]
  - job_name: "haproxy"
    metrics_path: "/metrics"
    static_configs:
      - targets: ["site-lb:8404"]
  - job_name: "nginx"
    metrics_path: "/metrics"
    static_configs:
      - targets: ["site-web-1-nginx-exporter:9113"]
        labels:
          web_server: "web-1"
      - targets: ["site-web-2-nginx-exporter:9113"]
        labels:
          web_server: "web-2"
  - job_name: "mysqld"
    metrics_path: "/metrics"
    static_configs:
      - targets: ["site-db-primary-exporter:9104"]
        labels:
          node: "site-db-primary"
          role: "primary"
      - targets: ["site-db-replica-1-exporter:9104"]
        labels:
          node: "site-db-replica-1"
          role: "replica"
`);
  });

  it('is a valid configuration for the real promtool, rules included', async () => {
    const result = await promtool(['check', 'config', 'prometheus.yml'], {
      'prometheus.yml': renderPrometheusConfig(configModel()),
      'alerts.yml': renderAlertRules(DEFAULT_ALERTS),
    });
    expect(result.code, explain(result)).toBe(0);
    expect(result.stdout).toContain('1 rule files found');
  });

  it('writes empty lists as [] and a custom metrics path, and stays valid', async () => {
    const cfg = renderPrometheusConfig(
      configModel({ ruleFiles: [], jobs: [{ name: 'none', targets: [] }, { name: 'custom', metricsPath: '/probe', targets: [{ address: 'x:1' }] }] }),
    );
    expect(cfg).toContain('\nrule_files: []\n');
    expect(cfg).toContain('  - job_name: "none"\n    metrics_path: "/metrics"\n    static_configs: []\n');
    expect(cfg).toContain('    metrics_path: "/probe"\n');
    const noJobs = renderPrometheusConfig(configModel({ jobs: [] }));
    expect(noJobs).toContain('\nscrape_configs: []\n');
    for (const file of [cfg, noJobs]) {
      const result = await promtool(['check', 'config', 'prometheus.yml'], { 'prometheus.yml': file, 'alerts.yml': renderAlertRules(DEFAULT_ALERTS) });
      expect(result.code, explain(result)).toBe(0);
    }
  });

  it('quotes every string, so a label value cannot change the structure', async () => {
    const value = 'a "quoted" value: with # and \\ and {{ }} and\nnewline';
    const cfg = renderPrometheusConfig(configModel({ ruleFiles: [], jobs: [{ name: 'x', targets: [{ address: 'x:1', labels: { odd: value } }] }] }));
    expect(cfg).toContain(`          odd: ${JSON.stringify(value)}\n`);
    const result = await promtool(['check', 'config', 'prometheus.yml'], { 'prometheus.yml': cfg });
    expect(result.code, explain(result)).toBe(0);
  });

  it('renders sub-second durations in milliseconds', () => {
    const cfg = renderPrometheusConfig(configModel({ scrapeIntervalSeconds: 0.5, scrapeTimeoutSeconds: 0.25 }));
    expect(cfg).toContain('  scrape_interval: 500ms\n  scrape_timeout: 250ms\n');
  });

  it('fails when a label name is not a Prometheus label name', () => {
    expect(() => renderPrometheusConfig(configModel({ jobs: [{ name: 'x', targets: [{ address: 'x:1', labels: { 'bad-name': 'v' } }] }] }))).toThrow(
      /invalid Prometheus label name "bad-name" on target x:1/,
    );
  });
});

describe('yamlString and promDuration', () => {
  it('escapes what YAML reads differently from JSON', () => {
    expect(yamlString('plain')).toBe('"plain"');
    expect(yamlString('a\u2028b\u0085c\u007fd')).toBe('"a\\u2028b\\u0085c\\u007fd"');
    expect(promDuration(15)).toBe('15s');
    expect(promDuration(90)).toBe('90s');
    expect(promDuration(1.5)).toBe('1500ms');
  });
});

describe('renderAlertRules', () => {
  it('renders the complete file with the defaults', () => {
    expect(renderAlertRules(DEFAULT_ALERTS)).toBe(`# Rendered by cdktf-distributed-web. Do not edit: changes are overwritten on deploy.
groups:
  - name: "cdktf-distributed-web"
    rules:
      - alert: "BackendServerDown"
        expr: |-
          haproxy_server_status{state=~"DOWN|MAINT"} == 1
        for: 15s
        labels:
          severity: "warning"
        annotations:
          summary: "HAProxy server {{ $labels.server }} of backend {{ $labels.proxy }} is {{ $labels.state }}"
          description: "The load balancer {{ $labels.instance }} has sent no traffic to {{ $labels.server }} for 15s: its health check fails or its container is gone."
      - alert: "ReplicaNotReplicating"
        expr: |-
          mysql_slave_status_slave_io_running == 0
            or mysql_slave_status_slave_sql_running == 0
            or mysql_slave_status_replica_io_running == 0
            or mysql_slave_status_replica_sql_running == 0
            or mysql_up{role="replica"} == 0
            or (
              mysql_up{role="replica"} == 1
              unless on (instance) (mysql_slave_status_slave_io_running or mysql_slave_status_replica_io_running)
            )
        for: 30s
        labels:
          severity: "critical"
        annotations:
          summary: "Replica {{ $labels.node }} is not replicating"
          description: "For 30s, {{ $labels.node }} has had a replication thread stopped, no replication status, or no database connection for its exporter: its reads go stale."
      - alert: "ReplicaLagging"
        expr: |-
          (mysql_slave_status_seconds_behind_master or mysql_slave_status_seconds_behind_source) > 30
        for: 30s
        labels:
          severity: "warning"
        annotations:
          summary: "Replica {{ $labels.node }} is {{ $value }} s behind its source"
          description: "{{ $labels.node }} has been more than 30 s behind its source for 30s."
      - alert: "High5xxRate"
        expr: |-
          sum by (instance, proxy) (rate(haproxy_backend_http_responses_total{code="5xx"}[60s]))
            / sum by (instance, proxy) (rate(haproxy_backend_http_responses_total[60s]))
            * 100 > 5
        for: 60s
        labels:
          severity: "critical"
        annotations:
          summary: "Backend {{ $labels.proxy }} answers {{ $value | printf \\"%.1f\\" }}% of requests with 5xx"
          description: "More than 5% of the responses of backend {{ $labels.proxy }} on {{ $labels.instance }} have been 5xx for 60s (rate over 60s)."
`);
  });

  it('is valid for the real promtool', async () => {
    const result = await promtool(['check', 'rules', 'alerts.yml'], { 'alerts.yml': renderAlertRules(DEFAULT_ALERTS) });
    expect(result.code, explain(result)).toBe(0);
    expect(result.stdout).toContain('SUCCESS: 4 rules found');
  });

  it('takes every threshold and window from the model', () => {
    const rules = renderAlertRules({
      backendDownForSeconds: 45,
      replicationLagSeconds: 2.5,
      replicaAlertForSeconds: 0,
      errorRatePercent: 12.5,
      errorRateForSeconds: 120,
      rateWindowSeconds: 240,
    });
    const forOf = (alert: string) => new RegExp(`- alert: "${alert}"\\n(?:        .*\\n)*?        for: (\\S+)\\n`).exec(rules)?.[1];
    expect(forOf(ALERT_NAMES.backendServerDown)).toBe('45s');
    expect(forOf(ALERT_NAMES.replicaNotReplicating)).toBe('0s');
    expect(forOf(ALERT_NAMES.replicaLagging)).toBe('0s');
    expect(forOf(ALERT_NAMES.high5xxRate)).toBe('120s');
    expect(rules).toContain('or mysql_slave_status_seconds_behind_source) > 2.5\n');
    expect(rules).toContain('[240s]))');
    expect(rules).not.toContain('[60s]');
    expect(rules).toContain('  * 100 > 12.5\n');
  });
});

/**
 * `promtool test rules`: synthetic series through the real rule engine. Each alert fires
 * exactly once its `for` window has passed since the condition began, and not one
 * evaluation earlier. Series start at t=0 and are sampled every 5 s.
 */
describe('the alert rules, evaluated by promtool test rules', () => {
  const STEP = 5;
  const haproxy = 'job="haproxy",instance="site-lb:8404"';
  const replica = 'job="mysqld",instance="site-db-replica-1-exporter:9104",node="site-db-replica-1",role="replica"';
  const primary = 'job="mysqld",instance="site-db-primary-exporter:9104",node="site-db-primary",role="primary"';
  const slaveLabels = 'master_host="site-db-primary",master_uuid="",channel_name="",connection_name=""';

  interface Series {
    readonly series: string;
    readonly values: string;
  }
  interface Expectation {
    readonly at: number;
    readonly alert: string;
    /** Labels and annotations of each firing alert; empty when none fires. */
    readonly firing: { labels: Record<string, string>; annotations: Record<string, string> }[];
  }
  interface Case {
    readonly name: string;
    readonly series: Series[];
    readonly expect: Expectation[];
  }

  const q = (s: string) => `'${s.replace(/'/g, "''")}'`;
  const map = (m: Record<string, string>) => `{${Object.entries(m).map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join(', ')}}`;

  function testFile(cases: Case[]): string {
    const lines = ['rule_files:', '  - alerts.yml', `evaluation_interval: ${STEP}s`, 'tests:'];
    for (const c of cases) {
      lines.push(`  # ${c.name}`, `  - interval: ${STEP}s`, '    input_series:');
      for (const s of c.series) lines.push(`      - series: ${q(s.series)}`, `        values: ${q(s.values)}`);
      lines.push('    alert_rule_test:');
      for (const e of c.expect) {
        lines.push(`      - eval_time: ${e.at}s`, `        alertname: ${e.alert}`);
        if (e.firing.length === 0) lines.push('        exp_alerts: []');
        else {
          lines.push('        exp_alerts:');
          for (const f of e.firing) lines.push(`          - exp_labels: ${map(f.labels)}`, `            exp_annotations: ${map(f.annotations)}`);
        }
      }
    }
    return lines.join('\n') + '\n';
  }

  /** `n` samples: `before` until `from` seconds, then `after`. */
  const steps = (from: number, before: number, after: number, total = 60) =>
    Array.from({ length: total }, (_, i) => (i * STEP < from ? before : after)).join(' ');
  /** A counter: +`per` every step from `from` seconds on, flat before. */
  const counter = (from: number, per: number, total = 60) => {
    let v = 0;
    return Array.from({ length: total }, (_, i) => (i * STEP >= from ? (v += per) : v)).join(' ');
  };

  function cases(m: AlertRulesModel): Case[] {
    const down = (server: string, state: string) => ({
      labels: { alertname: 'BackendServerDown', severity: 'warning', job: 'haproxy', instance: 'site-lb:8404', proxy: 'web', server, state },
      annotations: {
        summary: `HAProxy server ${server} of backend web is ${state}`,
        description: `The load balancer site-lb:8404 has sent no traffic to ${server} for ${m.backendDownForSeconds}s: its health check fails or its container is gone.`,
      },
    });
    const notReplicating = (extra: Record<string, string>) => ({
      labels: { alertname: 'ReplicaNotReplicating', severity: 'critical', job: 'mysqld', instance: 'site-db-replica-1-exporter:9104', node: 'site-db-replica-1', role: 'replica', ...extra },
      annotations: {
        summary: 'Replica site-db-replica-1 is not replicating',
        description: `For ${m.replicaAlertForSeconds}s, site-db-replica-1 has had a replication thread stopped, no replication status, or no database connection for its exporter: its reads go stale.`,
      },
    });
    // Labels with an empty value (master_uuid on MariaDB, channel_name…) do not exist in Prometheus.
    const slave = { master_host: 'site-db-primary' };
    const T = 20; // the moment each condition begins
    const before = (f: number) => T + f - STEP; // the last evaluation that must not fire
    const fires = (f: number) => T + f;
    const rb = m.replicaAlertForSeconds;
    const lagAbove = m.replicationLagSeconds + 1;
    const lagging = {
      labels: { alertname: 'ReplicaLagging', severity: 'warning', job: 'mysqld', instance: 'site-db-replica-1-exporter:9104', node: 'site-db-replica-1', role: 'replica', ...slave },
      annotations: {
        summary: `Replica site-db-replica-1 is ${lagAbove} s behind its source`,
        description: `site-db-replica-1 has been more than ${m.replicationLagSeconds} s behind its source for ${m.replicaAlertForSeconds}s.`,
      },
    };
    // A series the exporter stops exporting gets a staleness marker at the next scrape.
    const gone = `${steps(T, 1, 1, T / STEP)} stale`;

    return [
      {
        name: 'web-2 goes DOWN (failed health check); web-1 stays UP',
        series: [
          { series: `haproxy_server_status{${haproxy},proxy="web",server="web-1",state="UP"}`, values: steps(T, 1, 1) },
          { series: `haproxy_server_status{${haproxy},proxy="web",server="web-1",state="DOWN"}`, values: steps(T, 0, 0) },
          { series: `haproxy_server_status{${haproxy},proxy="web",server="web-2",state="UP"}`, values: steps(T, 1, 0) },
          { series: `haproxy_server_status{${haproxy},proxy="web",server="web-2",state="DOWN"}`, values: steps(T, 0, 1) },
        ],
        expect: [
          { at: T - STEP, alert: ALERT_NAMES.backendServerDown, firing: [] },
          { at: before(m.backendDownForSeconds), alert: ALERT_NAMES.backendServerDown, firing: [] },
          { at: fires(m.backendDownForSeconds), alert: ALERT_NAMES.backendServerDown, firing: [down('web-2', 'DOWN')] },
        ],
      },
      {
        name: 'web-3 goes into MAINT (its name no longer resolves)',
        series: [
          { series: `haproxy_server_status{${haproxy},proxy="web",server="web-3",state="UP"}`, values: steps(T, 1, 0) },
          { series: `haproxy_server_status{${haproxy},proxy="web",server="web-3",state="MAINT"}`, values: steps(T, 0, 1) },
        ],
        expect: [
          { at: before(m.backendDownForSeconds), alert: ALERT_NAMES.backendServerDown, firing: [] },
          { at: fires(m.backendDownForSeconds), alert: ALERT_NAMES.backendServerDown, firing: [down('web-3', 'MAINT')] },
        ],
      },
      {
        name: 'the replica IO thread stops (MariaDB / MySQL < 8.4 names)',
        series: [
          { series: `mysql_up{${replica}}`, values: steps(T, 1, 1) },
          { series: `mysql_slave_status_slave_io_running{${replica},${slaveLabels}}`, values: steps(T, 1, 0) },
          { series: `mysql_slave_status_slave_sql_running{${replica},${slaveLabels}}`, values: steps(T, 1, 1) },
          { series: `mysql_up{${primary}}`, values: steps(T, 1, 1) },
        ],
        expect: [
          { at: before(rb), alert: ALERT_NAMES.replicaNotReplicating, firing: [] },
          { at: fires(rb), alert: ALERT_NAMES.replicaNotReplicating, firing: [notReplicating(slave)] },
        ],
      },
      {
        name: 'the replica SQL thread stops (MySQL 8.4 names)',
        series: [
          { series: `mysql_up{${replica}}`, values: steps(T, 1, 1) },
          { series: `mysql_slave_status_replica_io_running{${replica},${slaveLabels}}`, values: steps(T, 1, 1) },
          { series: `mysql_slave_status_replica_sql_running{${replica},${slaveLabels}}`, values: steps(T, 1, 0) },
        ],
        expect: [
          { at: before(rb), alert: ALERT_NAMES.replicaNotReplicating, firing: [] },
          { at: fires(rb), alert: ALERT_NAMES.replicaNotReplicating, firing: [notReplicating(slave)] },
        ],
      },
      {
        name: "the replica's exporter cannot log in; the primary has no replication status and is fine",
        series: [
          { series: `mysql_up{${replica}}`, values: steps(T, 1, 0) },
          { series: `mysql_slave_status_slave_io_running{${replica},${slaveLabels}}`, values: gone },
          { series: `mysql_slave_status_slave_sql_running{${replica},${slaveLabels}}`, values: gone },
          { series: `mysql_up{${primary}}`, values: steps(T, 1, 1) },
        ],
        expect: [
          { at: before(rb), alert: ALERT_NAMES.replicaNotReplicating, firing: [] },
          { at: fires(rb), alert: ALERT_NAMES.replicaNotReplicating, firing: [notReplicating({})] },
        ],
      },
      {
        name: 'the replica reports no replication status at all (replication reset)',
        series: [
          { series: `mysql_up{${replica}}`, values: steps(T, 1, 1) },
          { series: `mysql_slave_status_slave_io_running{${replica},${slaveLabels}}`, values: gone },
        ],
        expect: [
          { at: before(rb), alert: ALERT_NAMES.replicaNotReplicating, firing: [] },
          { at: fires(rb), alert: ALERT_NAMES.replicaNotReplicating, firing: [notReplicating({})] },
        ],
      },
      {
        name: 'the replica lags (MariaDB names), and a lag at the threshold does not count',
        series: [
          { series: `mysql_slave_status_seconds_behind_master{${replica},${slaveLabels}}`, values: steps(T, m.replicationLagSeconds, lagAbove) },
        ],
        expect: [
          { at: T - STEP, alert: ALERT_NAMES.replicaLagging, firing: [] },
          { at: before(rb), alert: ALERT_NAMES.replicaLagging, firing: [] },
          { at: fires(rb), alert: ALERT_NAMES.replicaLagging, firing: [lagging] },
        ],
      },
      {
        name: 'the replica lags (MySQL 8.4 names)',
        series: [{ series: `mysql_slave_status_seconds_behind_source{${replica},${slaveLabels}}`, values: steps(T, 0, lagAbove) }],
        expect: [
          { at: before(rb), alert: ALERT_NAMES.replicaLagging, firing: [] },
          { at: fires(rb), alert: ALERT_NAMES.replicaLagging, firing: [lagging] },
        ],
      },
      {
        name: 'every response turns 5xx after an idle start (0/0 is no alert)',
        series: [
          { series: `haproxy_backend_http_responses_total{${haproxy},proxy="web",code="2xx"}`, values: counter(1e9, 0) },
          { series: `haproxy_backend_http_responses_total{${haproxy},proxy="web",code="5xx"}`, values: counter(T, 10) },
        ],
        expect: [
          { at: T - STEP, alert: ALERT_NAMES.high5xxRate, firing: [] },
          { at: before(m.errorRateForSeconds), alert: ALERT_NAMES.high5xxRate, firing: [] },
          {
            at: fires(m.errorRateForSeconds),
            alert: ALERT_NAMES.high5xxRate,
            firing: [
              {
                labels: { alertname: 'High5xxRate', severity: 'critical', instance: 'site-lb:8404', proxy: 'web' },
                annotations: {
                  summary: 'Backend web answers 100.0% of requests with 5xx',
                  description: `More than ${m.errorRatePercent}% of the responses of backend web on site-lb:8404 have been 5xx for ${m.errorRateForSeconds}s (rate over ${m.rateWindowSeconds}s).`,
                },
              },
            ],
          },
        ],
      },
    ];
  }

  it.each([
    ['the defaults', DEFAULT_ALERTS],
    ['other windows and thresholds', { backendDownForSeconds: 40, replicationLagSeconds: 5, replicaAlertForSeconds: 10, errorRatePercent: 50, errorRateForSeconds: 25, rateWindowSeconds: 120 }],
  ])('fire after their `for` window and not before, with %s', async (_, m: AlertRulesModel) => {
    const result = await promtool(['test', 'rules', 'tests.yml'], { 'alerts.yml': renderAlertRules(m), 'tests.yml': testFile(cases(m)) });
    expect(result.code, explain(result)).toBe(0);
    expect(result.stdout).toContain('SUCCESS');
  });

  it('compare the 5xx share with the threshold: just under never fires, just over does', async () => {
    const m = DEFAULT_ALERTS;
    // 2xx: 100 per step; 5xx: 5 per step is 4.8%, 6 per step 5.7%.
    const share = (per5xx: number, firing: boolean): Case => ({
      name: `${per5xx} 5xx per 100 2xx`,
      series: [
        { series: `haproxy_backend_http_responses_total{${haproxy},proxy="web",code="2xx"}`, values: counter(0, 100, 80) },
        { series: `haproxy_backend_http_responses_total{${haproxy},proxy="web",code="5xx"}`, values: counter(0, per5xx, 80) },
      ],
      expect: [
        {
          at: 350,
          alert: ALERT_NAMES.high5xxRate,
          firing: firing
            ? [
                {
                  labels: { alertname: 'High5xxRate', severity: 'critical', instance: 'site-lb:8404', proxy: 'web' },
                  annotations: {
                    summary: 'Backend web answers 5.7% of requests with 5xx',
                    description: 'More than 5% of the responses of backend web on site-lb:8404 have been 5xx for 60s (rate over 60s).',
                  },
                },
              ]
            : [],
        },
      ],
    });
    const result = await promtool(['test', 'rules', 'tests.yml'], { 'alerts.yml': renderAlertRules(m), 'tests.yml': testFile([share(5, false), share(6, true)]) });
    expect(result.code, explain(result)).toBe(0);
  });
});
