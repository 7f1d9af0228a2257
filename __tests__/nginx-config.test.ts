import { chmodSync, mkdirSync, writeFileSync } from 'fs';
import { join } from 'path';
import { describe, expect, it } from 'vitest';
import { NGINX_STATIC_ROOT, NginxConfigModel, renderNginxConfig } from '../src/nginx-config';
import { explain, nginxCheck, start, withTempDir } from './support/binaries';
import { freePort, get, getWhenUp, startServer } from './support/http';

/** What WebServer hands the renderer, without static files. */
function model(overrides: Partial<NginxConfigModel> = {}): NginxConfigModel {
  return {
    listenPort: 80,
    serverName: 'web-1',
    upstreamHost: 'site-web-1-app',
    upstreamPort: 3000,
    resolver: '127.0.0.11',
    healthPath: '/nginx-healthz',
    statusPort: 8081,
    clientMaxBodySizeMegabytes: 10,
    proxyReadTimeoutSeconds: 60,
    ...overrides,
  };
}

const withStatic = (overrides: Partial<NginxConfigModel> = {}) =>
  model({ staticUrlPath: '/static/', staticRoot: NGINX_STATIC_ROOT, ...overrides });

/** The body of `location <path> { … }`, one trimmed directive a line. */
function location(cfg: string, path: string): string[] {
  const start = cfg.indexOf(`location ${path} {\n`);
  expect(start, `no location ${path} in:\n${cfg}`).toBeGreaterThan(0);
  const end = cfg.indexOf('\n        }', start);
  return cfg
    .slice(start, end)
    .split('\n')
    .slice(1)
    .map((l) => l.trim());
}

describe('renderNginxConfig', () => {
  it('renders the complete file for a representative model', () => {
    // GIVEN a web server with static files
    const m = withStatic();
    // WHEN
    const cfg = renderNginxConfig(m);
    // THEN
    expect(cfg).toBe(`# Rendered by cdktf-distributed-web. Do not edit: changes are overwritten on deploy.
worker_processes auto;
# Writable paths only under /tmp, so the same file works for a non-root Nginx.
pid /tmp/nginx.pid;
error_log stderr warn;

events {
    worker_connections 1024;
}

http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    # Buffered: one write per 64 KiB or per second instead of one per request.
    access_log /dev/stdout combined buffer=64k flush=1s;
    server_tokens off;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 65s;
    client_max_body_size 10m;
    client_body_temp_path /tmp/client_temp;
    proxy_temp_path /tmp/proxy_temp;
    fastcgi_temp_path /tmp/fastcgi_temp;
    uwsgi_temp_path /tmp/uwsgi_temp;
    scgi_temp_path /tmp/scgi_temp;

    # The upstream is a variable, so its name is resolved per request (cached 5 s):
    # a replaced application container is followed without reloading Nginx.
    resolver 127.0.0.11 valid=5s ipv6=off;
    resolver_timeout 5s;

    server {
        listen 80 default_server;
        server_name _;
        add_header X-Web-Server web-1 always;

        location = /nginx-healthz {
            access_log off;
            default_type text/plain;
            return 200 "ok\\n";
        }

        location /static/ {
            alias /usr/share/nginx/html/static/;
            expires 1h;
            try_files $uri =404;
        }

        location / {
            set $app_upstream http://site-web-1-app:3000;
            proxy_pass $app_upstream;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_connect_timeout 5s;
            proxy_read_timeout 60s;
        }
    }

    # Connection counters for a Prometheus exporter, on a port the load balancer never
    # sends client traffic to.
    server {
        listen 8081;
        access_log off;
        location = /nginx_status {
            stub_status;
        }
        location / {
            return 404;
        }
    }
}
`);
  });

  describe('static files', () => {
    it('renders no static location without static files', () => {
      // GIVEN / WHEN
      const cfg = renderNginxConfig(model());
      // THEN
      expect(cfg).not.toContain('alias');
      expect(cfg.match(/^ {8}location /gm)).toEqual(['        location ', '        location ', '        location ', '        location ']);
      expect(cfg).not.toContain('location /static/');
    });

    it('renders no static location when only one of staticUrlPath and staticRoot is given', () => {
      expect(renderNginxConfig(model({ staticUrlPath: '/static/' }))).not.toContain('alias');
      expect(renderNginxConfig(model({ staticRoot: '/srv/static' }))).not.toContain('alias');
    });

    it.each([
      ['/srv/static', '/srv/static/'],
      ['/srv/static/', '/srv/static/'],
    ])('serves the prefix from an alias that ends with "/" (root %s)', (staticRoot, alias) => {
      // GIVEN / WHEN
      const lines = location(renderNginxConfig(withStatic({ staticUrlPath: '/assets/', staticRoot })), '/assets/');
      // THEN
      expect(lines).toEqual([`alias ${alias};`, 'expires 1h;', 'try_files $uri =404;']);
    });

    it('gives the location a trailing "/" too, so the alias cannot be walked out of ("/static../")', () => {
      const cfg = renderNginxConfig(withStatic({ staticUrlPath: '/static' }));
      expect(cfg).toContain('location /static/ {');
      expect(cfg).not.toContain('location /static {');
    });

    it('puts the static location before the catch-all proxy location', () => {
      const cfg = renderNginxConfig(withStatic());
      expect(cfg.indexOf('location /static/ {')).toBeLessThan(cfg.indexOf('location / {'));
    });
  });

  describe('upstream', () => {
    it('keeps the upstream in a variable, so its name is resolved per request', () => {
      // GIVEN / WHEN
      const lines = location(renderNginxConfig(model({ upstreamHost: 'shop-web-2-app', upstreamPort: 8081 })), '/');
      // THEN
      expect(lines.slice(0, 2)).toEqual(['set $app_upstream http://shop-web-2-app:8081;', 'proxy_pass $app_upstream;']);
      expect(lines.filter((l) => l.startsWith('proxy_pass '))).toEqual(['proxy_pass $app_upstream;']);
    });

    it('resolves through the given resolver, without IPv6 and with a short cache', () => {
      const cfg = renderNginxConfig(model({ resolver: '10.0.0.2' }));
      expect(cfg).toContain('\n    resolver 10.0.0.2 valid=5s ipv6=off;\n');
    });

    it('renders the read timeout and the body size limit', () => {
      const cfg = renderNginxConfig(model({ proxyReadTimeoutSeconds: 300, clientMaxBodySizeMegabytes: 64 }));
      expect(location(cfg, '/')).toContain('proxy_read_timeout 300s;');
      expect(cfg).toContain('\n    client_max_body_size 64m;\n');
    });
  });

  it('answers the health path itself and names the server in a header on every answer', () => {
    // GIVEN / WHEN
    const cfg = renderNginxConfig(model({ healthPath: '/hc', serverName: 'web-7', listenPort: 8080 }));
    // THEN
    expect(location(cfg, '= /hc')).toContain('return 200 "ok\\n";');
    expect(cfg).toContain('\n        add_header X-Web-Server web-7 always;\n');
    expect(cfg).toContain('\n        listen 8080 default_server;\n');
  });

  it('contains no Terraform template syntax', () => {
    expect(renderNginxConfig(withStatic())).not.toMatch(/[$%]\{/);
  });
});

describe('nginx -t on rendered configurations', () => {
  const variants: [string, NginxConfigModel][] = [
    ['without static files', model()],
    ['with static files', withStatic()],
    ['with a static root without a trailing slash, on another port', withStatic({ staticUrlPath: '/assets/', staticRoot: '/srv/assets', listenPort: 8080 })],
    ['with large limits', model({ clientMaxBodySizeMegabytes: 1024, proxyReadTimeoutSeconds: 3600, healthPath: '/a/b/c' })],
  ];

  it.each(variants)('accepts the file %s, although the upstream name does not resolve here', async (_name, m) => {
    // GIVEN / WHEN
    const result = await nginxCheck(renderNginxConfig(m));
    // THEN
    expect(result.code, explain(result)).toBe(0);
  });

  it('fails when the upstream is a literal name: nginx would resolve it once, at start', async () => {
    // GIVEN the upstream written into proxy_pass directly
    const cfg = renderNginxConfig(model()).replace('proxy_pass $app_upstream;', 'proxy_pass http://site-web-1-app:3000;');
    // WHEN
    const result = await nginxCheck(cfg);
    // THEN
    expect(result.code, explain(result)).not.toBe(0);
    expect(result.stderr).toMatch(/host not found in upstream "site-web-1-app"/);
  });

  it('fails when the listen port is 0', async () => {
    const result = await nginxCheck(renderNginxConfig(model({ listenPort: 0 })));
    expect(result.code, explain(result)).not.toBe(0);
    expect(result.stderr).toMatch(/invalid port in "0"/);
  });

  it('fails when a directive is unknown', async () => {
    const cfg = renderNginxConfig(model()).replace('server_tokens off;', 'server_tokens off;\n    no_such_directive on;');
    const result = await nginxCheck(cfg);
    expect(result.code, explain(result)).not.toBe(0);
    expect(result.stderr).toMatch(/unknown directive "no_such_directive"/);
  });
});

describe('nginx serving a rendered configuration', () => {
  it('answers its health path, serves static files and proxies the rest to the application', async () => {
    await withTempDir(async (dir) => {
      // GIVEN an application on a loopback port and a static file
      const app = await startServer((req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain', 'x-app': 'yes' });
        res.end(`app saw ${req.url} for ${req.headers['x-forwarded-for']}`);
      });
      const staticRoot = join(dir, 'static');
      mkdirSync(staticRoot);
      writeFileSync(join(staticRoot, 'site.css'), 'body { color: red }\n');
      // nginx's workers drop root privileges: they must be able to read the files
      chmodSync(dir, 0o755);
      chmodSync(staticRoot, 0o755);
      chmodSync(join(staticRoot, 'site.css'), 0o644);
      const port = await freePort();
      const cfg = renderNginxConfig(
        withStatic({ listenPort: port, serverName: 'web-9', upstreamHost: '127.0.0.1', upstreamPort: app.port, staticRoot }),
      ).replace('pid /tmp/nginx.pid;', `pid ${dir}/nginx.pid;`); // tests may run side by side
      const file = join(dir, 'nginx.conf');
      writeFileSync(file, cfg);
      // WHEN nginx runs it in the foreground
      const nginx = start('nginx', ['-e', 'stderr', '-p', `${dir}/`, '-c', file, '-g', 'daemon off;']);
      try {
        const base = `http://127.0.0.1:${port}`;
        const health = await getWhenUp(`${base}/nginx-healthz`);
        const css = await get(`${base}/static/site.css`);
        const missing = await get(`${base}/static/none.css`);
        const proxied = await get(`${base}/orders?id=1`);
        // THEN
        expect(health.status, JSON.stringify(nginx.output())).toBe(200);
        expect(health.body).toBe('ok\n');
        expect(health.headers['x-web-server']).toBe('web-9');
        expect(css).toMatchObject({ status: 200, body: 'body { color: red }\n' });
        expect(css.headers['content-type']).toBe('text/css');
        expect(missing.status).toBe(404);
        expect(missing.headers['x-web-server']).toBe('web-9');
        expect(proxied.status).toBe(200);
        expect(proxied.body).toBe('app saw /orders?id=1 for 127.0.0.1');
        expect(proxied.headers['x-web-server']).toBe('web-9');
        expect(app.requests.map((r) => r.url)).toEqual(['/orders?id=1']);
      } finally {
        await nginx.stop();
        await app.close();
      }
    });
  });
});
