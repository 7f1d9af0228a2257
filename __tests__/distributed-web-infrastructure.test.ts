import { TerraformVariable } from 'cdktf';
import { describe, expect, it } from 'vitest';
import {
  DatabaseEngine,
  DistributedWebInfrastructure,
  DistributedWebInfrastructureProps,
  LoadBalancerMode,
  LoadBalancingAlgorithm,
} from '../src';
import { newStack, synth, uploaded } from './support/synth';

const database = { password: 'app-pw', rootPassword: 'root-pw', replicationPassword: 'repl-pw' };

function site(props: Partial<DistributedWebInfrastructureProps> = {}) {
  const stack = newStack();
  const infra = new DistributedWebInfrastructure(stack, 'site', { database, ...props });
  return { stack, infra };
}

function gateEnv(out: ReturnType<typeof synth>): Record<string, string> {
  return out.resources('null_resource')[0].provisioner[0]['local-exec'].environment;
}

describe('DistributedWebInfrastructure', () => {
  it('gives the design documents’ setup from the passwords alone', () => {
    const { stack, infra } = site();
    const out = synth(stack);
    expect(out.resources('docker_container').map((c) => c.name).sort()).toEqual([
      'site-db-primary',
      'site-db-read',
      'site-db-replica-1',
      'site-lb',
      'site-web-1',
      'site-web-1-app',
      'site-web-2',
      'site-web-2-app',
      'site-web-3',
      'site-web-3-app',
    ]);
    expect(infra.loadBalancer.algorithm).toBe(LoadBalancingAlgorithm.ROUND_ROBIN);
    expect(infra.loadBalancer.mode).toBe(LoadBalancerMode.ACTIVE_ACTIVE);
    expect(infra.database.engine).toBe(DatabaseEngine.MYSQL);
    expect(infra.webServerNames).toEqual(['web-1', 'web-2', 'web-3']);
    expect(infra.databaseHosts).toEqual(['site-db-primary', 'site-db-replica-1', 'site-db-read']);
    expect(infra.siteUrl).toBe('http://localhost:8080');
  });

  it('segments the networks: the back network is internal and only the load balancer publishes a port', () => {
    const { stack } = site();
    const out = synth(stack);
    expect(out.named('docker_network', 'site-front').internal).toBeUndefined();
    expect(out.named('docker_network', 'site-back').internal).toBe(true);
    const published = out.resources('docker_container').filter((c) => c.ports !== undefined);
    expect(published.map((c) => c.name)).toEqual(['site-lb']);
    for (const c of out.resources('docker_container')) {
      const networks = c.networks_advanced.map((n: any) => n.name);
      if (c.name.startsWith('site-db') || c.name.endsWith('-app')) expect(networks).toEqual([expect.stringContaining('BackNetwork')]);
      else if (c.name === 'site-lb') expect(networks).toEqual([expect.stringContaining('FrontNetwork')]);
      else expect(networks).toEqual([expect.stringContaining('FrontNetwork'), expect.stringContaining('BackNetwork')]);
    }
  });

  it('sends the load balancer to every web server, starting beside them', () => {
    const { stack } = site({ webServers: { count: 5 } });
    const lb = synth(stack).named('docker_container', 'site-lb');
    const cfg = uploaded(lb, '/usr/local/etc/haproxy/haproxy.cfg');
    for (const i of [1, 2, 3, 4, 5]) expect(cfg).toContain(`server web-${i} site-web-${i}:80`);
    // HAProxy finds them through DNS when they come (init-addr last,none); the gate waits for all.
    expect(lb.depends_on).toBeUndefined();
  });

  it('wires the application to the primary for writes and the replica for reads', () => {
    const { stack } = site({ database: { ...database, replicas: 2 } });
    const app = synth(stack).named('docker_container', 'site-web-2-app');
    expect(app.env).toEqual(
      expect.arrayContaining([
        'SERVER_NAME=web-2',
        'DB_PRIMARY_HOST=site-db-primary',
        'DB_READ_HOST=site-db-read',
        'DB_REPLICA_HOSTS=site-db-replica-1,site-db-replica-2',
        'DB_PASSWORD=app-pw',
      ]),
    );
  });

  it('passes the issue’s example call through to the tiers', () => {
    const { stack, infra } = site({
      loadBalancer: { algorithm: LoadBalancingAlgorithm.LEAST_CONNECTIONS, mode: LoadBalancerMode.ACTIVE_PASSIVE, passiveServers: 2, port: 8080 },
      webServers: { count: 5, app: { image: 'example/app:1', port: 3000 } },
      database: { engine: DatabaseEngine.MARIADB, replicas: 2, databaseName: 'app', username: 'app', ...database },
    });
    const out = synth(stack);
    const cfg = uploaded(out.named('docker_container', 'site-lb'), '/usr/local/etc/haproxy/haproxy.cfg');
    expect(cfg).toContain('balance leastconn');
    expect(cfg).toContain('server web-4 site-web-4:80 backup');
    expect(cfg).toContain('server web-5 site-web-5:80 backup');
    expect(cfg).toContain('server web-3 site-web-3:80\n');
    expect(infra.database.replicas).toHaveLength(2);
    expect(out.resources('docker_image').map((i) => i.name).sort()).toEqual(['example/app:1', 'haproxy:3.0.5', 'mariadb:11.4.4', 'nginx:1.27.2']);
    expect(out.resources('docker_container').filter((c) => c.name.startsWith('site-db-replica'))).toHaveLength(2);
    // The gate expects answers from the active servers only.
    expect(gateEnv(out).DWI_GATE_SERVERS).toBe('web-1,web-2,web-3');
  });

  it('makes deploy wait for the site through the load balancer, and re-checks when a container is replaced', () => {
    const { stack } = site({ loadBalancer: { port: 18080, hostAddress: '127.0.0.1' } });
    const out = synth(stack);
    const gate = out.resources('null_resource')[0];
    expect(gateEnv(out)).toMatchObject({
      DWI_GATE_URL: 'http://127.0.0.1:18080/healthz',
      DWI_GATE_SERVERS: 'web-1,web-2,web-3',
      DWI_GATE_TIMEOUT_SECONDS: '180',
    });
    expect(gate.provisioner[0]['local-exec'].command).toContain('node -e');
    expect(Object.keys(gate.triggers).sort()).toEqual(['db-0', 'db-1', 'lb', 'url', 'web-1', 'web-2', 'web-3']);
    // Every container: they start side by side, and the gate is where the deploy waits for all.
    const containers = out.resources('docker_container');
    expect(containers.map((c) => c.name).sort()).toEqual([
      'site-db-primary', 'site-db-read', 'site-db-replica-1', 'site-lb',
      'site-web-1', 'site-web-1-app', 'site-web-2', 'site-web-2-app', 'site-web-3', 'site-web-3-app',
    ]);
    expect([...gate.depends_on].sort()).toEqual(containers.map((c) => `docker_container.${c.__id}`).sort());
  });

  it('checks and links HTTPS when TLS is on', () => {
    const { stack, infra } = site({ loadBalancer: { hostAddress: '127.0.0.1', tls: { certificatePem: 'PEM', port: 9443 } } });
    const out = synth(stack);
    expect(gateEnv(out).DWI_GATE_URL).toBe('https://127.0.0.1:9443/healthz');
    expect(infra.siteUrl).toBe('https://127.0.0.1:9443');
  });

  it('expects no particular server with SOURCE hashing, and can be turned off', () => {
    expect(gateEnv(synth(site({ loadBalancer: { algorithm: LoadBalancingAlgorithm.SOURCE } }).stack)).DWI_GATE_SERVERS).toBe('');
    const { stack, infra } = site({ readiness: { enabled: false } });
    expect(synth(stack).resources('null_resource')).toEqual([]);
    expect(infra.readinessGate).toBeUndefined();
  });

  it('keeps every password out of the JSON when they come from variables', () => {
    const stack = newStack();
    const secret = (name: string) => new TerraformVariable(stack, name, { type: 'string', sensitive: true }).stringValue;
    new DistributedWebInfrastructure(stack, 'site', {
      database: { password: secret('db_password'), rootPassword: secret('db_root_password'), replicationPassword: secret('db_replication_password') },
    });
    const text = JSON.stringify(synth(stack).json);
    expect(text).toContain('${var.db_password}');
    expect(text).not.toMatch(/PASSWORD=(?!\$\{var\.)/);
  });

  it('names everything from the name prop', () => {
    const { stack } = site({ name: 'shop' });
    const names = synth(stack).resources('docker_container').map((c) => c.name);
    expect(names).toContain('shop-lb');
    expect(names).toContain('shop-db-primary');
  });

  describe('validation', () => {
    const cases: [string, Partial<DistributedWebInfrastructureProps>, RegExp][] = [
      ['the web server count is 0', { webServers: { count: 0 } }, /test\/site: 'webServers.count' must be an integer from 1 to 64, got 0/],
      ['the web server count is absurd', { webServers: { count: 10000 } }, /'webServers.count' must be an integer from 1 to 64, got 10000/],
      ['the name is empty', { name: '' }, /test\/site: 'name' must be a lower-case DNS label.*got ""/],
      ['the readiness path is not a path', { readiness: { path: 'x y' } }, /'readiness.path' must be an absolute URL path/],
      ['the load balancer port is out of range', { loadBalancer: { port: 65536 } }, /test\/site\/LoadBalancer: 'port' must be an integer from 1 to 65535, got 65536/],
      ['the application port is out of range', { webServers: { app: { port: -1 } } }, /test\/site\/WebServer1: 'app.port' must be an integer from 1 to 65535, got -1/],
      ['the replicas are absurd', { database: { ...database, replicas: 99 } }, /test\/site\/Database: 'replicas' must be an integer from 0 to 16, got 99/],
    ];
    it.each(cases)('fails when %s', (_name, props, message) => {
      expect(() => site(props)).toThrow(message);
    });

    it('fails at synthesis when passiveServers is not less than the web servers', () => {
      const { stack } = site({ loadBalancer: { mode: LoadBalancerMode.ACTIVE_PASSIVE, passiveServers: 3 } });
      expect(() => synth(stack)).toThrow(/test\/site\/LoadBalancer: 'passiveServers' must be less than the number of servers \(3\), got 3/);
    });
  });
});
