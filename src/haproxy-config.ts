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
  /** TLS termination; plain HTTP only when undefined. */
  readonly tls?: HaproxyTls;
  /** Client networks allowed in (`src` ACL); every client when undefined. */
  readonly allowedSourceCidrs?: string[];
  /** Per-client request rate limit, tracked in a stick table; none when undefined. */
  readonly rateLimit?: HaproxyRateLimit;
  /** Largest request body accepted, by its Content-Length; no limit when undefined. */
  readonly maxRequestBodyBytes?: number;
  /**
   * Log every request; when false (`option dontlog-normal`) only what went wrong is logged:
   * errors, retries, redispatches, timeouts and 5xx answers.
   */
  readonly logEveryRequest: boolean;
}

export interface HaproxyTls {
  /** Unprivileged port of the TLS listener inside the container. */
  readonly port: number;
  /** Path of the PEM file (certificate chain and private key) in the container. */
  readonly certificatePath: string;
  /** Redirect plain HTTP to HTTPS with a 301. */
  readonly redirectHttp: boolean;
  /** `Strict-Transport-Security` max-age on HTTPS answers; no header when 0. */
  readonly hstsMaxAgeSeconds: number;
}

export interface HaproxyRateLimit {
  /** Requests a client may make per window; more are answered 429. */
  readonly requests: number;
  readonly windowSeconds: number;
}

/**
 * TLS 1.2 as the minimum, forward-secret AEAD ciphers only (Mozilla's "intermediate"
 * profile), no session tickets.
 * @see https://ssl-config.mozilla.org/#server=haproxy&config=intermediate
 */
export const TLS_CIPHERS =
  'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305';
export const TLS_CIPHERSUITES = 'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256';

function seconds(value: number): string {
  return Number.isInteger(value) ? `${value}s` : `${Math.round(value * 1000)}ms`;
}

/** `global` and `resolvers docker`: shared by every HAProxy we render. */
function commonSections(model: { maxConnections: number; nameserver: string; tls?: HaproxyTls }): string[] {
  return [
    '# Rendered by cdktf-distributed-web. Do not edit: changes are overwritten on deploy.',
    'global',
    '    log stdout format raw local0 info',
    `    maxconn ${model.maxConnections}`,
    '    # The image runs HAProxy as a non-root user: every bind below is an unprivileged port.',
    ...(model.tls
      ? [
          `    ssl-default-bind-ciphers ${TLS_CIPHERS}`,
          `    ssl-default-bind-ciphersuites ${TLS_CIPHERSUITES}`,
          '    ssl-default-bind-options ssl-min-ver TLSv1.2 no-tls-tickets',
        ]
      : []),
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
  ];
}

/** The monitoring frontend (health, metrics, stats); after `defaults`, whose timeouts it uses. */
function monitorFrontend(model: { monitorPort: number; monitorPath: string; statsPasswordEnv?: string }): string[] {
  return [
    'frontend monitor',
    '    mode http',
    `    bind :${model.monitorPort}`,
    `    monitor-uri ${model.monitorPath}`,
    '    # Prometheus metrics (HAProxy\'s built-in exporter); this port is never published.',
    '    http-request use-service prometheus-exporter if { path /metrics }',
    ...(model.statsPasswordEnv
      ? ['    stats enable', '    stats uri /stats', '    stats refresh 10s', `    stats auth "admin:\${${model.statsPasswordEnv}}"`]
      : []),
    '',
  ];
}

/** The request rules of the HTTP frontend: firewall first, then HTTPS handling. */
function frontendRules(model: HaproxyConfigModel): string[] {
  const rules: string[] = [];
  if (model.allowedSourceCidrs) {
    rules.push(`    acl allowed_source src ${model.allowedSourceCidrs.join(' ')}`, '    http-request deny deny_status 403 unless allowed_source');
  }
  if (model.rateLimit) {
    const w = model.rateLimit.windowSeconds;
    rules.push(
      `    stick-table type ipv6 size 100k expire ${w}s store http_req_rate(${w}s)`,
      '    http-request track-sc0 src',
      `    http-request deny deny_status 429 if { sc_http_req_rate(0) gt ${model.rateLimit.requests} }`,
    );
  }
  if (model.maxRequestBodyBytes !== undefined) {
    rules.push(`    http-request deny deny_status 413 if { req.hdr_val(content-length) gt ${model.maxRequestBodyBytes} }`);
  }
  if (model.tls) {
    if (model.tls.redirectHttp) rules.push('    http-request redirect scheme https code 301 unless { ssl_fc }');
    rules.push('    http-request set-header X-Forwarded-Proto https if { ssl_fc }', '    http-request set-header X-Forwarded-Proto http unless { ssl_fc }');
    if (model.tls.hstsMaxAgeSeconds > 0) {
      rules.push(`    http-response set-header Strict-Transport-Security "max-age=${model.tls.hstsMaxAgeSeconds}" if { ssl_fc }`);
    }
  } else {
    rules.push('    http-request set-header X-Forwarded-Proto http');
  }
  return rules;
}

/**
 * How HAProxy gets a server's first address: the last one it knew, else none, and its
 * resolvers (Docker's DNS, asynchronous) fill it in once the container exists. Not `libc`:
 * at start it resolves names one by one and blocks, and on an internal network Docker's DNS
 * leaves a name that does not exist yet unanswered, 20 s per name here, so HAProxy started
 * beside its servers would not serve for that long.
 */
const INIT_ADDR = 'last,none';
const INIT_ADDR_COMMENT = [
  '    # A server that does not resolve yet starts without an address (not through libc, which',
  '    # would block the start) and joins once the resolvers find it and its checks pass.',
];

/** Renders haproxy.cfg of the HTTP load balancer. */
export function renderHaproxyConfig(model: HaproxyConfigModel): string {
  const t = model.timeouts;
  const hc = model.healthCheck;
  const backups = model.servers.filter((s) => s.backup).length;
  const lines: string[] = [
    ...commonSections(model),
    'defaults',
    '    mode http',
    '    log global',
    '    option httplog',
    '    option dontlognull',
    ...(model.logEveryRequest
      ? []
      : [
          '    # Log what went wrong (errors, retries, timeouts, 5xx), not every request: at thousands',
          '    # of requests per second a log line each costs as much CPU as forwarding them.',
          '    option dontlog-normal',
        ]),
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
    ...monitorFrontend(model),
    'frontend http',
    `    bind :${model.httpPort}`,
    ...(model.tls ? [`    bind :${model.tls.port} ssl crt ${model.tls.certificatePath} alpn h2,http/1.1`] : []),
    ...frontendRules(model),
    '    # Only connection failures are retried for methods that may change state.',
    '    http-request disable-l7-retry if !METH_GET',
    '    default_backend web',
    '',
    'backend web',
    `    balance ${model.balance}`,
    ...(model.balance === 'source' ? ['    hash-type consistent'] : []),
    ...(backups > 1 ? ['    option allbackups'] : []),
    '    # Idle connections to the servers are shared by all clients. The servers are Nginx,',
    '    # which keeps an idle connection 65 s, while HAProxy purges its idle ones within',
    '    # seconds (pool-purge-delay 5s); a GET that meets a closed one is retried.',
    '    http-reuse always',
    '    option httpchk',
    `    http-check send meth GET uri ${hc.path} ver HTTP/1.1 hdr Host localhost`,
    '    http-check expect status 200',
    '    # Servers are found through Docker DNS: a replaced container is followed without a reload.',
    ...INIT_ADDR_COMMENT,
    '    # Three failed connections of live traffic in a row take a server out at once,',
    '    # without waiting for the health check to fall.',
    `    default-server check inter ${seconds(hc.intervalSeconds)} rise ${hc.rise} fall ${hc.fall} observe layer4 error-limit 3 on-error mark-down resolvers docker resolve-prefer ipv4 init-addr ${INIT_ADDR}`,
    ...model.servers.map((s) => `    server ${s.name} ${s.host}:${s.port}${s.backup ? ' backup' : ''}`),
    '',
  ];
  return lines.join('\n');
}

export interface DatabaseReadConfigModel {
  /** Port the TCP listener binds inside the container. */
  readonly port: number;
  readonly monitorPort: number;
  readonly monitorPath: string;
  /** Replicas (active) and the primary (backup). */
  readonly servers: HaproxyServer[];
  readonly checkIntervalSeconds: number;
  readonly rise: number;
  readonly fall: number;
  readonly maxConnections: number;
  readonly nameserver: string;
}

/**
 * Renders haproxy.cfg of the database read balancer: a TCP listener spreading reads over
 * the replicas, the primary as backup, with TCP health checks.
 */
export function renderDatabaseReadConfig(model: DatabaseReadConfigModel): string {
  return [
    ...commonSections(model),
    'defaults',
    '    mode tcp',
    '    log global',
    '    option dontlognull',
    '    timeout connect 1s',
    '    # Long-lived client connections (application pools) are normal here.',
    '    timeout client 1h',
    '    timeout server 1h',
    '    timeout check 2s',
    '    retries 2',
    '    option redispatch 1',
    '',
    ...monitorFrontend(model),
    'frontend mysql_read',
    `    bind :${model.port}`,
    '    default_backend replicas',
    '',
    'backend replicas',
    '    balance leastconn',
    '    # A server that goes down takes its connections with it, so pools reconnect elsewhere;',
    '    # a replica that comes back closes the connections to the backup, so reads return to it.',
    ...INIT_ADDR_COMMENT,
    `    default-server check inter ${seconds(model.checkIntervalSeconds)} rise ${model.rise} fall ${model.fall} on-marked-down shutdown-sessions on-marked-up shutdown-backup-sessions resolvers docker resolve-prefer ipv4 init-addr ${INIT_ADDR}`,
    ...model.servers.map((s) => `    server ${s.name} ${s.host}:${s.port}${s.backup ? ' backup' : ''}`),
    '',
  ].join('\n');
}
