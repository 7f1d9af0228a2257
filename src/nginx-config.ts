/**
 * Pure renderer for nginx.conf: a typed model in, the file's text out.
 *
 * @see https://nginx.org/en/docs/
 */

export interface NginxConfigModel {
  /** Port Nginx listens on inside the container. */
  readonly listenPort: number;
  /** Name of the web server, sent back in the `X-Web-Server` header. */
  readonly serverName: string;
  /** Host name of the application container, resolved per request through `resolver`. */
  readonly upstreamHost: string;
  readonly upstreamPort: number;
  /** DNS server for the upstream name: Docker's embedded one is `127.0.0.11`. */
  readonly resolver: string;
  /** Path Nginx answers itself, for the container's health check. */
  readonly healthPath: string;
  /** URL prefix served from `staticRoot`; no static location when undefined. */
  readonly staticUrlPath?: string;
  readonly staticRoot?: string;
  /** Port of a second server that only answers `/nginx_status` (stub_status), for exporters. */
  readonly statusPort: number;
  readonly clientMaxBodySizeMegabytes: number;
  readonly proxyReadTimeoutSeconds: number;
}

/** Where the static files land in the Nginx container. */
export const NGINX_STATIC_ROOT = '/usr/share/nginx/html/static';

/** Renders a complete nginx.conf (it replaces the image's own). */
export function renderNginxConfig(model: NginxConfigModel): string {
  const staticBlock =
    model.staticUrlPath !== undefined && model.staticRoot !== undefined
      ? [
          // Both end in "/": an alias without the slash of its location opens path traversal.
          `        location ${model.staticUrlPath.replace(/\/?$/, '/')} {`,
          `            alias ${model.staticRoot.replace(/\/?$/, '/')};`,
          '            expires 1h;',
          '            try_files $uri =404;',
          '        }',
          '',
        ]
      : [];
  return [
    '# Rendered by cdktf-distributed-web. Do not edit: changes are overwritten on deploy.',
    'worker_processes auto;',
    '# Writable paths only under /tmp, so the same file works for a non-root Nginx.',
    'pid /tmp/nginx.pid;',
    'error_log stderr warn;',
    '',
    'events {',
    '    worker_connections 1024;',
    '}',
    '',
    'http {',
    '    include /etc/nginx/mime.types;',
    '    default_type application/octet-stream;',
    '    # Buffered: one write per 64 KiB or per second instead of one per request.',
    '    access_log /dev/stdout combined buffer=64k flush=1s;',
    '    server_tokens off;',
    '    sendfile on;',
    '    tcp_nopush on;',
    '    keepalive_timeout 65s;',
    `    client_max_body_size ${model.clientMaxBodySizeMegabytes}m;`,
    '    client_body_temp_path /tmp/client_temp;',
    '    proxy_temp_path /tmp/proxy_temp;',
    '    fastcgi_temp_path /tmp/fastcgi_temp;',
    '    uwsgi_temp_path /tmp/uwsgi_temp;',
    '    scgi_temp_path /tmp/scgi_temp;',
    '',
    '    # The upstream is a variable, so its name is resolved per request (cached 5 s):',
    '    # a replaced application container is followed without reloading Nginx.',
    `    resolver ${model.resolver} valid=5s ipv6=off;`,
    '    resolver_timeout 5s;',
    '',
    '    server {',
    `        listen ${model.listenPort} default_server;`,
    '        server_name _;',
    `        add_header X-Web-Server ${model.serverName} always;`,
    '',
    `        location = ${model.healthPath} {`,
    '            access_log off;',
    '            default_type text/plain;',
    '            return 200 "ok\\n";',
    '        }',
    '',
    ...staticBlock,
    '        location / {',
    `            set $app_upstream http://${model.upstreamHost}:${model.upstreamPort};`,
    '            proxy_pass $app_upstream;',
    '            proxy_http_version 1.1;',
    '            proxy_set_header Connection "";',
    '            proxy_set_header Host $host;',
    '            proxy_set_header X-Real-IP $remote_addr;',
    '            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
    '            proxy_connect_timeout 5s;',
    `            proxy_read_timeout ${model.proxyReadTimeoutSeconds}s;`,
    '        }',
    '    }',
    '',
    '    # Connection counters for a Prometheus exporter, on a port the load balancer never',
    '    # sends client traffic to.',
    '    server {',
    `        listen ${model.statusPort};`,
    '        access_log off;',
    '        location = /nginx_status {',
    '            stub_status;',
    '        }',
    '        location / {',
    '            return 404;',
    '        }',
    '    }',
    '}',
    '',
  ].join('\n');
}
