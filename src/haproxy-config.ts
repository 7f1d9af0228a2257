/**
 * Pure renderer for haproxy.cfg: a typed model in, the file's text out.
 *
 * No constructs here, so the output can be unit-tested exactly and checked with
 * `haproxy -c` apart from any stack.
 *
 * @see https://docs.haproxy.org/2.6/configuration.html
 */

/** One server of the HTTP backend. */
export interface HaproxyServer {
  /** Server name in HAProxy (stats, logs). */
  readonly name: string;
  /** Host name resolved through Docker's DNS. */
  readonly host: string;
  readonly port: number;
  /** A backup server gets traffic only when no active server is up. */
  readonly backup: boolean;
}

export interface HaproxyHealthCheck {
  readonly path: string;
  readonly intervalSeconds: number;
  readonly rise: number;
  readonly fall: number;
  readonly timeoutSeconds: number;
}

export interface HaproxyTimeouts {
  readonly connectSeconds: number;
  readonly clientSeconds: number;
  readonly serverSeconds: number;
  readonly httpRequestSeconds: number;
  readonly queueSeconds: number;
}

export interface HaproxyConfigModel {
  /** Unprivileged port the HTTP frontend binds inside the container. */
  readonly httpPort: number;
  /** Port of the monitoring frontend (`monitor-uri`), used by the container health check. */
  readonly monitorPort: number;
  readonly monitorPath: string;
  /**
   * Serve the HTML stats page at `/stats` on the monitoring frontend, behind basic auth
   * for user `admin`; the password is read from this environment variable of the HAProxy
   * process (HAProxy expands `"${VAR}"`), so it never appears in the file.
   */
  readonly statsPasswordEnv?: string;
  /** `balance` algorithm: `roundrobin`, `leastconn` or `source`. */
  readonly balance: string;
  readonly servers: HaproxyServer[];
  readonly healthCheck: HaproxyHealthCheck;
  readonly timeouts: HaproxyTimeouts;
  /** Connection attempts to servers before giving up (`retries`). */
  readonly retries: number;
  readonly maxConnections: number;
  /** Name server that resolves the servers' host names, `127.0.0.11:53` in Docker. */
  readonly nameserver: string;
}

function seconds(value: number): string {
  return Number.isInteger(value) ? `${value}s` : `${Math.round(value * 1000)}ms`;
}

/** Renders haproxy.cfg. */
export function renderHaproxyConfig(model: HaproxyConfigModel): string {
  const t = model.timeouts;
  const hc = model.healthCheck;
  const backups = model.servers.filter((s) => s.backup).length;
  const lines: string[] = [
    '# Rendered by cdktf-distributed-web. Do not edit: changes are overwritten on deploy.',
    'global',
    '    log stdout format raw local0 info',
    `    maxconn ${model.maxConnections}`,
    '    # The image runs HAProxy as a non-root user: every bind below is an unprivileged port.',
    '',
    'resolvers docker',
    `    nameserver docker ${model.nameserver}`,
    '    resolve_retries 3',
    '    timeout resolve 1s',
    '    timeout retry 1s',
    '    hold valid 5s',
    '    hold other 5s',
    '    hold refused 5s',
    '    hold nx 5s',
    '    hold timeout 5s',
    '    hold obsolete 5s',
    '    accepted_payload_size 8192',
    '',
    'defaults',
    '    mode http',
    '    log global',
    '    option httplog',
    '    option dontlognull',
    '    option forwardfor',
    `    timeout connect ${seconds(t.connectSeconds)}`,
    `    timeout client ${seconds(t.clientSeconds)}`,
    `    timeout server ${seconds(t.serverSeconds)}`,
    `    timeout http-request ${seconds(t.httpRequestSeconds)}`,
    `    timeout queue ${seconds(t.queueSeconds)}`,
    `    timeout check ${seconds(hc.timeoutSeconds)}`,
    '    timeout http-keep-alive 10s',
    '    # A request whose server fails is tried again, on another server (redispatch).',
    `    retries ${model.retries}`,
    '    option redispatch 1',
    '    retry-on conn-failure empty-response junk-response response-timeout 502 503 504',
    '',
    'frontend monitor',
    `    bind :${model.monitorPort}`,
    `    monitor-uri ${model.monitorPath}`,
    '    # Prometheus metrics (HAProxy\'s built-in exporter); this port is never published.',
    '    http-request use-service prometheus-exporter if { path /metrics }',
    ...(model.statsPasswordEnv
      ? ['    stats enable', '    stats uri /stats', '    stats refresh 10s', `    stats auth "admin:\${${model.statsPasswordEnv}}"`]
      : []),
    '',
    'frontend http',
    `    bind :${model.httpPort}`,
    '    # Only connection failures are retried for methods that may change state.',
    '    http-request disable-l7-retry if !METH_GET',
    '    default_backend web',
    '',
    'backend web',
    `    balance ${model.balance}`,
    ...(model.balance === 'source' ? ['    hash-type consistent'] : []),
    ...(backups > 1 ? ['    option allbackups'] : []),
    '    option httpchk',
    `    http-check send meth GET uri ${hc.path} ver HTTP/1.1 hdr Host localhost`,
    '    http-check expect status 200',
    '    # Servers are found through Docker DNS: a replaced container is followed without a reload.',
    '    # Three failed connections of live traffic in a row take a server out at once,',
    '    # without waiting for the health check to fall.',
    `    default-server check inter ${seconds(hc.intervalSeconds)} rise ${hc.rise} fall ${hc.fall} observe layer4 error-limit 3 on-error mark-down resolvers docker resolve-prefer ipv4 init-addr last,libc,none`,
    ...model.servers.map((s) => `    server ${s.name} ${s.host}:${s.port}${s.backup ? ' backup' : ''}`),
    '',
  ];
  return lines.join('\n');
}
