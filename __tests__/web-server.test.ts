import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Network } from '@cdktf/provider-docker/lib/network';
import { TerraformStack } from 'cdktf';
import { afterAll, describe, expect, it } from 'vitest';
import { IDatabaseEndpoint, PLACEHOLDER_APP_PATH, WebServer, WebServerProps } from '../src';
import { labels, newStack, synth, uploaded } from './support/synth';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dwi-web-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function folder(name: string, files: Record<string, string>): string {
  const dir = path.join(tmp, name);
  for (const [file, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.writeFileSync(path.join(dir, file), content);
  }
  return dir;
}

const database: IDatabaseEndpoint = {
  primaryHost: 'site-db-primary',
  readHost: 'site-db-replica-1',
  replicaHosts: ['site-db-replica-1', 'site-db-replica-2'],
  port: 3306,
  databaseName: 'app',
  username: 'app',
  password: 'secret',
  endpointDependencies: [],
};

function webServer(stack: TerraformStack, props: Partial<WebServerProps> = {}): WebServer {
  const front = new Network(stack, 'front', { name: 'site-front' });
  const back = new Network(stack, 'back', { name: 'site-back', internal: true });
  return new WebServer(stack, 'web', { serverName: 'web-1', namePrefix: 'site', frontNetwork: front, backNetwork: back, ...props });
}

function env(container: any): Record<string, string> {
  return Object.fromEntries(container.env.map((e: string) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
}

describe('WebServer', () => {
  it('puts Nginx on the front and back networks and the application on the back network only', () => {
    const stack = newStack();
    const web = webServer(stack);
    const out = synth(stack);
    const nginx = out.named('docker_container', 'site-web-1');
    const app = out.named('docker_container', 'site-web-1-app');
    expect(nginx.networks_advanced).toEqual([{ name: '${docker_network.front.id}' }, { name: '${docker_network.back.id}' }]);
    expect(app.networks_advanced).toEqual([{ name: '${docker_network.back.id}' }]);
    expect(nginx.ports).toBeUndefined();
    expect(app.ports).toBeUndefined();
    // Docker reports capabilities back with the CAP_ prefix: any other spelling replaces the container on every plan.
    expect(nginx.capabilities).toEqual({ drop: ['ALL'], add: ['CAP_CHOWN', 'CAP_NET_BIND_SERVICE', 'CAP_SETGID', 'CAP_SETUID'] });
    expect(app.capabilities).toEqual({ drop: ['ALL'] });
    expect(nginx.sysctls).toEqual({ 'net.ipv4.tcp_tw_reuse': '1' });
    expect(app.sysctls).toBeUndefined();
    for (const c of [nginx, app]) expect(c.security_opts).toEqual(['no-new-privileges:true']);
    // Nginx resolves the app per request: the two start side by side.
    expect(nginx.depends_on).toBeUndefined();
    expect({ name: web.targetName, host: web.targetHost, port: web.targetPort }).toEqual({ name: 'web-1', host: 'site-web-1', port: 80 });
  });

  it('proxies to its own application through a per-request DNS lookup', () => {
    const stack = newStack();
    webServer(stack, { app: { port: 8000 } });
    const conf = uploaded(synth(stack).named('docker_container', 'site-web-1'), '/etc/nginx/nginx.conf');
    expect(conf).toContain('resolver 127.0.0.11 valid=5s ipv6=off;');
    expect(conf).toContain('set $app_upstream http://site-web-1-app:8000;');
    expect(conf).toContain('proxy_pass $app_upstream;');
    expect(conf).toContain('add_header X-Web-Server web-1 always;');
    expect(conf).not.toContain('location /static/');
  });

  it('runs the placeholder application on the Node.js image when no app is given', () => {
    const stack = newStack();
    webServer(stack);
    const out = synth(stack);
    const app = out.named('docker_container', 'site-web-1-app');
    expect(app.command).toEqual(['node', PLACEHOLDER_APP_PATH]);
    expect(uploaded(app, PLACEHOLDER_APP_PATH)).toContain("require('http')");
    expect(out.resources('docker_image').map((i) => i.name).sort()).toEqual(['nginx:1.27.2', 'node:20.18.0-bookworm-slim']);
    expect(env(app)).toEqual({ PORT: '3000', SERVER_NAME: 'web-1' });
  });

  it('gives the application the database settings: primary for writes, replica for reads', () => {
    const stack = newStack();
    webServer(stack, { database, app: { image: 'example/app:1', environment: { FEATURE: 'on' } } });
    const app = synth(stack).named('docker_container', 'site-web-1-app');
    expect(env(app)).toEqual({
      PORT: '3000',
      SERVER_NAME: 'web-1',
      DB_PRIMARY_HOST: 'site-db-primary',
      DB_READ_HOST: 'site-db-replica-1',
      DB_REPLICA_HOSTS: 'site-db-replica-1,site-db-replica-2',
      DB_PORT: '3306',
      DB_NAME: 'app',
      DB_USER: 'app',
      DB_PASSWORD: 'secret',
      FEATURE: 'on',
    });
    expect(app.command).toBeUndefined();
  });

  it('gives capabilities back to the application in the spelling Docker reports', () => {
    const stack = newStack();
    webServer(stack, { app: { image: 'example/app:1', capabilities: ['net_bind_service', 'CAP_SYS_NICE'] } });
    expect(synth(stack).named('docker_container', 'site-web-1-app').capabilities).toEqual({ drop: ['ALL'], add: ['CAP_NET_BIND_SERVICE', 'CAP_SYS_NICE'] });
  });

  it('probes the application health endpoint with whatever HTTP client the image has', () => {
    const stack = newStack();
    webServer(stack, { app: { image: 'example/app:1', healthCheckPath: '/ready', port: 5000 } });
    const out = synth(stack);
    const app = out.named('docker_container', 'site-web-1-app');
    expect(app.healthcheck.test[0]).toBe('CMD-SHELL');
    expect(app.healthcheck.test[1]).toContain('http://127.0.0.1:5000/ready');
    expect(labels(app)['io.cdktf-distributed-web.role']).toBe('app');
    expect(out.named('docker_container', 'site-web-1').healthcheck.test.join(' ')).toContain('/nginx-healthz');
  });

  it('changes the health-check label when the probe changes, so the container is replaced', () => {
    const hash = (intervalSeconds: number) => {
      const stack = newStack();
      webServer(stack, { app: { image: 'example/app:1', healthCheck: { intervalSeconds } } });
      return labels(synth(stack).named('docker_container', 'site-web-1-app'))['io.cdktf-distributed-web.healthcheck-hash'];
    };
    expect(hash(5)).toBe(hash(5));
    expect(hash(5)).not.toBe(hash(7));
  });

  it('builds the application from a Dockerfile folder, rebuilding only when its content changes', () => {
    const context = folder('app', { Dockerfile: 'FROM scratch\n', 'server.js': 'v1', 'node_modules/x.js': 'ignored', '.dockerignore': 'node_modules\n' });
    const build = () => {
      const stack = newStack();
      webServer(stack, { app: { build: { context, buildArgs: { NODE_IMAGE: 'local/node:18' } } } });
      return synth(stack).resources('docker_image').find((i) => i.build);
    };
    const first = build();
    expect(first.build).toMatchObject({ context, dockerfile: path.join(context, 'Dockerfile'), build_args: { NODE_IMAGE: 'local/node:18' } });
    expect(first.name).toMatch(/^dwi-build\/app:[0-9a-f]{16}$/);
    expect(first.triggers.content_hash).toMatch(/^[0-9a-f]{64}$/);

    fs.writeFileSync(path.join(context, 'node_modules/x.js'), 'changed but ignored');
    expect(build().triggers).toEqual(first.triggers);
    fs.writeFileSync(path.join(context, 'server.js'), 'v2');
    const second = build();
    expect(second.triggers).not.toEqual(first.triggers);
    expect(second.name).not.toBe(first.name);
  });

  it('builds the image once when several servers share it', () => {
    const context = folder('shared', { Dockerfile: 'FROM scratch\n' });
    const stack = newStack();
    const front = new Network(stack, 'front', { name: 'f' });
    const back = new Network(stack, 'back', { name: 'b' });
    const a = new WebServer(stack, 'a', { serverName: 'web-1', namePrefix: 's', frontNetwork: front, backNetwork: back, app: { build: { context } } });
    const b = new WebServer(stack, 'b', { serverName: 'web-2', namePrefix: 's', frontNetwork: front, backNetwork: back, app: { build: { context } } });
    expect(a.appImage).toBe(b.appImage);
    expect(synth(stack).resources('docker_image').filter((i) => i.build)).toHaveLength(1);
  });

  it('uploads the static files into Nginx and serves them under the URL prefix', () => {
    const directory = folder('public', { 'index.html': '<h1>hi</h1>', 'css/site.css': 'body{}' });
    const stack = newStack();
    webServer(stack, { staticFiles: { directory, urlPath: '/assets/' } });
    const nginx = synth(stack).named('docker_container', 'site-web-1');
    expect(uploaded(nginx, '/usr/share/nginx/html/static/index.html')).toBe('<h1>hi</h1>');
    expect(uploaded(nginx, '/usr/share/nginx/html/static/css/site.css')).toBe('body{}');
    expect(uploaded(nginx, '/etc/nginx/nginx.conf')).toContain('location /assets/ {');
  });

  describe('validation', () => {
    const cases: [string, () => Partial<WebServerProps>, RegExp][] = [
      ['both image and build are given', () => ({ app: { image: 'a:1', build: { context: tmp } } }), /test\/web: 'app.image' and 'app.build' are mutually exclusive/],
      ['the build context does not exist', () => ({ app: { build: { context: path.join(tmp, 'nope') } } }), /'app.build.context' must be an existing folder, got ".*nope"/],
      ['the Dockerfile does not exist', () => ({ app: { build: { context: folder('nodockerfile', { 'a.txt': '' }) } } }), /'app.build.dockerfile' must name a file in the context, got "Dockerfile"/],
      ['the static folder does not exist', () => ({ staticFiles: { directory: path.join(tmp, 'missing') } }), /'staticFiles.directory' must be an existing folder/],
      ['the static URL prefix does not end with /', () => ({ staticFiles: { directory: tmp, urlPath: '/static' } }), /'staticFiles.urlPath' must be a URL prefix that starts and ends with "\/".*got "\/static"/],
      ['the app port is 0', () => ({ app: { port: 0 } }), /'app.port' must be an integer from 1 to 65535, got 0/],
      ['the app health path is relative', () => ({ app: { healthCheckPath: 'healthz' } }), /'app.healthCheckPath' must be an absolute URL path/],
      ['the app health path would inject a shell command', () => ({ app: { healthCheckPath: '/h;reboot' } }), /'app.healthCheckPath'.*got "\/h;reboot"/],
      ['an environment name is invalid', () => ({ app: { environment: { 'BAD-NAME': 'x' } } }), /'app.environment' must be keyed by variable names.*got "BAD-NAME"/],
      ['the server name is empty', () => ({ serverName: '' }), /'serverName' must be a lower-case DNS label/],
      ['the probe command has no Docker test type', () => ({ app: { healthCheckCommand: ['curl', '-f', 'http://127.0.0.1:3000/'] } }), /'app.healthCheck' probe must start with "CMD", "CMD-SHELL" or "NONE".*got \["curl"/],
      ['the Nginx image is malformed', () => ({ nginxImage: 'nginx latest' }), /'nginxImage' must be a Docker image reference.*got "nginx latest"/],
      ['the body limit is 0', () => ({ clientMaxBodySizeMegabytes: 0 }), /'clientMaxBodySizeMegabytes' must be an integer from 1 to 1024, got 0/],
      ['the Nginx health-check retries are 0', () => ({ nginxHealthCheck: { retries: 0 } }), /'nginxHealthCheck.retries' must be an integer from 1 to 100, got 0/],
    ];
    it.each(cases)('fails when %s', (_name, props, message) => {
      expect(() => webServer(newStack(), props())).toThrow(message);
    });
  });
});
