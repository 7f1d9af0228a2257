import { describe, expect, it } from 'vitest';
import { HaproxyConfigModel, HaproxyServer, renderDatabaseReadConfig, renderHaproxyConfig } from '../src/haproxy-config';
import { explain, haproxyCheck } from './support/binaries';

function server(n: number, backup = false): HaproxyServer {
  return { name: `web-${n}`, host: `site-web-${n}`, port: 80, backup };
}

/** What LoadBalancer hands the renderer by default, with three targets. */
function model(overrides: Partial<HaproxyConfigModel> = {}): HaproxyConfigModel {
  return {
    httpPort: 8080,
    monitorPort: 8404,
    monitorPath: '/healthz',
    balance: 'roundrobin',
    servers: [server(1), server(2), server(3)],
    healthCheck: { path: '/healthz', intervalSeconds: 2, rise: 2, fall: 3, timeoutSeconds: 2 },
    timeouts: { connectSeconds: 5, clientSeconds: 30, serverSeconds: 30, httpRequestSeconds: 10, queueSeconds: 30 },
    retries: 3,
    maxConnections: 4096,
    nameserver: '127.0.0.11:53',
    logEveryRequest: false,
    ...overrides,
  };
}

/** The lines of the `backend web` section, without indentation. */
function backend(cfg: string): string[] {
  const start = cfg.indexOf('\nbackend web\n');
  expect(start, cfg).toBeGreaterThan(0);
  return cfg
    .slice(start + 1)
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
}

describe('renderHaproxyConfig', () => {
  it('renders the complete file for a representative model', () => {
    // GIVEN three servers, the last one a backup, and a fractional check timeout
    const m = model({
      servers: [server(1), server(2), server(3, true)],
      healthCheck: { path: '/healthz', intervalSeconds: 2, rise: 2, fall: 3, timeoutSeconds: 1.5 },
    });
    // WHEN
    const cfg = renderHaproxyConfig(m);
    // THEN
    expect(cfg).toBe(`# Rendered by cdktf-distributed-web. Do not edit: changes are overwritten on deploy.
global
    log stdout format raw local0 info
    maxconn 4096
    # The image runs HAProxy as a non-root user: every bind below is an unprivileged port.

resolvers docker
    nameserver docker 127.0.0.11:53
    resolve_retries 3
    timeout resolve 1s
    timeout retry 1s
    hold valid 5s
    hold other 5s
    hold refused 5s
    hold nx 5s
    hold timeout 5s
    hold obsolete 5s
    accepted_payload_size 8192

defaults
    mode http
    log global
    option httplog
    option dontlognull
    # Log what went wrong (errors, retries, timeouts, 5xx), not every request: at thousands
    # of requests per second a log line each costs as much CPU as forwarding them.
    option dontlog-normal
    option forwardfor
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    timeout http-request 10s
    timeout queue 30s
    timeout check 1500ms
    timeout http-keep-alive 10s
    # A request whose server fails is tried again, on another server (redispatch).
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response junk-response response-timeout 502 503 504

frontend monitor
    mode http
    bind :8404
    monitor-uri /healthz
    # Prometheus metrics (HAProxy's built-in exporter); this port is never published.
    http-request use-service prometheus-exporter if { path /metrics }

frontend http
    bind :8080
    http-request set-header X-Forwarded-Proto http
    # Only connection failures are retried for methods that may change state.
    http-request disable-l7-retry if !METH_GET
    default_backend web

backend web
    balance roundrobin
    # Idle connections to the servers are shared by all clients. The servers are Nginx,
    # which keeps an idle connection 65 s, while HAProxy purges its idle ones within
    # seconds (pool-purge-delay 5s); a GET that meets a closed one is retried.
    http-reuse always
    option httpchk
    http-check send meth GET uri /healthz ver HTTP/1.1 hdr Host localhost
    http-check expect status 200
    # Servers are found through Docker DNS: a replaced container is followed without a reload.
    # A server that does not resolve yet starts without an address (not through libc, which
    # would block the start) and joins once the resolvers find it and its checks pass.
    # Three failed connections of live traffic in a row take a server out at once,
    # without waiting for the health check to fall.
    default-server check inter 2s rise 2 fall 3 observe layer4 error-limit 3 on-error mark-down resolvers docker resolve-prefer ipv4 init-addr last,none
    server web-1 site-web-1:80
    server web-2 site-web-2:80
    server web-3 site-web-3:80 backup
`);
  });

  describe('balance algorithm', () => {
    it.each(['roundrobin', 'leastconn'])('renders balance %s without a hash type', (balance) => {
      // GIVEN / WHEN
      const lines = backend(renderHaproxyConfig(model({ balance })));
      // THEN
      expect(lines[1]).toBe(`balance ${balance}`);
      expect(lines).not.toContain('hash-type consistent');
    });

    it('adds a consistent hash to balance source, so a server change remaps few clients', () => {
      // GIVEN / WHEN
      const lines = backend(renderHaproxyConfig(model({ balance: 'source' })));
      // THEN
      expect(lines.slice(1, 3)).toEqual(['balance source', 'hash-type consistent']);
    });
  });

  describe('backup servers', () => {
    it('marks only backup servers, keeping their order', () => {
      // GIVEN
      const m = model({ servers: [server(1), server(2, true), server(3)] });
      // WHEN
      const servers = backend(renderHaproxyConfig(m)).filter((l) => l.startsWith('server '));
      // THEN
      expect(servers).toEqual(['server web-1 site-web-1:80', 'server web-2 site-web-2:80 backup', 'server web-3 site-web-3:80']);
    });

    it.each([
      [0, false],
      [1, false],
      [2, true],
      [3, true],
    ])('with %i backup servers, option allbackups is %s', (backups, expected) => {
      // GIVEN four servers, the last `backups` of them backups
      const servers = [1, 2, 3, 4].map((n) => server(n, n > 4 - backups));
      // WHEN
      const cfg = renderHaproxyConfig(model({ servers }));
      // THEN
      expect(cfg.includes('\n    option allbackups\n')).toBe(expected);
      expect(cfg.split(' backup\n').length - 1).toBe(backups);
    });

    it('renders each server with its own host and port', () => {
      const cfg = renderHaproxyConfig(model({ servers: [{ name: 'a', host: 'app-a.internal', port: 8081, backup: false }] }));
      expect(cfg).toContain('\n    server a app-a.internal:8081\n');
    });
  });

  describe('health check', () => {
    it('probes the configured path with the configured inter, rise and fall', () => {
      // GIVEN
      const m = model({ healthCheck: { path: '/status/ready', intervalSeconds: 7, rise: 4, fall: 5, timeoutSeconds: 3 } });
      // WHEN
      const cfg = renderHaproxyConfig(m);
      // THEN
      expect(cfg).toContain('\n    http-check send meth GET uri /status/ready ver HTTP/1.1 hdr Host localhost\n');
      expect(cfg).toContain('\n    http-check expect status 200\n');
      expect(cfg).toMatch(/\n {4}default-server check inter 7s rise 4 fall 5 /);
      expect(cfg).toContain('\n    timeout check 3s\n');
    });

    it('renders a fractional check interval in milliseconds', () => {
      const cfg = renderHaproxyConfig(model({ healthCheck: { path: '/', intervalSeconds: 0.5, rise: 1, fall: 1, timeoutSeconds: 0.25 } }));
      expect(cfg).toContain('default-server check inter 500ms rise 1 fall 1 ');
      expect(cfg).toContain('\n    timeout check 250ms\n');
    });
  });

  describe('timeouts', () => {
    it('renders each timeout in seconds, or in milliseconds when fractional', () => {
      // GIVEN
      const m = model({
        timeouts: { connectSeconds: 0.5, clientSeconds: 45, serverSeconds: 1.25, httpRequestSeconds: 12, queueSeconds: 0.001 },
      });
      // WHEN
      const cfg = renderHaproxyConfig(m);
      // THEN
      expect(cfg).toContain('\n    timeout connect 500ms\n');
      expect(cfg).toContain('\n    timeout client 45s\n');
      expect(cfg).toContain('\n    timeout server 1250ms\n');
      expect(cfg).toContain('\n    timeout http-request 12s\n');
      expect(cfg).toContain('\n    timeout queue 1ms\n');
    });
  });

  describe('retries', () => {
    it('retries failed requests on another server, only for idempotent methods at layer 7', () => {
      // GIVEN / WHEN
      const cfg = renderHaproxyConfig(model({ retries: 5 }));
      // THEN
      expect(cfg).toContain('\n    retries 5\n    option redispatch 1\n');
      expect(cfg).toContain('\n    retry-on conn-failure empty-response junk-response response-timeout 502 503 504\n');
      expect(cfg).toContain('\n    http-request disable-l7-retry if !METH_GET\n');
    });
  });

  describe('logging', () => {
    it('logs only what went wrong by default, every request when asked', () => {
      // GIVEN / WHEN
      const quiet = renderHaproxyConfig(model());
      const verbose = renderHaproxyConfig(model({ logEveryRequest: true }));
      // THEN both keep HTTP log lines for what is logged
      expect(quiet).toContain('\n    option httplog\n');
      expect(verbose).toContain('\n    option httplog\n');
      expect(quiet).toContain('\n    option dontlog-normal\n');
      expect(verbose).not.toContain('dontlog-normal');
    });
  });

  describe('server connections', () => {
    it('shares idle server connections between clients', () => {
      expect(backend(renderHaproxyConfig(model()))).toContain('http-reuse always');
    });
  });

  describe('name resolution', () => {
    it('resolves servers through the docker resolvers and starts even when a name does not resolve', () => {
      // GIVEN / WHEN
      const cfg = renderHaproxyConfig(model({ nameserver: '10.0.0.2:5353' }));
      // THEN
      expect(cfg).toContain('\nresolvers docker\n    nameserver docker 10.0.0.2:5353\n');
      const defaults = backend(cfg).find((l) => l.startsWith('default-server '));
      expect(defaults).toMatch(/ resolvers docker /);
      // Not libc: it would block the start on names that do not exist yet.
      expect(defaults).toMatch(/ init-addr last,none$/);
    });
  });

  it('binds the HTTP and monitor frontends on the given ports, with the monitor path', () => {
    const cfg = renderHaproxyConfig(model({ httpPort: 18080, monitorPort: 18404, monitorPath: '/lb-health', maxConnections: 100 }));
    expect(cfg).toContain('\nfrontend monitor\n    mode http\n    bind :18404\n    monitor-uri /lb-health\n');
    expect(cfg).toContain('\nfrontend http\n    bind :18080\n');
    expect(cfg).toContain('\n    maxconn 100\n');
  });

  it('contains no Terraform template syntax', () => {
    const cfg = renderHaproxyConfig(model({ balance: 'source', servers: [server(1), server(2, true), server(3, true)] }));
    expect(cfg).not.toMatch(/[$%]\{/);
  });
});

describe('haproxy -c on rendered configurations', () => {
  const variants: [string, HaproxyConfigModel][] = [
    ['the defaults', model()],
    ['round robin with one backup', model({ servers: [server(1), server(2), server(3, true)] })],
    ['leastconn with two backups', model({ balance: 'leastconn', servers: [server(1), server(2, true), server(3, true)] })],
    ['source hashing', model({ balance: 'source' })],
    ['every request logged', model({ logEveryRequest: true })],
    [
      'fractional timeouts and a single server',
      model({
        servers: [server(1)],
        healthCheck: { path: '/ping', intervalSeconds: 0.5, rise: 1, fall: 1, timeoutSeconds: 0.25 },
        timeouts: { connectSeconds: 0.5, clientSeconds: 1.5, serverSeconds: 2.25, httpRequestSeconds: 0.75, queueSeconds: 1 },
        retries: 0,
      }),
    ],
  ];

  it.each(variants)('accepts %s, although no server name resolves on this machine', async (_name, m) => {
    // GIVEN / WHEN
    const result = await haproxyCheck(renderHaproxyConfig(m));
    // THEN
    expect(result.code, explain(result)).toBe(0);
    expect(result.stdout + result.stderr).toMatch(/Configuration file is valid/);
  });

  it('fails when init-addr does not end with none: the names really do not resolve here', async () => {
    // GIVEN the rendered file without the `none` fallback of init-addr
    const cfg = renderHaproxyConfig(model());
    const withoutNone = cfg.replace('init-addr last,none', 'init-addr last,libc');
    expect(withoutNone).not.toBe(cfg);
    // WHEN
    const result = await haproxyCheck(withoutNone);
    // THEN
    expect(result.code, explain(result)).not.toBe(0);
    expect(result.stderr).toMatch(/could not resolve address 'site-web-1'/);
  });

  it('fails when the model holds a value HAProxy rejects', async () => {
    // GIVEN an unknown balance algorithm (the LoadBalancer's enum check keeps it out)
    const result = await haproxyCheck(renderHaproxyConfig(model({ balance: 'fastest' })));
    // THEN
    expect(result.code, explain(result)).not.toBe(0);
    expect(result.stderr).toMatch(/balance only supports/);
  });
});

describe('renderDatabaseReadConfig', () => {
  const readModel = (servers = [server(1), { name: 'primary', host: 'site-db-primary', port: 3306, backup: true }]) =>
    renderDatabaseReadConfig({
      port: 3306,
      monitorPort: 8404,
      monitorPath: '/healthz',
      servers,
      checkIntervalSeconds: 2,
      rise: 2,
      fall: 3,
      maxConnections: 2000,
      nameserver: '127.0.0.11:53',
    });

  it('balances TCP over the replicas with the primary as backup, moving connections as servers fall and rise', () => {
    const cfg = readModel();
    expect(cfg).toContain('\ndefaults\n    mode tcp\n');
    expect(cfg).toContain('frontend mysql_read\n    bind :3306\n    default_backend replicas\n');
    expect(cfg).toContain('    balance leastconn\n');
    expect(cfg).toContain('on-marked-down shutdown-sessions on-marked-up shutdown-backup-sessions resolvers docker');
    expect(cfg).toContain('    server primary site-db-primary:3306 backup\n');
    expect(cfg).toContain('frontend monitor\n    mode http\n    bind :8404\n');
  });

  it('passes haproxy -c, although no server name resolves on this machine', async () => {
    const result = await haproxyCheck(readModel());
    expect(result.code, explain(result)).toBe(0);
  });
});

describe('firewall rules', () => {
  it('pass haproxy -c with an allowlist, a rate limit and a body limit, denying before anything else', async () => {
    const cfg = renderHaproxyConfig(
      model({ allowedSourceCidrs: ['10.0.0.0/8', '2001:db8::/32'], rateLimit: { requests: 100, windowSeconds: 10 }, maxRequestBodyBytes: 1048576 }),
    );
    const frontend = cfg.slice(cfg.indexOf('frontend http'), cfg.indexOf('\nbackend web'));
    expect(frontend.indexOf('deny_status 403')).toBeLessThan(frontend.indexOf('track-sc0'));
    expect(frontend.indexOf('deny_status 429')).toBeLessThan(frontend.indexOf('default_backend'));
    const result = await haproxyCheck(cfg);
    expect(result.code, explain(result)).toBe(0);
  });
});
