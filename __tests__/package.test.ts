/**
 * The path of a user who installs the library from npm: `npm pack` the package, install
 * the tarball into a fresh cdktf app, and synthesize a stack from it with the cdktf CLI.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '..');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'dwi-pack-'));
const run = (cmd: string, args: string[], cwd: string) =>
  execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000, env: { ...process.env, CHECKPOINT_DISABLE: '1' } });
const version = (name: string) => JSON.parse(fs.readFileSync(path.join(root, 'node_modules', name, 'package.json'), 'utf8')).version;

let tarball: string;
let files: string[];

beforeAll(() => {
  const packed = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', work], root));
  tarball = path.join(work, packed[0].filename);
  files = packed[0].files.map((f: { path: string }) => f.path);

  const app = path.join(work, 'app');
  fs.mkdirSync(app);
  fs.writeFileSync(
    path.join(app, 'package.json'),
    JSON.stringify({
      name: 'consumer',
      private: true,
      dependencies: {
        'cdktf-distributed-web': `file:${tarball}`,
        cdktf: version('cdktf'),
        constructs: version('constructs'),
        '@cdktf/provider-docker': version('@cdktf/provider-docker'),
        '@cdktf/provider-null': version('@cdktf/provider-null'),
      },
    }),
  );
  fs.writeFileSync(path.join(app, 'cdktf.json'), JSON.stringify({ language: 'typescript', app: 'node main.js', terraformProviders: [] }));
  fs.writeFileSync(
    path.join(app, 'main.js'),
    `const { App, TerraformStack } = require('cdktf');
const { DockerProvider } = require('@cdktf/provider-docker/lib/provider');
const { NullProvider } = require('@cdktf/provider-null/lib/provider');
const { DistributedWebInfrastructure, DatabaseEngine } = require('cdktf-distributed-web');
const app = new App();
const stack = new TerraformStack(app, 'consumer');
new DockerProvider(stack, 'docker', {});
new NullProvider(stack, 'null');
new DistributedWebInfrastructure(stack, 'shop', {
  webServers: { count: 2 },
  database: { engine: DatabaseEngine.MARIADB, password: 'p', rootPassword: 'r', replicationPassword: 'x' },
});
app.synth();
`,
  );
  run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], app);
}, 600_000);

afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

describe('the npm package', () => {
  it('ships the compiled library and its typings, and no sources or tests', () => {
    expect(files).toContain('lib/index.js');
    expect(files).toContain('lib/index.d.ts');
    expect(files).toContain('lib/load-balancer.d.ts');
    expect(files.filter((f) => f.startsWith('src/') || f.startsWith('__tests__/') || f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
  });

  it('installs into a fresh cdktf app with one copy of cdktf, and synthesizes from it', () => {
    const app = path.join(work, 'app');
    expect(fs.existsSync(path.join(app, 'node_modules', 'cdktf-distributed-web', 'node_modules', 'cdktf'))).toBe(false);
    run(path.join(root, 'node_modules', '.bin', 'cdktf'), ['synth'], app);
    const json = JSON.parse(fs.readFileSync(path.join(app, 'cdktf.out', 'stacks', 'consumer', 'cdk.tf.json'), 'utf8'));
    const names = Object.values(json.resource.docker_container).map((c: any) => c.name).sort();
    expect(names).toEqual(['shop-db-primary', 'shop-db-read', 'shop-db-replica-1', 'shop-lb', 'shop-web-1', 'shop-web-1-app', 'shop-web-2', 'shop-web-2-app']);
    expect(json.terraform.required_providers.docker).toMatchObject({ source: 'kreuzwerker/docker', version: '3.6.2' });
  });
});
