/**
 * The example app: the design documents' setup with the demo application of app/.
 */
import * as path from 'path';
import { App, Testing } from 'cdktf';
import { describe, expect, it } from 'vitest';
import { ExampleStack } from '../main';
import { DatabaseEngine } from '../src';

function synthExample(props: ConstructorParameters<typeof ExampleStack>[2] = {}) {
  const app: App = Testing.app();
  const stack = new ExampleStack(app, 'example', props);
  return { stack, json: JSON.parse(Testing.synth(stack, true)) };
}

describe('the example app (main.ts)', () => {
  it('deploys 3 web servers, round robin, active-active, a MySQL primary and 1 replica', () => {
    const { stack, json } = synthExample();
    expect(stack.site.webServerNames).toEqual(['web-1', 'web-2', 'web-3']);
    expect(stack.site.loadBalancer.algorithm).toBe('roundrobin');
    expect(stack.site.loadBalancer.mode).toBe('active-active');
    expect(stack.site.database.engine).toBe(DatabaseEngine.MYSQL);
    expect(Object.keys(json.resource.docker_container)).toHaveLength(10);
  });

  it('builds the demo application from app/ and serves app/public from Nginx', () => {
    const { json } = synthExample();
    const images = Object.values(json.resource.docker_image) as any[];
    const build = images.find((i) => i.build);
    expect(build.build.context).toBe(path.resolve(__dirname, '..', 'app'));
    const nginx = (Object.values(json.resource.docker_container) as any[]).find((c) => c.name === 'dwi-web-1');
    expect(nginx.upload.map((u: any) => u.file)).toContain('/usr/share/nginx/html/static/index.html');
  });

  it('owns the providers, takes the passwords from sensitive variables and the Docker host from a variable', () => {
    const { json } = synthExample();
    expect(json.provider.docker[0].host).toBe('${var.docker_host}');
    expect(json.variable.docker_host.default).toBe('unix:///var/run/docker.sock');
    for (const name of ['db_password', 'db_root_password', 'db_replication_password', 'docker_key_material']) {
      expect(json.variable[name]).toMatchObject({ type: 'string', sensitive: true });
    }
    expect(json.variable.db_password.default).toBeUndefined();
    expect(json.provider.null).toBeDefined();
  });

  it('outputs the site URL, the web servers and the database hosts', () => {
    const { json } = synthExample();
    expect(json.output.site_url.value).toBe('http://localhost:8080');
    expect(json.output.web_servers.value).toEqual(['web-1', 'web-2', 'web-3']);
    expect(json.output.database_hosts.value).toEqual(['dwi-db-primary', 'dwi-db-replica-1', 'dwi-db-read']);
  });

  it('passes image overrides through (the end-to-end suite uses local stand-ins)', () => {
    const { json } = synthExample({
      engine: DatabaseEngine.MARIADB,
      images: { haproxy: 'dwi-local/haproxy:2.6', nginx: 'dwi-local/nginx:1.22', database: 'dwi-local/mariadb:10.11', node: 'dwi-local/node:18' },
    });
    const images = (Object.values(json.resource.docker_image) as any[]).map((i) => i.name);
    expect(images).toEqual(expect.arrayContaining(['dwi-local/haproxy:2.6', 'dwi-local/nginx:1.22', 'dwi-local/mariadb:10.11']));
    const build = (Object.values(json.resource.docker_image) as any[]).find((i) => i.build);
    expect(build.build.build_args).toEqual({ NODE_IMAGE: 'dwi-local/node:18' });
  });
});
