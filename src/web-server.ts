import * as fs from 'fs';
import * as path from 'path';
import { Container, ContainerUpload } from '@cdktf/provider-docker/lib/container';
import { Image } from '@cdktf/provider-docker/lib/image';
import { Network } from '@cdktf/provider-docker/lib/network';
import { Construct, IConstruct } from 'constructs';
import { IDatabaseEndpoint } from './database-cluster';
import { containerBasics, fileUpload, imageFor } from './docker-support';
import { ContainerHealthCheckOptions, bashHttpProbe, resolveHealthCheck } from './health-check';
import { ILoadBalancerTarget } from './load-balancer';
import { NGINX_STATIC_ROOT, renderNginxConfig } from './nginx-config';
import { PLACEHOLDER_APP_PATH, renderPlaceholderApp } from './placeholder-app';
import { appImageFor, hashDirectoryOnce } from './app-image';
import {
  DNS_LABEL,
  DNS_LABEL_TEXT,
  IMAGE_REFERENCE,
  IMAGE_REFERENCE_TEXT,
  URL_PATH,
  URL_PATH_TEXT,
  ValidationError,
  checkPattern,
  checkPort,
} from './validation';

/** Build the application image from a folder with a Dockerfile. */
export interface ApplicationBuildOptions {
  /** The build context: a folder on the deploying machine (relative paths are resolved from the working directory of synthesis). */
  readonly context: string;
  /**
   * The Dockerfile, relative to `context`.
   * @default 'Dockerfile'
   */
  readonly dockerfile?: string;
  /**
   * Build arguments (`ARG`).
   * @default - none
   */
  readonly buildArgs?: { [name: string]: string };
}

/** The application server each web server runs behind its Nginx. */
export interface ApplicationOptions {
  /**
   * Image of the application. Mutually exclusive with `build`.
   * @default - the built-in placeholder application (Node.js, no dependencies) on `nodeImage`
   */
  readonly image?: string;
  /**
   * Build the image from a Dockerfile folder instead; it is rebuilt when the folder's content changes.
   * @default - no build
   */
  readonly build?: ApplicationBuildOptions;
  /**
   * Port the application listens on (it receives it as `PORT`).
   * @default 3000
   */
  readonly port?: number;
  /**
   * Extra environment variables.
   * @default - none; the library sets PORT, SERVER_NAME and the DB_* variables
   */
  readonly environment?: { [name: string]: string };
  /**
   * Path of the application's health endpoint, probed by Docker and, through Nginx, by HAProxy.
   * @default '/healthz'
   */
  readonly healthCheckPath?: string;
  /**
   * Docker's probe command (`CMD` or `CMD-SHELL` form).
   * @default - HTTP GET of healthCheckPath with curl, wget, bash's /dev/tcp or node, the first the image has
   */
  readonly healthCheckCommand?: string[];
  /** @default - see ContainerHealthCheckOptions */
  readonly healthCheck?: ContainerHealthCheckOptions;
  /**
   * Command of the application container.
   * @default - the image's own command
   */
  readonly command?: string[];
  /**
   * Linux capabilities given back to the application container, which otherwise runs with
   * none (`cap_drop ALL`) and `no-new-privileges`; e.g. `['NET_BIND_SERVICE']` for a port
   * below 1024.
   * @default - none
   */
  readonly capabilities?: string[];
  /**
   * Node.js image that runs the placeholder application (only used when neither `image` nor `build` is set).
   * @default 'node:20.18.0-bookworm-slim'
   */
  readonly nodeImage?: string;
}

/** Static files that Nginx serves itself. */
export interface StaticFilesOptions {
  /** Folder on the deploying machine whose files are uploaded into every Nginx container. */
  readonly directory: string;
  /**
   * URL prefix the files are served under.
   * @default '/static/'
   */
  readonly urlPath?: string;
}

/** Options shared by every web server of a stack. */
export interface WebServerOptions {
  /** @default - the placeholder application */
  readonly app?: ApplicationOptions;
  /**
   * Nginx image (Debian-based: the container health check uses bash).
   * @default 'nginx:1.27.2'
   */
  readonly nginxImage?: string;
  /** @default - no static files: every request goes to the application */
  readonly staticFiles?: StaticFilesOptions;
  /**
   * Largest request body Nginx accepts, in megabytes.
   * @default 10
   */
  readonly clientMaxBodySizeMegabytes?: number;
  /** Docker's health check of the Nginx container. @default - see ContainerHealthCheckOptions */
  readonly nginxHealthCheck?: ContainerHealthCheckOptions;
}

export interface WebServerProps extends WebServerOptions {
  /** Name of this server, e.g. `web-1`: in HAProxy, in the `X-Web-Server` header and in `SERVER_NAME`. */
  readonly serverName: string;
  /** Prefix of the container names: `<prefix>-<serverName>` (Nginx) and `<prefix>-<serverName>-app`. */
  readonly namePrefix: string;
  /** Network shared with the load balancer (Nginx joins it). */
  readonly frontNetwork: Network;
  /** Network shared with the database (Nginx and the application join it). */
  readonly backNetwork: Network;
  /**
   * The database the application uses; it receives its settings as environment.
   * @default - no DB_* variables
   */
  readonly database?: IDatabaseEndpoint;
}

/** Port Nginx listens on inside its container. */
export const NGINX_PORT = 80;
/** Port of Nginx's `stub_status` server (`/nginx_status`), never behind the load balancer. */
export const NGINX_STATUS_PORT = 8081;
const NGINX_HEALTH_PATH = '/nginx-healthz';
const MAX_STATIC_FILES = 500;
const MAX_STATIC_BYTES = 20 * 1024 * 1024;

/**
 * One server of the design: an Nginx container that serves static files and proxies
 * everything else to its own application container.
 */
export class WebServer extends Construct implements ILoadBalancerTarget {
  public readonly nginx: Container;
  public readonly app: Container;
  /** The image resource the application runs from. */
  public readonly appImage: Image;
  public readonly serverName: string;
  public readonly appPort: number;
  /** The application's environment as set on its container (PORT, SERVER_NAME, DB_*, then `app.environment`). */
  public readonly environment: { [name: string]: string };
  public readonly targetName: string;
  public readonly targetHost: string;
  public readonly targetPort = NGINX_PORT;

  constructor(scope: Construct, id: string, props: WebServerProps) {
    super(scope, id);
    checkPattern(this, 'serverName', props.serverName, DNS_LABEL, DNS_LABEL_TEXT);
    checkPattern(this, 'namePrefix', props.namePrefix, DNS_LABEL, DNS_LABEL_TEXT);
    this.serverName = props.serverName;
    const app = props.app ?? {};
    this.appPort = app.port ?? 3000;
    checkPort(this, 'app.port', this.appPort);
    const healthPath = app.healthCheckPath ?? '/healthz';
    checkPattern(this, 'app.healthCheckPath', healthPath, URL_PATH, URL_PATH_TEXT);
    const nginxImage = props.nginxImage ?? 'nginx:1.27.2';
    checkPattern(this, 'nginxImage', nginxImage, IMAGE_REFERENCE, IMAGE_REFERENCE_TEXT);
    const maxBody = props.clientMaxBodySizeMegabytes ?? 10;
    if (!Number.isInteger(maxBody) || maxBody < 1 || maxBody > 1024) {
      throw new ValidationError(this, `'clientMaxBodySizeMegabytes' must be an integer from 1 to 1024, got ${JSON.stringify(maxBody)}`);
    }

    const nginxName = `${props.namePrefix}-${props.serverName}`;
    const appName = `${nginxName}-app`;
    this.targetName = props.serverName;
    this.targetHost = nginxName;

    // The application container.
    const { image, uploads, command } = this.resolveAppImage(app);
    this.appImage = image;
    const appCheck = resolveHealthCheck(
      this,
      'app.healthCheck',
      app.healthCheckCommand ?? httpGetProbe(this.appPort, healthPath),
      app.healthCheck,
      { startPeriodSeconds: 10 },
    );
    const db = props.database;
    const environment: { [name: string]: string } = {
      PORT: String(this.appPort),
      SERVER_NAME: props.serverName,
      ...(db
        ? {
            DB_PRIMARY_HOST: db.primaryHost,
            DB_READ_HOST: db.readHost,
            DB_REPLICA_HOSTS: db.replicaHosts.join(','),
            DB_PORT: String(db.port),
            DB_NAME: db.databaseName,
            DB_USER: db.username,
            DB_PASSWORD: db.password,
          }
        : {}),
      ...app.environment,
    };
    this.environment = environment;
    for (const key of Object.keys(environment)) {
      checkPattern(this, 'app.environment', key, /^[A-Za-z_][A-Za-z0-9_]*$/, 'keyed by variable names (letters, digits, underscores)');
    }
    this.app = new Container(this, 'App', {
      name: appName,
      image: image.imageId,
      hostname: appName,
      command,
      networksAdvanced: [{ name: props.backNetwork.id }],
      env: Object.entries(environment).map(([k, v]) => `${k}=${v}`),
      upload: uploads,
      ...containerBasics(props.namePrefix, 'app', appCheck),
      capabilities: { drop: ['ALL'], add: app.capabilities?.map(capabilityName) },
      wait: true,
      waitTimeout: 120,
      destroyGraceSeconds: 10,
      dependsOn: db?.endpointDependencies,
    });

    // Nginx in front of it.
    const staticOptions = props.staticFiles;
    const staticUrlPath = staticOptions ? (staticOptions.urlPath ?? '/static/') : undefined;
    if (staticUrlPath !== undefined) {
      checkPattern(this, 'staticFiles.urlPath', staticUrlPath, /^\/([A-Za-z0-9._~-]+\/)+$/, 'a URL prefix that starts and ends with "/", such as "/static/"');
    }
    const nginxCheck = resolveHealthCheck(this, 'nginxHealthCheck', bashHttpProbe(NGINX_PORT, NGINX_HEALTH_PATH), props.nginxHealthCheck, {
      startPeriodSeconds: 5,
    });
    const config = renderNginxConfig({
      listenPort: NGINX_PORT,
      serverName: props.serverName,
      upstreamHost: appName,
      upstreamPort: this.appPort,
      resolver: '127.0.0.11',
      healthPath: NGINX_HEALTH_PATH,
      staticUrlPath,
      staticRoot: staticOptions ? NGINX_STATIC_ROOT : undefined,
      statusPort: NGINX_STATUS_PORT,
      clientMaxBodySizeMegabytes: maxBody,
      proxyReadTimeoutSeconds: 60,
    });
    this.nginx = new Container(this, 'Resource', {
      name: nginxName,
      image: imageFor(this, nginxImage).imageId,
      hostname: nginxName,
      networksAdvanced: [{ name: props.frontNetwork.id }, { name: props.backNetwork.id }],
      upload: [
        fileUpload('/etc/nginx/nginx.conf', config),
        ...(staticOptions ? staticUploads(this, staticOptions.directory) : []),
      ],
      ...containerBasics(props.namePrefix, 'web', nginxCheck),
      // The master binds port 80 and hands the workers to an unprivileged user; nothing more.
      capabilities: { drop: ['ALL'], add: ['CAP_CHOWN', 'CAP_NET_BIND_SERVICE', 'CAP_SETGID', 'CAP_SETUID'] },
      // Nginx opens a new connection to its app per request (a variable proxy_pass, so that a
      // replaced app is found again, cannot keep upstream connections alive). Each closed one
      // holds its local port in TIME_WAIT for 60 s, which caps new connections at ~470/s per
      // server (28,232 ephemeral ports); outside loopback Linux reuses such ports only with
      // tcp_tw_reuse=1. The setting is per network namespace: it touches this container only.
      sysctls: { 'net.ipv4.tcp_tw_reuse': '1' },
      wait: true,
      waitTimeout: 60,
      destroyGraceSeconds: 10,
      // No dependsOn on the app: Nginx resolves it per request and its own health check does
      // not reach it, so both start at once (a deploy waits for one tier less).
    });
  }

  private resolveAppImage(app: ApplicationOptions): { image: Image; uploads: ContainerUpload[]; command?: string[] } {
    if (app.image !== undefined && app.build !== undefined) {
      throw new ValidationError(this, `'app.image' and 'app.build' are mutually exclusive, got image ${JSON.stringify(app.image)} and a build of ${JSON.stringify(app.build.context)}`);
    }
    if (app.build !== undefined) {
      return { image: appImageFor(this, 'app.build', app.build), uploads: [], command: app.command };
    }
    if (app.image !== undefined) {
      checkPattern(this, 'app.image', app.image, IMAGE_REFERENCE, IMAGE_REFERENCE_TEXT);
      return { image: imageFor(this, app.image), uploads: [], command: app.command };
    }
    const nodeImage = app.nodeImage ?? 'node:20.18.0-bookworm-slim';
    checkPattern(this, 'app.nodeImage', nodeImage, IMAGE_REFERENCE, IMAGE_REFERENCE_TEXT);
    return {
      image: imageFor(this, nodeImage),
      uploads: [fileUpload(PLACEHOLDER_APP_PATH, renderPlaceholderApp())],
      command: app.command ?? ['node', PLACEHOLDER_APP_PATH],
    };
  }
}

/**
 * A probe that GETs `path` on the application's port with whichever HTTP client the image
 * has: curl, wget, or Node.js itself.
 */
export function httpGetProbe(port: number, path: string): string[] {
  const url = `http://127.0.0.1:${port}${path}`;
  // bash's /dev/tcp before node: Debian-based Node images have bash but neither curl nor
  // wget, and a probe that starts node costs ~0.1 s of CPU, bash a few milliseconds.
  const bash = `bash -c 'exec 3<>/dev/tcp/127.0.0.1/${port} && printf "GET ${path} HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n" >&3 && head -n 1 <&3 | grep -q " 200 "'`;
  const node = `node -e "require('http').get('${url}',r=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1))"`;
  return [
    'CMD-SHELL',
    `if command -v curl >/dev/null; then curl -fsS -o /dev/null ${url}; elif command -v wget >/dev/null; then wget -q -O /dev/null ${url}; elif command -v bash >/dev/null; then ${bash}; else ${node}; fi`,
  ];
}

/**
 * A capability as Docker reports it back (`CAP_NET_BIND_SERVICE`): written any other way,
 * the provider sees a difference on every plan and replaces the container.
 */
function capabilityName(name: string): string {
  const upper = name.toUpperCase();
  return upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
}

/** Uploads of every file below `directory`, into Nginx's static root. */
function staticUploads(scope: IConstruct, directory: string): ContainerUpload[] {
  const root = path.resolve(directory);
  if (!fs.existsSync(root) || !fs.statSync(root).isDirectory()) {
    throw new ValidationError(scope, `'staticFiles.directory' must be an existing folder, got ${JSON.stringify(directory)} (resolved to ${root})`);
  }
  const files = hashDirectoryOnce(scope, root).files;
  const total = files.reduce((sum, f) => sum + fs.statSync(path.join(root, f)).size, 0);
  if (files.length > MAX_STATIC_FILES || total > MAX_STATIC_BYTES) {
    throw new ValidationError(
      scope,
      `'staticFiles.directory' must hold at most ${MAX_STATIC_FILES} files and ${MAX_STATIC_BYTES / 1024 / 1024} MiB (they travel in Terraform state), got ${files.length} files, ${total} bytes in ${root}: serve larger sets from the application image`,
    );
  }
  return files.map((f) => fileUpload(`${NGINX_STATIC_ROOT}/${f}`, fs.readFileSync(path.join(root, f))));
}
