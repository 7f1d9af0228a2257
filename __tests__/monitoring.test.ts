import { TerraformStack, TerraformVariable } from 'cdktf';
import { describe, expect, it } from 'vitest';
import {
  DistributedWebInfrastructure,
  DistributedWebInfrastructureProps,
  Monitoring,
  MonitoringProps,
  PROMETHEUS_PATHS,
  renderAlertRules,
} from '../src';
import { explain, promtool } from './support/binaries';
import { labels, newStack, synth, uploaded } from './support/synth';

const database = { password: 'app-pw', rootPassword: 'root-pw', replicationPassword: 'repl-pw', monitoringPassword: 'mon-pw' };

function site(stack: TerraformStack, props: Partial<DistributedWebInfrastructureProps> = {}): DistributedWebInfrastructure {
  return new DistributedWebInfrastructure(stack, 'site', { webServers: { count: 2 }, database, ...props });
}

function monitored(props: Partial<MonitoringProps> = {}, siteProps: Partial<DistributedWebInfrastructureProps> = {}) {
  const stack = newStack();
  const infra = site(stack, siteProps);
  const monitoring = new Monitoring(stack, 'monitoring', { site: infra, databasePassword: 'mon-pw', ...props });
  return { stack, infra, monitoring };
}

function env(container: any): Record<string, string> {
  return Object.fromEntries((container.env ?? []).map((e: string) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
}

const network = (c: any) => c.networks_advanced.map((n: any) => n.name);
const FRONT = expect.stringContaining('FrontNetwork');
const BACK = expect.stringContaining('BackNetwork');

describe('Monitoring', () => {
  it('runs Prometheus on both networks, published on loopback only, with the official images by default', () => {
    // GIVEN / WHEN
    const { stack, monitoring } = monitored();
    const out = synth(stack);
    // THEN
    const prometheus = out.named('docker_container', 'site-prometheus');
    expect(network(prometheus)).toEqual([FRONT, BACK]);
    expect(prometheus.ports).toEqual([{ internal: 9090, external: 9090, ip: '127.0.0.1', protocol: 'tcp' }]);
    expect(prometheus.command).toEqual([
      '--config.file=/etc/prometheus/prometheus.yml',
      '--storage.tsdb.path=/prometheus',
      '--storage.tsdb.retention.time=360h',
      '--web.listen-address=:9090',
    ]);
    expect(prometheus).toMatchObject({ wait: true, wait_timeout: 120, restart: 'unless-stopped', security_opts: ['no-new-privileges:true'] });
    expect(prometheus.capabilities).toEqual({ drop: ['ALL'] });
    expect(prometheus.healthcheck.test).toEqual(['CMD', 'wget', '-q', '-O', '/dev/null', 'http://127.0.0.1:9090/-/ready']);
    expect(labels(prometheus)).toMatchObject({ 'io.cdktf-distributed-web.project': 'site', 'io.cdktf-distributed-web.role': 'monitoring' });
    const images = out.resources('docker_image').map((i) => i.name);
    expect(images).toEqual(expect.arrayContaining(['prom/prometheus:v2.55.1', 'prom/mysqld-exporter:v0.16.0', 'nginx/nginx-prometheus-exporter:1.3.0']));
    expect(monitoring.url).toBe('http://127.0.0.1:9090');
    expect(monitoring.prometheus.node.id).toBe('Resource');
  });

  it('runs one Nginx exporter per web server on the front network, scraping its stub_status', () => {
    const { stack, monitoring } = monitored();
    const out = synth(stack);
    expect(monitoring.nginxExporters).toHaveLength(2);
    for (const [i, name] of ['web-1', 'web-2'].entries()) {
      const exporter = out.named('docker_container', `site-${name}-nginx-exporter`);
      expect(exporter.command).toEqual([`--nginx.scrape-uri=http://site-${name}:8081/nginx_status`, '--web.listen-address=:9113']);
      expect(network(exporter)).toEqual([FRONT]);
      expect(exporter.ports).toBeUndefined();
      expect(exporter.depends_on).toEqual([expect.stringMatching(new RegExp(`^docker_container\\.site_WebServer${i + 1}_[0-9A-F]+$`))]);
      // The official image is FROM scratch: nothing to probe with, so no health check and no wait.
      expect(exporter.healthcheck).toBeUndefined();
      expect(exporter.wait).toBeUndefined();
      expect(labels(exporter)['io.cdktf-distributed-web.role']).toBe('nginx-exporter');
    }
  });

  it('runs one mysqld exporter per database node on the back network, logged in as the exporter user', () => {
    const { stack, monitoring } = monitored();
    const out = synth(stack);
    expect(monitoring.mysqldExporters).toHaveLength(2);
    for (const host of ['site-db-primary', 'site-db-replica-1']) {
      const exporter = out.named('docker_container', `${host}-exporter`);
      expect(exporter.command).toEqual([
        `--mysqld.address=${host}:3306`,
        '--mysqld.username=exporter',
        '--collect.slave_status',
        '--web.listen-address=:9104',
      ]);
      expect(env(exporter)).toEqual({ MYSQLD_EXPORTER_PASSWORD: 'mon-pw' });
      expect(network(exporter)).toEqual([BACK]);
      expect(exporter.ports).toBeUndefined();
      expect(exporter).toMatchObject({ wait: true, wait_timeout: 60 });
      expect(exporter.healthcheck.test).toEqual(['CMD', 'wget', '-q', '-O', '/dev/null', 'http://127.0.0.1:9104/']);
      expect(labels(exporter)['io.cdktf-distributed-web.role']).toBe('mysqld-exporter');
    }
    expect(out.named('docker_container', 'site-db-replica-1-exporter').depends_on).toEqual([
      expect.stringMatching(/^docker_container\.site_Database_replica-1_[0-9A-F]+$/),
    ]);
  });

  it('scrapes HAProxy, every exporter and itself, with node and server labels', () => {
    const { stack, monitoring } = monitored();
    const cfg = uploaded(synth(stack).named('docker_container', 'site-prometheus'), PROMETHEUS_PATHS.config);
    expect(cfg).toBe(monitoring.renderConfig());
    expect(cfg).toContain('  scrape_interval: 5s\n  scrape_timeout: 5s\n  evaluation_interval: 5s\n');
    expect(cfg).toContain('rule_files:\n  - "/etc/prometheus/alerts.yml"\n');
    expect(cfg).toContain('  - job_name: "haproxy"\n    metrics_path: "/metrics"\n    static_configs:\n      - targets: ["site-lb:8404"]\n');
    expect(cfg).toContain('      - targets: ["site-web-2-nginx-exporter:9113"]\n        labels:\n          web_server: "web-2"\n');
    expect(cfg).toContain('      - targets: ["site-db-primary-exporter:9104"]\n        labels:\n          node: "site-db-primary"\n          role: "primary"\n');
    expect(cfg).toContain('      - targets: ["site-db-replica-1-exporter:9104"]\n        labels:\n          node: "site-db-replica-1"\n          role: "replica"\n');
    expect(cfg).toContain('  - job_name: "prometheus"\n    metrics_path: "/metrics"\n    static_configs:\n      - targets: ["localhost:9090"]\n');
  });

  it('uploads the alert rules with the default windows, and both files pass the real promtool', async () => {
    const { stack, monitoring } = monitored();
    const prometheus = synth(stack).named('docker_container', 'site-prometheus');
    const rules = uploaded(prometheus, PROMETHEUS_PATHS.rules);
    expect(rules).toBe(
      renderAlertRules({
        backendDownForSeconds: 15,
        replicationLagSeconds: 30,
        replicaAlertForSeconds: 30,
        errorRatePercent: 5,
        errorRateForSeconds: 60,
        rateWindowSeconds: 60,
      }),
    );
    expect(monitoring.alerts.backendDownForSeconds).toBe(15);
    // promtool follows rule_files relative to the config: check the pair as uploaded, moved next to each other.
    const cfg = uploaded(prometheus, PROMETHEUS_PATHS.config).replace(PROMETHEUS_PATHS.rules, 'alerts.yml');
    const result = await promtool(['check', 'config', 'prometheus.yml'], { 'prometheus.yml': cfg, 'alerts.yml': rules });
    expect(result.code, explain(result)).toBe(0);
    expect(result.stdout).toContain('1 rule files found');
  });

  it('takes the port, host address, images, intervals, retention and alert windows from its props', () => {
    const { stack, monitoring } = monitored({
      port: 19090,
      hostAddress: '0.0.0.0',
      prometheusImage: 'local/prometheus:2',
      mysqldExporterImage: 'local/mysqld-exporter:1',
      nginxExporterImage: 'local/nginx-exporter:1',
      scrapeIntervalSeconds: 30,
      retentionHours: 48,
      alerts: { backendDownForSeconds: 60, replicationLagSeconds: 10, replicaAlertForSeconds: 0, errorRatePercent: 1.5, errorRateForSeconds: 300 },
      containerHealthCheck: { intervalSeconds: 10 },
    });
    const out = synth(stack);
    const prometheus = out.named('docker_container', 'site-prometheus');
    expect(prometheus.ports).toEqual([{ internal: 9090, external: 19090, ip: '0.0.0.0', protocol: 'tcp' }]);
    expect(prometheus.command).toContain('--storage.tsdb.retention.time=48h');
    expect(prometheus.healthcheck.interval).toBe('10s');
    expect(out.named('docker_container', 'site-db-primary-exporter').healthcheck.interval).toBe('10s');
    expect(out.resources('docker_image').map((i) => i.name)).toEqual(
      expect.arrayContaining(['local/prometheus:2', 'local/mysqld-exporter:1', 'local/nginx-exporter:1']),
    );
    const cfg = uploaded(prometheus, PROMETHEUS_PATHS.config);
    expect(cfg).toContain('  scrape_interval: 30s\n  scrape_timeout: 10s\n  evaluation_interval: 30s\n');
    const rules = uploaded(prometheus, PROMETHEUS_PATHS.rules);
    expect(rules).toContain('        for: 60s\n');
    expect(rules).toContain('        for: 0s\n');
    expect(rules).toContain('        for: 300s\n');
    expect(rules).toContain(') > 10\n');
    expect(rules).toContain('  * 100 > 1.5\n');
    // rate() spans four scrapes once they are longer than 15 s.
    expect(rules).toContain('[120s]');
    expect(monitoring.url).toBe('http://127.0.0.1:19090');
  });

  it('changes the health-check label when the probe changes, so the container is replaced', () => {
    const hash = (intervalSeconds: number) => {
      const { stack } = monitored({ containerHealthCheck: { intervalSeconds } });
      return labels(synth(stack).named('docker_container', 'site-prometheus'))['io.cdktf-distributed-web.healthcheck-hash'];
    };
    expect(hash(5)).toBe(hash(5));
    expect(hash(5)).not.toBe(hash(7));
  });

  it('accepts the database password as a token and keeps it out of the synthesized JSON', () => {
    const stack = newStack();
    const secret = new TerraformVariable(stack, 'monitoring_password', { type: 'string', sensitive: true }).stringValue;
    const infra = site(stack, { database: { ...database, monitoringPassword: secret } });
    new Monitoring(stack, 'monitoring', { site: infra, databasePassword: secret });
    const out = synth(stack);
    expect(env(out.named('docker_container', 'site-db-replica-1-exporter'))).toEqual({ MYSQLD_EXPORTER_PASSWORD: '${var.monitoring_password}' });
    expect(JSON.stringify(out.json)).not.toContain('mon-pw');
  });

  it('follows the site: its name, its web servers, its replicas', () => {
    const { stack } = monitored({}, { name: 'shop', webServers: { count: 3 }, database: { ...database, replicas: 2 } });
    const names = synth(stack)
      .resources('docker_container')
      .map((c) => c.name)
      .filter((n: string) => n.endsWith('-exporter') || n.endsWith('-prometheus'));
    expect(names.sort()).toEqual([
      'shop-db-primary-exporter',
      'shop-db-replica-1-exporter',
      'shop-db-replica-2-exporter',
      'shop-prometheus',
      'shop-web-1-nginx-exporter',
      'shop-web-2-nginx-exporter',
      'shop-web-3-nginx-exporter',
    ]);
  });

  describe('validation', () => {
    const cases: [string, Partial<MonitoringProps>, RegExp][] = [
      ['fails when the port is out of range', { port: 0 }, /monitoring: 'port' must be an integer from 1 to 65535, got 0/],
      ['fails when the host address is not an IPv4 address', { hostAddress: 'localhost' }, /'hostAddress' must be an IPv4 address .*got "localhost"/],
      ['fails when the Prometheus image is not an image reference', { prometheusImage: 'Prom/Prometheus' }, /'prometheusImage' must be a Docker image reference .*got "Prom\/Prometheus"/],
      ['fails when the mysqld exporter image is not an image reference', { mysqldExporterImage: 'a b' }, /'mysqldExporterImage' must be a Docker image reference/],
      ['fails when the Nginx exporter image is not an image reference', { nginxExporterImage: '' }, /'nginxExporterImage' must be a Docker image reference .*got ""/],
      ['fails when the scrape interval is not a whole number of seconds', { scrapeIntervalSeconds: 2.5 }, /'scrapeIntervalSeconds' must be an integer from 1 to 3600, got 2.5/],
      ['fails when the scrape interval is zero', { scrapeIntervalSeconds: 0 }, /'scrapeIntervalSeconds' must be an integer from 1 to 3600, got 0/],
      ['fails when the retention is zero', { retentionHours: 0 }, /'retentionHours' must be an integer from 1 to 87600, got 0/],
      ['fails when a backend-down window is negative', { alerts: { backendDownForSeconds: -1 } }, /'alerts.backendDownForSeconds' must be an integer from 0 to 86400, got -1/],
      ['fails when a replica window is fractional', { alerts: { replicaAlertForSeconds: 1.5 } }, /'alerts.replicaAlertForSeconds' must be an integer from 0 to 86400, got 1.5/],
      ['fails when an error-rate window is too long', { alerts: { errorRateForSeconds: 86_401 } }, /'alerts.errorRateForSeconds' must be an integer from 0 to 86400, got 86401/],
      ['fails when the lag threshold is zero', { alerts: { replicationLagSeconds: 0 } }, /'alerts.replicationLagSeconds' must be a number greater than 0 and at most 86400, got 0/],
      ['fails when the error rate is over 100 percent', { alerts: { errorRatePercent: 101 } }, /'alerts.errorRatePercent' must be a number greater than 0 and at most 100, got 101/],
      ['fails when the error rate is zero', { alerts: { errorRatePercent: 0 } }, /'alerts.errorRatePercent' must be a number greater than 0 and at most 100, got 0/],
      ['fails when the database password is empty', { databasePassword: '' }, /'databasePassword' must be a non-empty string, got ""/],
      ['fails when the health check is invalid', { containerHealthCheck: { retries: 0 } }, /'containerHealthCheck.retries' must be an integer from 1 to 100, got 0/],
      ['fails when Prometheus would publish the load balancer\'s port', { port: 8080 }, /'port' must differ from the load balancer's port on the same host address, got 8080 on 127.0.0.1 \(the load balancer publishes 8080 on 0.0.0.0\)/],
    ];
    it.each(cases)('%s', (_, props, message) => {
      expect(() => monitored(props)).toThrow(message);
    });

    it("fails when the database has no exporter user (no 'monitoringPassword')", () => {
      expect(() => monitored({}, { database: { ...database, monitoringPassword: undefined } })).toThrow(
        /monitoring: 'databasePassword' is the password of the database's "exporter" user, but the site's database has none: give the database 'monitoringPassword'/,
      );
    });

    it('fails when the site is missing (a JavaScript caller)', () => {
      const stack = newStack();
      expect(() => new Monitoring(stack, 'monitoring', { databasePassword: 'x' } as unknown as MonitoringProps)).toThrow(
        /monitoring: 'site' must be a DistributedWebInfrastructure, got undefined/,
      );
    });

    it('allows the load balancer\'s port number on another host address', () => {
      expect(() => monitored({ port: 8080, hostAddress: '127.0.0.2' }, { loadBalancer: { hostAddress: '127.0.0.1' } })).not.toThrow();
    });

    it('fails when a value written into the rendered files is a token', () => {
      const stack = newStack();
      const infra = site(stack);
      const seconds = new TerraformVariable(stack, 'seconds', { type: 'number' }).numberValue;
      expect(() => new Monitoring(stack, 'a', { site: infra, databasePassword: 'x', scrapeIntervalSeconds: seconds })).toThrow(
        /a: 'scrapeIntervalSeconds' must be a plain number: it is written into Prometheus' files at synthesis, got an unresolved token/,
      );
      expect(() => new Monitoring(stack, 'b', { site: infra, databasePassword: 'x', alerts: { errorRatePercent: seconds } })).toThrow(
        /b: 'alerts.errorRatePercent' must be a plain number/,
      );
    });

    it('skips checks of unresolved tokens', () => {
      const stack = newStack();
      const infra = site(stack);
      const port = new TerraformVariable(stack, 'port', { type: 'number' }).numberValue;
      expect(() => new Monitoring(stack, 'monitoring', { site: infra, databasePassword: 'x', port })).not.toThrow();
    });
  });
});
