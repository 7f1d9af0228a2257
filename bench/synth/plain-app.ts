/**
 * The synth benchmark's baseline: the example stack (main.ts) written by hand with the
 * prebuilt provider classes only, the way a cdktf user without this library would:
 * template strings for the config files, a loop over the web servers, no validation.
 *
 * It declares the same resources as main.ts synthesizes (same types and counts, same
 * names, images, networks, uploads, health checks, dependencies); bench/synth.ts asserts
 * that before it times anything. Run it like main.ts: CDKTF_OUTDIR decides where it writes.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { Container, ContainerConfig } from '@cdktf/provider-docker/lib/container';
import { Image } from '@cdktf/provider-docker/lib/image';
import { Network } from '@cdktf/provider-docker/lib/network';
import { DockerProvider } from '@cdktf/provider-docker/lib/provider';
import { NullProvider } from '@cdktf/provider-null/lib/provider';
import { Resource } from '@cdktf/provider-null/lib/resource';
import { App, TerraformOutput, TerraformStack, TerraformVariable } from 'cdktf';
import { Construct } from 'constructs';

const APP_DIR = process.env.DWIB_APP_DIR ?? path.resolve(__dirname, '..', '..', 'app');
const NAME = 'dwi';
const SERVERS = ['web-1', 'web-2', 'web-3'];
const PROJECT = 'io.cdktf-distributed-web.project';
const ROLE = 'io.cdktf-distributed-web.role';

const b64 = (text: string | Buffer) => Buffer.from(text).toString('base64');
const file = (target: string, content: string | Buffer, mode = '0644') => ({ file: target, contentBase64: b64(content), permissions: mode });
const labels = (project: string, role: string) => [
  { label: PROJECT, value: project },
  { label: ROLE, value: role },
];
const logging = { logDriver: 'json-file', logOpts: { 'max-size': '10m', 'max-file': '3' } };
const httpProbe = (port: number, urlPath: string) => [
  'CMD',
  'bash',
  '-c',
  `exec 3<>/dev/tcp/127.0.0.1/${port} && printf 'GET ${urlPath} HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '`,
];
const health = (test: string[], startPeriod: string, interval = '2s', timeout = '3s', retries = 3) => ({ test, interval, timeout, retries, startPeriod });

const RESOLVERS = `resolvers docker
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
`;
const MONITOR = `frontend monitor
    bind :8404
    monitor-uri /healthz
    http-request use-service prometheus-exporter if { path /metrics }
`;

const haproxyCfg = (servers: string[]) => `global
    log stdout format raw local0 info
    maxconn 4096

${RESOLVERS}
defaults
    mode http
    log global
    option httplog
    option dontlognull
    option dontlog-normal
    option forwardfor
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    timeout http-request 10s
    timeout queue 30s
    timeout check 2s
    timeout http-keep-alive 10s
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response junk-response response-timeout 502 503 504

${MONITOR}
frontend http
    bind :8080
    http-request deny deny_status 413 if { req.hdr_val(content-length) gt 10485760 }
    http-request set-header X-Forwarded-Proto http
    http-request disable-l7-retry if !METH_GET
    default_backend web

backend web
    balance roundrobin
    http-reuse always
    option httpchk
    http-check send meth GET uri /healthz ver HTTP/1.1 hdr Host localhost
    http-check expect status 200
    default-server check inter 2s rise 2 fall 3 observe layer4 error-limit 3 on-error mark-down resolvers docker resolve-prefer ipv4 init-addr last,none
${servers.map((s) => `    server ${s} ${NAME}-${s}:80`).join('\n')}
`;

const readBalancerCfg = `global
    log stdout format raw local0 info
    maxconn 2000

${RESOLVERS}
defaults
    mode tcp
    log global
    option dontlognull
    timeout connect 1s
    timeout client 1h
    timeout server 1h
    timeout check 2s
    retries 2
    option redispatch 1

${MONITOR.replace('frontend monitor\n', 'frontend monitor\n    mode http\n')}
frontend mysql_read
    bind :3306
    default_backend replicas

backend replicas
    balance leastconn
    default-server check inter 2s rise 2 fall 3 on-marked-down shutdown-sessions on-marked-up shutdown-backup-sessions resolvers docker resolve-prefer ipv4 init-addr last,none
    server replica-1 ${NAME}-db-replica-1:3306
    server primary ${NAME}-db-primary:3306 backup
`;

const nginxConf = (server: string) => `worker_processes auto;
pid /tmp/nginx.pid;
error_log stderr warn;

events {
    worker_connections 1024;
}

http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
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
    resolver 127.0.0.11 valid=5s ipv6=off;
    resolver_timeout 2s;

    server {
        listen 80 default_server;
        server_name _;
        add_header X-Web-Server ${server} always;

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
            set $app_upstream http://${NAME}-${server}-app:3000;
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
`;

const myCnf = (serverId: number, host: string, replica: boolean) => `[mysqld]
server_id = ${serverId}
report_host = ${host}
log_bin = mysql-bin
relay_log = relay-bin
skip_name_resolve = ON
character_set_server = utf8mb4
gtid_mode = ON
enforce_gtid_consistency = ON
log_replica_updates = ON
${replica ? 'read_only = ON\n' : ''}`;

const SCRIPT_HEAD = `#!/bin/sh
set -eu
client=$(command -v mariadb || command -v mysql)
root_password="$MYSQL_ROOT_PASSWORD"
sql_quote() { printf '%s' "$1" | sed -e 's/\\\\/\\\\\\\\/g' -e "s/'/\\\\\\\\'/g"; }
`;
const primaryInit = `${SCRIPT_HEAD}user=$(sql_quote "$DWI_REPLICATION_USER")
password=$(sql_quote "$DWI_REPLICATION_PASSWORD")
MYSQL_PWD="$root_password" "$client" --protocol=socket -uroot <<SQL
SET SESSION sql_log_bin = 0;
CREATE USER IF NOT EXISTS '$user'@'%' IDENTIFIED BY '$password';
GRANT REPLICATION SLAVE ON *.* TO '$user'@'%';
SQL
`;
const replicaInit = `${SCRIPT_HEAD}host=$(sql_quote "$DWI_SOURCE_HOST")
port=$(printf "%d" "$DWI_SOURCE_PORT")
user=$(sql_quote "$DWI_REPLICATION_USER")
password=$(sql_quote "$DWI_REPLICATION_PASSWORD")
MYSQL_PWD="$root_password" "$client" --protocol=socket -uroot <<SQL
CHANGE REPLICATION SOURCE TO SOURCE_HOST='$host', SOURCE_PORT=$port,
  SOURCE_USER='$user', SOURCE_PASSWORD='$password',
  SOURCE_AUTO_POSITION=1, GET_SOURCE_PUBLIC_KEY=1, SOURCE_CONNECT_RETRY=5;
START REPLICA;
SET PERSIST_ONLY super_read_only = ON;
SQL
`;
const dbHealth = (replica: boolean) => `#!/bin/sh
set -eu
client=$(command -v mariadb || command -v mysql)
export MYSQL_PWD="$MYSQL_ROOT_PASSWORD"
"$client" --protocol=tcp -h 127.0.0.1 -P 3306 -uroot -N -e "SELECT 1" >/dev/null
${replica ? `status=$("$client" --protocol=tcp -h 127.0.0.1 -P 3306 -uroot -e "SHOW REPLICA STATUS\\G")
printf "%s\\n" "$status" | grep -Eq "^ *(Replica|Slave)_IO_Running: Yes$"
printf "%s\\n" "$status" | grep -Eq "^ *(Replica|Slave)_SQL_Running: Yes$"
` : ''}`;

const GATE = `const url = new URL(process.env.GATE_URL);
const expected = (process.env.GATE_SERVERS || '').split(',');
const deadline = Date.now() + 180000;
const seen = new Set();
let streak = 0;
function probe() {
  require('http').get(url, { timeout: 5000, headers: { connection: 'close' } }, (res) => {
    res.resume();
    if (res.statusCode === 200) { streak++; seen.add(String(res.headers['x-web-server'])); } else streak = 0;
    res.on('end', next);
  }).on('error', () => { streak = 0; next(); });
}
function next() {
  if (streak >= 3 && expected.every((s) => seen.has(s))) process.exit(0);
  if (Date.now() > deadline) process.exit(1);
  setTimeout(probe, streak > 0 ? 100 : 1000);
}
probe();
`;

/** Hash of the build context, so a changed file rebuilds the image. */
function hashDir(root: string): string {
  const hash = createHash('sha256');
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (['node_modules', 'dist', '.git'].includes(entry.name)) continue;
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else hash.update(path.relative(root, full)).update(fs.readFileSync(full));
    }
  };
  walk(root);
  return hash.digest('hex');
}

class PlainStack extends TerraformStack {
  constructor(scope: Construct, id: string) {
    super(scope, id);
    const v = (name: string, sensitive: boolean, defaultValue?: string) =>
      new TerraformVariable(this, name, { type: 'string', sensitive, default: defaultValue, nullable: false }).stringValue;
    new DockerProvider(this, 'docker', {
      host: v('docker_host', false, 'unix:///var/run/docker.sock'),
      caMaterial: v('docker_ca_material', true, ''),
      certMaterial: v('docker_cert_material', true, ''),
      keyMaterial: v('docker_key_material', true, ''),
    });
    new NullProvider(this, 'null');
    const dbPassword = v('db_password', true);
    const rootPassword = v('db_root_password', true);
    const replPassword = v('db_replication_password', true);

    const front = new Network(this, 'front', { name: `${NAME}-front`, labels: [{ label: PROJECT, value: NAME }] });
    const back = new Network(this, 'back', { name: `${NAME}-back`, internal: true, labels: [{ label: PROJECT, value: NAME }] });
    const haproxy = new Image(this, 'haproxy', { name: 'haproxy:3.0.5', keepLocally: true });
    const nginx = new Image(this, 'nginx', { name: 'nginx:1.27.2', keepLocally: true });
    const mysql = new Image(this, 'mysql', { name: 'mysql:8.4.3', keepLocally: true });
    const contentHash = hashDir(APP_DIR);
    const appImage = new Image(this, 'app', {
      name: `dwi-build/app:${contentHash.slice(0, 16)}`,
      buildAttribute: { context: APP_DIR, dockerfile: path.join(APP_DIR, 'Dockerfile'), buildArgs: {}, label: { 'io.cdktf-distributed-web.content-hash': contentHash } },
      triggers: { content_hash: contentHash },
      keepLocally: false,
    });

    const common = (config: ContainerConfig): ContainerConfig => ({
      restart: 'unless-stopped',
      wait: true,
      waitTimeout: 60,
      destroyGraceSeconds: 10,
      ...logging,
      ...config,
    });

    // The database: a primary and one replica, then a TCP read balancer in front of them.
    const db = (role: 'primary' | 'replica', serverId: number, nodeName: string, env: string[], dependsOn?: Container[]) =>
      new Container(this, nodeName, common({
        name: `${NAME}-db-${nodeName}`,
        hostname: `${NAME}-db-${nodeName}`,
        image: mysql.imageId,
        networksAdvanced: [{ name: back.id }],
        env: [`MYSQL_ROOT_PASSWORD=${rootPassword}`, `DWI_DB_ROLE=${role}`, 'DWI_REPLICATION_USER=replicator', `DWI_REPLICATION_PASSWORD=${replPassword}`, ...env],
        volumes: [{ volumeName: `${NAME}-db-${nodeName}-data`, containerPath: '/var/lib/mysql' }],
        upload: [
          file('/etc/mysql/conf.d/zz-cdktf-distributed-web.cnf', myCnf(serverId, `${NAME}-db-${nodeName}`, role === 'replica')),
          file('/docker-entrypoint-initdb.d/50-cdktf-distributed-web.sh', role === 'primary' ? primaryInit : replicaInit, '0755'),
          file('/usr/local/bin/dwi-db-healthcheck', dbHealth(role === 'replica'), '0755'),
        ],
        healthcheck: health(['CMD', '/usr/local/bin/dwi-db-healthcheck'], '30s', '2s', '5s', 5),
        labels: labels(NAME, `database-${role}`),
        securityOpts: ['no-new-privileges:true'],
        waitTimeout: 300,
        destroyGraceSeconds: 60,
        dependsOn,
      }));
    const primary = db('primary', 1, 'primary', [`MYSQL_DATABASE=app`, `MYSQL_USER=app`, `MYSQL_PASSWORD=${dbPassword}`]);
    const replica = db('replica', 2, 'replica-1', [`DWI_SOURCE_HOST=${NAME}-db-primary`, 'DWI_SOURCE_PORT=3306'], [primary]);
    const readBalancer = new Container(this, 'db-read', common({
      name: `${NAME}-db-read`,
      hostname: `${NAME}-db-read`,
      image: haproxy.imageId,
      networksAdvanced: [{ name: back.id }],
      upload: [file('/usr/local/etc/haproxy/haproxy.cfg', readBalancerCfg)],
      healthcheck: health(httpProbe(8404, '/healthz'), '5s'),
      labels: labels(NAME, 'database-read-balancer'),
      capabilities: { drop: ['ALL'] },
      securityOpts: ['no-new-privileges:true'],
    }));

    // The web servers: an application container and an Nginx in front of it, each.
    const staticFiles = fs.readdirSync(path.join(APP_DIR, 'public')).sort();
    const apps: Container[] = [];
    const webs = SERVERS.map((server) => {
      const app = new Container(this, `${server}-app`, common({
        name: `${NAME}-${server}-app`,
        hostname: `${NAME}-${server}-app`,
        image: appImage.imageId,
        networksAdvanced: [{ name: back.id }],
        env: [
          'PORT=3000',
          `SERVER_NAME=${server}`,
          `DB_PRIMARY_HOST=${NAME}-db-primary`,
          `DB_READ_HOST=${NAME}-db-read`,
          `DB_REPLICA_HOSTS=${NAME}-db-replica-1`,
          'DB_PORT=3306',
          'DB_NAME=app',
          'DB_USER=app',
          `DB_PASSWORD=${dbPassword}`,
        ],
        upload: [],
        healthcheck: health(httpProbe(3000, '/healthz'), '10s'),
        labels: labels(NAME, 'app'),
        capabilities: { drop: ['ALL'] },
        securityOpts: ['no-new-privileges:true'],
        waitTimeout: 120,
        dependsOn: [primary, readBalancer],
      }));
      apps.push(app);
      // No dependsOn: Nginx resolves the app per request.
      return new Container(this, server, common({
        name: `${NAME}-${server}`,
        hostname: `${NAME}-${server}`,
        image: nginx.imageId,
        networksAdvanced: [{ name: front.id }, { name: back.id }],
        upload: [
          file('/etc/nginx/nginx.conf', nginxConf(server)),
          ...staticFiles.map((f) => file(`/usr/share/nginx/html/static/${f}`, fs.readFileSync(path.join(APP_DIR, 'public', f)))),
        ],
        healthcheck: health(httpProbe(80, '/nginx-healthz'), '5s'),
        labels: labels(NAME, 'web'),
        // The image starts as root and drops to the nginx user.
        capabilities: { add: ['CAP_CHOWN', 'CAP_NET_BIND_SERVICE', 'CAP_SETGID', 'CAP_SETUID'], drop: ['ALL'] },
        securityOpts: ['no-new-privileges:true'],
        sysctls: { 'net.ipv4.tcp_tw_reuse': '1' },
      }));
    });

    const lb = new Container(this, 'lb', common({
      name: `${NAME}-lb`,
      image: haproxy.imageId,
      networksAdvanced: [{ name: front.id }],
      ports: [{ internal: 8080, external: 8080, ip: '0.0.0.0', protocol: 'tcp' }],
      upload: [{ file: '/usr/local/etc/haproxy/haproxy.cfg', contentBase64: b64(haproxyCfg(SERVERS)) }],
      healthcheck: health(httpProbe(8404, '/healthz'), '5s'),
      labels: labels(`${NAME}-lb`, 'load-balancer'),
      capabilities: { drop: ['ALL'] },
      securityOpts: ['no-new-privileges:true'],
    }));

    // `deploy` returns once the site answers through the load balancer from every server.
    const url = 'http://127.0.0.1:8080/healthz';
    new Resource(this, 'ready', {
      dependsOn: [lb, ...webs, ...apps, primary, replica, readBalancer],
      triggers: { url, lb: lb.id, ...Object.fromEntries(webs.map((w, i) => [SERVERS[i], w.id])), 'db-0': primary.id, 'db-1': replica.id },
      provisioners: [
        {
          type: 'local-exec',
          command: 'node -e "eval(Buffer.from(process.env.GATE_SCRIPT, \'base64\').toString())"',
          environment: { GATE_SCRIPT: b64(GATE), GATE_URL: url, GATE_SERVERS: SERVERS.join(',') },
        },
      ],
    });

    new TerraformOutput(this, 'site_url', { value: 'http://localhost:8080' });
    new TerraformOutput(this, 'web_servers', { value: SERVERS });
    new TerraformOutput(this, 'database_hosts', { value: [`${NAME}-db-primary`, `${NAME}-db-replica-1`] });
  }
}

const app = new App();
new PlainStack(app, 'distributed-web');
app.synth();
