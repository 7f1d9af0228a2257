import { Network } from '@cdktf/provider-docker/lib/network';
import { Construct } from 'constructs';
import { DatabaseCluster, DatabaseOptions } from './database-cluster';
import { LABELS } from './docker-support';
import { LoadBalancer, LoadBalancerOptions, LoadBalancingAlgorithm } from './load-balancer';
import { ReadinessGate } from './readiness-gate';
import { checkInteger, checkPattern, DNS_LABEL, DNS_LABEL_TEXT, URL_PATH, URL_PATH_TEXT } from './validation';
import { WebServer, WebServerOptions } from './web-server';

/** The web tier: how many servers, and what each runs. */
export interface WebServersOptions extends WebServerOptions {
  /**
   * Number of web servers (each one Nginx and one application container).
   * @default 3
   */
  readonly count?: number;
}

/** The gate that makes `cdktf deploy` wait until the site serves. */
export interface ReadinessOptions {
  /**
   * Set to false to return from deploy as soon as the containers are healthy.
   * @default true
   */
  readonly enabled?: boolean;
  /**
   * URL probed from the deploying machine.
   * @default - `http://127.0.0.1:<port><path>` when the port is published on all addresses, else on its host address
   */
  readonly url?: string;
  /**
   * Path probed through the load balancer.
   * @default - the load balancer's health-check path
   */
  readonly path?: string;
  /** @default 180 */
  readonly timeoutSeconds?: number;
}

export interface DistributedWebInfrastructureProps {
  /**
   * Prefix of every container, network and volume name; unique per Docker host.
   * @default - the construct id
   */
  readonly name?: string;
  /** @default - round robin, active-active, port 8080 */
  readonly loadBalancer?: LoadBalancerOptions;
  /** @default - 3 servers running the placeholder application */
  readonly webServers?: WebServersOptions;
  /** The database tier; its passwords are the only props without a default. */
  readonly database: DatabaseOptions;
  /** @default - enabled */
  readonly readiness?: ReadinessOptions;
}

/**
 * The classic distributed web infrastructure: one HAProxy load balancer spreading
 * traffic over several servers (Nginx in front of an application container each), and
 * a MySQL/MariaDB primary replicating to read replicas.
 *
 * Two networks segment it: `front` (load balancer and Nginx) and `back`, internal (Nginx,
 * applications and database). Only the load balancer publishes a port.
 */
export class DistributedWebInfrastructure extends Construct {
  public readonly name: string;
  public readonly frontNetwork: Network;
  public readonly backNetwork: Network;
  public readonly loadBalancer: LoadBalancer;
  public readonly webServers: WebServer[] = [];
  public readonly database: DatabaseCluster;
  /** Undefined when readiness is disabled. */
  public readonly readinessGate?: ReadinessGate;

  constructor(scope: Construct, id: string, props: DistributedWebInfrastructureProps) {
    super(scope, id);
    this.name = props.name ?? id;
    checkPattern(this, 'name', this.name, DNS_LABEL, DNS_LABEL_TEXT);
    const web = props.webServers ?? {};
    const count = web.count ?? 3;
    checkInteger(this, 'webServers.count', count, 1, 64);

    const networkLabels = [{ label: LABELS.project, value: this.name }];
    this.frontNetwork = new Network(this, 'FrontNetwork', { name: `${this.name}-front`, labels: networkLabels });
    this.backNetwork = new Network(this, 'BackNetwork', { name: `${this.name}-back`, internal: true, labels: networkLabels });

    this.database = new DatabaseCluster(this, 'Database', {
      ...props.database,
      namePrefix: this.name,
      network: this.backNetwork,
    });

    this.loadBalancer = new LoadBalancer(this, 'LoadBalancer', {
      ...props.loadBalancer,
      containerName: `${this.name}-lb`,
      networks: [this.frontNetwork],
    });

    for (let i = 1; i <= count; i++) {
      const server = new WebServer(this, `WebServer${i}`, {
        ...web,
        serverName: `web-${i}`,
        namePrefix: this.name,
        frontNetwork: this.frontNetwork,
        backNetwork: this.backNetwork,
        database: this.database,
      });
      this.webServers.push(server);
      this.loadBalancer.addTarget(server);
    }

    const readiness = props.readiness ?? {};
    if (readiness.enabled ?? true) {
      const path = readiness.path ?? this.loadBalancer.healthCheck.path;
      checkPattern(this, 'readiness.path', path, URL_PATH, URL_PATH_TEXT);
      const lb = this.loadBalancer;
      const host = lb.hostAddress === '0.0.0.0' ? '127.0.0.1' : lb.hostAddress;
      // With TLS the gate checks the HTTPS path, which plain HTTP redirects to.
      const origin = lb.tls ? `https://${host}:${lb.tls.port}` : `http://${host}:${lb.port}`;
      this.readinessGate = new ReadinessGate(this, 'Readiness', {
        url: readiness.url ?? `${origin}${path}`,
        // With SOURCE hashing one client only ever reaches one server.
        expectedServers: lb.algorithm === LoadBalancingAlgorithm.SOURCE ? [] : lb.activeTargetNames,
        timeoutSeconds: readiness.timeoutSeconds,
        // Every container of the stack, healthy: the tiers start side by side where they can
        // (see WebServer and LoadBalancer), so the gate is where the deploy waits for all.
        dependsOn: [
          lb.container,
          ...this.webServers.flatMap((s) => [s.nginx, s.app]),
          ...this.database.nodes,
          ...(this.database.readBalancer ? [this.database.readBalancer] : []),
        ],
        triggers: {
          lb: lb.container.id,
          ...Object.fromEntries(this.webServers.map((s) => [s.serverName, s.nginx.id])),
          ...Object.fromEntries(this.database.nodes.map((n, i) => [`db-${i}`, n.id])),
        },
      });
    }
  }

  /** The site's URL as seen from the Docker host (HTTPS when TLS is on). */
  public get siteUrl(): string {
    const lb = this.loadBalancer;
    const host = lb.hostAddress === '0.0.0.0' ? 'localhost' : lb.hostAddress;
    return lb.tls ? `https://${host}:${lb.tls.port}` : `http://${host}:${lb.port}`;
  }

  /** The web servers' names, as HAProxy and the `X-Web-Server` header know them. */
  public get webServerNames(): string[] {
    return this.webServers.map((s) => s.serverName);
  }

  /** The database hosts on the back network: primary, replicas, then the read balancer if any. */
  public get databaseHosts(): string[] {
    const db = this.database;
    return [db.primaryHost, ...db.replicaHosts, ...(db.readBalancer ? [db.readHost] : [])];
  }
}
