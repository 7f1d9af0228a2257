import { Container } from '@cdktf/provider-docker/lib/container';
import { Network } from '@cdktf/provider-docker/lib/network';
import { Lazy, Token } from 'cdktf';
import { Construct } from 'constructs';
import { base64, containerBasics, fileUpload, imageFor } from './docker-support';
import { HaproxyHealthCheck, HaproxyTimeouts, renderHaproxyConfig } from './haproxy-config';
import { ContainerHealthCheckOptions, bashHttpProbe, resolveHealthCheck } from './health-check';
import {
  DNS_LABEL,
  DNS_LABEL_TEXT,
  IMAGE_REFERENCE,
  IMAGE_REFERENCE_TEXT,
  URL_PATH,
  URL_PATH_TEXT,
  ValidationError,
  checkBoolean,
  checkEnum,
  checkInteger,
  checkNonEmpty,
  checkPattern,
  checkPort,
  checkPositive,
} from './validation';

/**
 * How HAProxy picks a server for a new connection.
 * @see https://docs.haproxy.org/2.6/configuration.html#4.2-balance
 */
export enum LoadBalancingAlgorithm {
  /** Each server in turn. */
  ROUND_ROBIN = 'roundrobin',
  /** The server with the fewest connections (long-lived or uneven requests). */
  LEAST_CONNECTIONS = 'leastconn',
  /** A hash of the client's address: the same client keeps the same server. */
  SOURCE = 'source',
}

/** Whether every server takes traffic, or some wait as backups. */
export enum LoadBalancerMode {
  /** Every server takes traffic. */
  ACTIVE_ACTIVE = 'active-active',
  /** The last `passiveServers` servers are HAProxy `backup` servers: traffic only when no active server is up. */
  ACTIVE_PASSIVE = 'active-passive',
}

/**
 * HAProxy's health check of each server.
 * @see https://docs.haproxy.org/2.6/configuration.html#5.2-check
 */
export interface LoadBalancerHealthCheckOptions {
  /**
   * Path requested on each server; the server is up while it answers 200.
   * @default '/healthz'
   */
  readonly path?: string;
  /**
   * Seconds between two checks of one server.
   * @default 2
   */
  readonly intervalSeconds?: number;
  /**
   * Consecutive successful checks that bring a server back.
   * @default 2
   */
  readonly rise?: number;
  /**
   * Consecutive failed checks that take a server out.
   * @default 3
   */
  readonly fall?: number;
  /**
   * Seconds one check may take.
   * @default 2
   */
  readonly timeoutSeconds?: number;
}

/**
 * HAProxy's timeouts.
 * @see https://docs.haproxy.org/2.6/configuration.html#4-timeout%20connect
 */
export interface LoadBalancerTimeoutOptions {
  /**
   * Time to connect to a server. Between containers on one Docker network a connection
   * takes microseconds; a stopped container's address just stops answering, so a short
   * wait sends the retry to another server sooner. Raise it for slow overlay networks.
   * @default 1
   */
  readonly connectSeconds?: number;
  /** @default 30 */
  readonly clientSeconds?: number;
  /** @default 30 */
  readonly serverSeconds?: number;
  /**
   * Time a client has to send a complete request (slowloris protection).
   * @default 10
   */
  readonly httpRequestSeconds?: number;
  /**
   * Time a request may wait for a free connection slot.
   * @default 30
   */
  readonly queueSeconds?: number;
}

/**
 * TLS termination at HAProxy: TLS 1.2 minimum, forward-secret AEAD ciphers, HSTS,
 * `X-Forwarded-Proto` to the servers.
 * @see https://docs.haproxy.org/2.6/configuration.html#5.1-crt
 */
export interface LoadBalancerTlsOptions {
  /**
   * The certificate chain and its private key in one PEM. Accepts a token (a sensitive
   * variable): it is uploaded as is, and kept in Terraform state like every upload.
   */
  readonly certificatePem: string;
  /**
   * Port of HTTPS on the Docker host.
   * @default 8443
   */
  readonly port?: number;
  /**
   * Answer plain HTTP with a 301 to HTTPS.
   * @default true
   */
  readonly redirectHttp?: boolean;
  /**
   * `Strict-Transport-Security: max-age` on HTTPS answers; 0 sends no header.
   * @default 15552000 (180 days)
   */
  readonly hstsMaxAgeSeconds?: number;
}

/** A per-client request rate limit, tracked by source address in a stick table. */
export interface LoadBalancerRateLimitOptions {
  /** Requests one client may make per window; more are answered 429. */
  readonly requests: number;
  /**
   * @default 10
   */
  readonly windowSeconds?: number;
}

/** Options of the load balancer that do not depend on the rest of the stack. */
export interface LoadBalancerOptions {
  /** @default LoadBalancingAlgorithm.ROUND_ROBIN */
  readonly algorithm?: LoadBalancingAlgorithm;
  /** @default LoadBalancerMode.ACTIVE_ACTIVE */
  readonly mode?: LoadBalancerMode;
  /**
   * In ACTIVE_PASSIVE mode, how many of the servers (the last ones) are backups.
   * Must be fewer than the servers. Not allowed in ACTIVE_ACTIVE mode.
   * @default - 1 in ACTIVE_PASSIVE mode, 0 in ACTIVE_ACTIVE mode
   */
  readonly passiveServers?: number;
  /**
   * Port published on the Docker host.
   * @default 8080
   */
  readonly port?: number;
  /**
   * Host address the port is published on. Use `127.0.0.1` to keep the site local.
   * @default '0.0.0.0'
   */
  readonly hostAddress?: string;
  /** @default - see LoadBalancerHealthCheckOptions */
  readonly healthCheck?: LoadBalancerHealthCheckOptions;
  /** @default - see LoadBalancerTimeoutOptions */
  readonly timeouts?: LoadBalancerTimeoutOptions;
  /**
   * Connection attempts per request; with redispatch each retry may go to another server.
   * @default 3
   */
  readonly retries?: number;
  /**
   * Concurrent connections HAProxy accepts (`maxconn`).
   * @default 4096
   */
  readonly maxConnections?: number;
  /**
   * HAProxy image (Debian-based: the container health check uses bash).
   * @default 'haproxy:3.0.5'
   */
  readonly image?: string;
  /** Docker's health check of the HAProxy container. @default - see ContainerHealthCheckOptions */
  readonly containerHealthCheck?: ContainerHealthCheckOptions;
  /**
   * Password of user `admin` for HAProxy's stats page (`/stats` on the monitoring port,
   * which is never published). Accepts a token; it reaches HAProxy as an environment
   * variable, never in haproxy.cfg.
   * @default - no stats page (Prometheus metrics at `/metrics` are always served on the monitoring port)
   * @see https://docs.haproxy.org/2.6/configuration.html#4-stats%20auth
   */
  readonly statsPassword?: string;
  /** @default - plain HTTP only */
  readonly tls?: LoadBalancerTlsOptions;
  /**
   * Client networks allowed in (CIDR, IPv4 or IPv6); others get 403. Note that clients on
   * the Docker host itself reach a published port through Docker's proxy, so HAProxy sees
   * them as the network's gateway address.
   * @default - every client
   */
  readonly allowedSourceCidrs?: string[];
  /**
   * Per-client rate limit (429 above it). Off by default: clients behind one proxy or NAT
   * share an address, so no limit is safe for every site.
   * @default - no limit
   */
  readonly rateLimit?: LoadBalancerRateLimitOptions;
  /**
   * Largest request body HAProxy lets through, by Content-Length (413 above it).
   * @default 10
   */
  readonly maxRequestBodyMegabytes?: number;
  /**
   * Log every request to the container's output. Off by default: HAProxy then logs what went
   * wrong (errors, retries, redispatches, timeouts, 5xx), and every request is still in the
   * web servers' Nginx access logs. Per-request logging through Docker's log driver was
   * the largest single cost on the load balancer's path in BENCHMARKS.md's data-path runs.
   * @default false
   */
  readonly logEveryRequest?: boolean;
}

export interface LoadBalancerProps extends LoadBalancerOptions {
  /** Container name, unique on the Docker host. */
  readonly containerName: string;
  /** Networks the container joins: the ones its servers are on. */
  readonly networks: Network[];
}

/** Something the load balancer can send traffic to. */
export interface ILoadBalancerTarget {
  /** Name of the server in HAProxy. */
  readonly targetName: string;
  /** Host name that Docker's DNS resolves to the target. */
  readonly targetHost: string;
  readonly targetPort: number;
}

/** Port HAProxy binds inside the container: unprivileged, as the image runs as non-root. */
export const HAPROXY_HTTP_PORT = 8080;
/** Port of HAProxy's monitoring frontend inside the container: `/healthz`, `/metrics`, `/stats`. */
export const HAPROXY_MONITOR_PORT = 8404;
const STATS_PASSWORD_ENV = 'HAPROXY_STATS_PASSWORD';
/** Port of HAProxy's TLS listener inside the container. */
export const HAPROXY_HTTPS_PORT = 8443;
const CERTIFICATE_PATH = '/usr/local/etc/haproxy/certs/site.pem';
const CIDR = /^((\d{1,3}\.){3}\d{1,3}\/(\d|[12]\d|3[0-2])|[0-9a-fA-F:]+\/(\d|[1-9]\d|1[01]\d|12[0-8]))$/;
const HAPROXY_CONFIG_PATH = '/usr/local/etc/haproxy/haproxy.cfg';

/**
 * One HAProxy container that spreads HTTP traffic over its targets.
 *
 * Targets are added with {@link addTarget}; the configuration is rendered at synthesis,
 * so targets added after construction count too.
 */
export class LoadBalancer extends Construct {
  public readonly container: Container;
  public readonly algorithm: LoadBalancingAlgorithm;
  public readonly mode: LoadBalancerMode;
  public readonly passiveServers: number;
  public readonly port: number;
  public readonly hostAddress: string;
  public readonly healthCheck: HaproxyHealthCheck;
  public readonly timeouts: HaproxyTimeouts;
  public readonly retries: number;
  public readonly maxConnections: number;
  public readonly image: string;
  /** Host name of the container on its networks (for scrapers). */
  public readonly containerName: string;
  /** Whether the stats page is served. */
  public readonly statsEnabled: boolean;
  /** TLS as resolved, or undefined for plain HTTP. */
  public readonly tls?: { readonly port: number; readonly redirectHttp: boolean; readonly hstsMaxAgeSeconds: number };
  public readonly allowedSourceCidrs?: string[];
  public readonly rateLimit?: { readonly requests: number; readonly windowSeconds: number };
  public readonly maxRequestBodyMegabytes: number;
  /** Whether every request is logged, or only what went wrong. */
  public readonly logEveryRequest: boolean;
  private readonly targets: ILoadBalancerTarget[] = [];

  constructor(scope: Construct, id: string, props: LoadBalancerProps) {
    super(scope, id);
    this.algorithm = props.algorithm ?? LoadBalancingAlgorithm.ROUND_ROBIN;
    this.mode = props.mode ?? LoadBalancerMode.ACTIVE_ACTIVE;
    checkEnum(this, 'algorithm', this.algorithm, LoadBalancingAlgorithm);
    checkEnum(this, 'mode', this.mode, LoadBalancerMode);
    if (this.mode === LoadBalancerMode.ACTIVE_ACTIVE && props.passiveServers !== undefined && props.passiveServers !== 0) {
      throw new ValidationError(
        this,
        `'passiveServers' is only allowed with mode ACTIVE_PASSIVE, got ${props.passiveServers} with mode ACTIVE_ACTIVE`,
      );
    }
    this.passiveServers = props.passiveServers ?? (this.mode === LoadBalancerMode.ACTIVE_PASSIVE ? 1 : 0);
    if (this.mode === LoadBalancerMode.ACTIVE_PASSIVE) checkInteger(this, 'passiveServers', this.passiveServers, 1, 63);

    this.port = props.port ?? 8080;
    checkPort(this, 'port', this.port);
    this.hostAddress = props.hostAddress ?? '0.0.0.0';
    checkPattern(this, 'hostAddress', this.hostAddress, /^(\d{1,3})(\.\d{1,3}){3}$/, 'an IPv4 address such as "127.0.0.1" or "0.0.0.0"');
    this.image = props.image ?? 'haproxy:3.0.5';
    checkPattern(this, 'image', this.image, IMAGE_REFERENCE, IMAGE_REFERENCE_TEXT);
    checkPattern(this, 'containerName', props.containerName, DNS_LABEL, DNS_LABEL_TEXT);
    this.containerName = props.containerName;
    if (props.statsPassword !== undefined) checkNonEmpty(this, 'statsPassword', props.statsPassword);
    this.statsEnabled = props.statsPassword !== undefined;

    const hc = props.healthCheck ?? {};
    this.healthCheck = {
      path: hc.path ?? '/healthz',
      intervalSeconds: hc.intervalSeconds ?? 2,
      rise: hc.rise ?? 2,
      fall: hc.fall ?? 3,
      timeoutSeconds: hc.timeoutSeconds ?? 2,
    };
    checkPattern(this, 'healthCheck.path', this.healthCheck.path, URL_PATH, URL_PATH_TEXT);
    checkPositive(this, 'healthCheck.intervalSeconds', this.healthCheck.intervalSeconds, 3600);
    checkInteger(this, 'healthCheck.rise', this.healthCheck.rise, 1, 100);
    checkInteger(this, 'healthCheck.fall', this.healthCheck.fall, 1, 100);
    checkPositive(this, 'healthCheck.timeoutSeconds', this.healthCheck.timeoutSeconds, 3600);

    const t = props.timeouts ?? {};
    this.timeouts = {
      connectSeconds: t.connectSeconds ?? 1,
      clientSeconds: t.clientSeconds ?? 30,
      serverSeconds: t.serverSeconds ?? 30,
      httpRequestSeconds: t.httpRequestSeconds ?? 10,
      queueSeconds: t.queueSeconds ?? 30,
    };
    for (const [key, value] of Object.entries(this.timeouts)) checkPositive(this, `timeouts.${key}`, value, 86400);
    this.retries = props.retries ?? 3;
    checkInteger(this, 'retries', this.retries, 0, 10);
    this.maxConnections = props.maxConnections ?? 4096;
    checkInteger(this, 'maxConnections', this.maxConnections, 1, 1_000_000);

    if (props.tls) {
      checkNonEmpty(this, 'tls.certificatePem', props.tls.certificatePem);
      this.tls = {
        port: props.tls.port ?? 8443,
        redirectHttp: props.tls.redirectHttp ?? true,
        hstsMaxAgeSeconds: props.tls.hstsMaxAgeSeconds ?? 15_552_000,
      };
      checkPort(this, 'tls.port', this.tls.port);
      checkInteger(this, 'tls.hstsMaxAgeSeconds', this.tls.hstsMaxAgeSeconds, 0, 63_072_000);
      if (!Token.isUnresolved(this.tls.port) && this.tls.port === this.port) {
        throw new ValidationError(this, `'tls.port' must differ from 'port', both are ${this.port}`);
      }
    }
    if (props.allowedSourceCidrs !== undefined) {
      if (props.allowedSourceCidrs.length === 0) {
        throw new ValidationError(this, `'allowedSourceCidrs' must list at least one network (omit it to allow every client), got []`);
      }
      props.allowedSourceCidrs.forEach((cidr, i) =>
        checkPattern(this, `allowedSourceCidrs[${i}]`, cidr, CIDR, 'a CIDR such as "203.0.113.0/24" or "2001:db8::/32"'),
      );
      this.allowedSourceCidrs = [...props.allowedSourceCidrs];
    }
    if (props.rateLimit) {
      this.rateLimit = { requests: props.rateLimit.requests, windowSeconds: props.rateLimit.windowSeconds ?? 10 };
      checkInteger(this, 'rateLimit.requests', this.rateLimit.requests, 1, 1_000_000);
      checkInteger(this, 'rateLimit.windowSeconds', this.rateLimit.windowSeconds, 1, 3600);
    }
    this.maxRequestBodyMegabytes = props.maxRequestBodyMegabytes ?? 10;
    checkInteger(this, 'maxRequestBodyMegabytes', this.maxRequestBodyMegabytes, 1, 10_240);
    this.logEveryRequest = props.logEveryRequest ?? false;
    checkBoolean(this, 'logEveryRequest', this.logEveryRequest);

    const containerCheck = resolveHealthCheck(
      this,
      'containerHealthCheck',
      bashHttpProbe(HAPROXY_MONITOR_PORT, '/healthz'),
      props.containerHealthCheck,
      { startPeriodSeconds: 5 },
    );

    this.container = new Container(this, 'Resource', {
      name: props.containerName,
      image: imageFor(this, this.image).imageId,
      networksAdvanced: props.networks.map((n) => ({ name: n.id })),
      // One binding per port and address: dual-stack bindings replace the container on every apply.
      ports: [
        { internal: HAPROXY_HTTP_PORT, external: this.port, ip: this.hostAddress, protocol: 'tcp' },
        ...(this.tls ? [{ internal: HAPROXY_HTTPS_PORT, external: this.tls.port, ip: this.hostAddress, protocol: 'tcp' }] : []),
      ],
      env: props.statsPassword !== undefined ? [`${STATS_PASSWORD_ENV}=${props.statsPassword}`] : undefined,
      // Rendered lazily, so targets added after construction count.
      upload: [
        { file: HAPROXY_CONFIG_PATH, contentBase64: Lazy.stringValue({ produce: () => base64(this.renderConfig()) }) },
        ...(props.tls ? [fileUpload(CERTIFICATE_PATH, props.tls.certificatePem)] : []),
      ],
      // HAProxy runs as a non-root user on unprivileged ports: it needs no capability.
      // (A read-only root file system is not possible: Docker refuses uploads into one.)
      capabilities: { drop: ['ALL'] },
      ...containerBasics(props.containerName, 'load-balancer', containerCheck),
      wait: true,
      waitTimeout: 60,
      destroyGraceSeconds: 10,
    });

    this.node.addValidation({ validate: () => this.validateTargets() });
  }

  /** Sends traffic to `target` too. */
  public addTarget(target: ILoadBalancerTarget): void {
    if (this.targets.some((t) => t.targetName === target.targetName)) {
      throw new ValidationError(this, `a target named ${JSON.stringify(target.targetName)} was already added`);
    }
    // No dependsOn on the target: HAProxy starts without its address (`init-addr last,none`) and takes it
    // into the pool once its health checks pass, so they start at once.
    this.targets.push(target);
  }

  /** The targets so far, in order. */
  public get targetNames(): string[] {
    return this.targets.map((t) => t.targetName);
  }

  /** Names of the targets that take traffic while all are up (all but the backups). */
  public get activeTargetNames(): string[] {
    return this.targetNames.slice(0, this.targets.length - this.backupCount());
  }

  /** haproxy.cfg as it is uploaded. */
  public renderConfig(): string {
    const backups = this.backupCount();
    return renderHaproxyConfig({
      httpPort: HAPROXY_HTTP_PORT,
      monitorPort: HAPROXY_MONITOR_PORT,
      monitorPath: '/healthz',
      statsPasswordEnv: this.statsEnabled ? STATS_PASSWORD_ENV : undefined,
      tls: this.tls && {
        port: HAPROXY_HTTPS_PORT,
        certificatePath: CERTIFICATE_PATH,
        redirectHttp: this.tls.redirectHttp,
        hstsMaxAgeSeconds: this.tls.hstsMaxAgeSeconds,
      },
      allowedSourceCidrs: this.allowedSourceCidrs,
      rateLimit: this.rateLimit,
      maxRequestBodyBytes: this.maxRequestBodyMegabytes * 1024 * 1024,
      logEveryRequest: this.logEveryRequest,
      balance: this.algorithm,
      servers: this.targets.map((t, i) => ({
        name: t.targetName,
        host: t.targetHost,
        port: t.targetPort,
        backup: i >= this.targets.length - backups,
      })),
      healthCheck: this.healthCheck,
      timeouts: this.timeouts,
      retries: this.retries,
      maxConnections: this.maxConnections,
      nameserver: '127.0.0.11:53',
    });
  }

  private backupCount(): number {
    return this.mode === LoadBalancerMode.ACTIVE_PASSIVE ? this.passiveServers : 0;
  }

  private validateTargets(): string[] {
    if (this.targets.length === 0) return [`${this.node.path}: the load balancer has no targets: call addTarget()`];
    if (this.mode === LoadBalancerMode.ACTIVE_PASSIVE && this.passiveServers >= this.targets.length) {
      return [
        `${this.node.path}: 'passiveServers' must be less than the number of servers (${this.targets.length}), got ${this.passiveServers}: at least one server must be active`,
      ];
    }
    return [];
  }
}
