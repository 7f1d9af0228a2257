/**
 * Drives `cdktf deploy` / `destroy` of the bench stack (bench/deploy-app.ts) with the
 * offline provider mirror, and probes the deployed site the way the readiness gate does.
 */
import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';
import { docker, log, must, PASSWORDS, PORTS, PREFIX, removeByPrefix, ROOT, run, RunResult, runStamped, sleep, TimedLine, WORK } from './lib';

const CDKTF = path.join(ROOT, 'node_modules', '.bin', 'cdktf');
export const STACK = 'dwib';
const APP = 'npx ts-node --transpile-only bench/deploy-app.ts';

export interface Deployment {
  /** Folder under bench/.work/cdktf for this deployment's synth output and state. */
  readonly variant: string;
  /** Name prefix of its containers. */
  readonly name: string;
  readonly port: number;
  /** Extra environment for the app (DWIB_*) and the CLI. */
  readonly env?: NodeJS.ProcessEnv;
  /** cdktf's `--app` command. @default - bench/deploy-app.ts of this checkout */
  readonly app?: string;
}

export const BENCH: Deployment = { variant: 'bench', name: PREFIX, port: PORTS.cdktfLb };

const dir = (d: Deployment) => path.join(WORK, 'cdktf', d.variant);
export const outDir = (d: Deployment) => path.join(dir(d), 'cdktf.out');
export const stackDir = (d: Deployment) => path.join(outDir(d), 'stacks', STACK);

export function environment(d: Deployment): NodeJS.ProcessEnv {
  return {
    ...process.env,
    CHECKPOINT_DISABLE: '1',
    CI: '1',
    // As in e2e/cdktf.ts: provider 4.x would build with buildx against DOCKER_HOST;
    // this keeps the API builder that provider 3.6.2 (the bindings' pin) has.
    DOCKER_BUILDKIT: '0',
    DWIB_NAME: d.name,
    DWIB_PORT: String(d.port),
    DWIB_STATE: path.join(dir(d), 'terraform.tfstate'),
    ...Object.fromEntries(Object.entries(PASSWORDS).map(([k, v]) => [`TF_VAR_${k}`, v])),
    ...d.env,
  };
}

/** Runs `cdktf <command>` on the bench stack; `extra` are more CLI flags. Output lines are time-stamped. */
export function cdktf(command: 'deploy' | 'destroy' | 'synth', d: Deployment, extra: string[] = []): Promise<RunResult & { lines: TimedLine[] }> {
  fs.mkdirSync(dir(d), { recursive: true });
  const flags = command === 'synth' ? [] : ['--auto-approve', '--skip-provider-lock'];
  return runStamped(CDKTF, [command, STACK, ...flags, '--app', d.app ?? APP, '--output', outDir(d), ...extra], {
    cwd: ROOT,
    env: environment(d),
    timeoutMs: 900_000,
  });
}

function check<T extends RunResult>(what: string, result: T): T {
  if (result.code !== 0) {
    throw new Error(`cdktf ${what} failed (exit ${result.code}, ${result.seconds.toFixed(1)}s):\n${result.stdout.slice(-6000)}\n${result.stderr.slice(-3000)}`);
  }
  return result;
}

export const deploy = async (d: Deployment, extra: string[] = []) => check('deploy', await cdktf('deploy', d, extra));

/** Destroys the stack, then removes what Terraform leaves by design (the retained data volumes). */
export async function teardown(d: Deployment): Promise<void> {
  if (fs.existsSync(path.join(dir(d), 'terraform.tfstate'))) {
    const result = await cdktf('destroy', d);
    if (result.code !== 0) log('teardown', `cdktf destroy failed (exit ${result.code}); removing by name instead\n${result.stderr.slice(-1500)}`);
  }
  await removeByPrefix(`${d.name}-`);
}

/** The synthesized Terraform JSON of a deployment. */
export function synthesized(d: Deployment): any {
  return JSON.parse(fs.readFileSync(path.join(stackDir(d), 'cdk.tf.json'), 'utf8'));
}

/** The tag of the application image the stack built. */
export function appImageName(json: any): string {
  const built = Object.values(json.resource.docker_image as Record<string, any>).find((i) => i.build);
  if (!built) throw new Error('the synthesized stack builds no application image');
  return built.name;
}

/** One GET on a fresh connection; status 0 on a network error. */
export function get(url: string, timeoutMs = 3000): Promise<{ status: number; server: string; body: string }> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false, timeout: timeoutMs, headers: { connection: 'close' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, server: String(res.headers['x-web-server'] ?? ''), body }));
      res.on('error', () => resolve({ status: 0, server: '', body: '' }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ status: 0, server: '', body: '' }));
  });
}

/**
 * The readiness gate's condition, from this process: 3 consecutive 200s through the load
 * balancer and every server seen. Polls like the gate (1 s after a failure, 100 ms after a success).
 */
export async function waitServing(url: string, servers: string[], timeoutMs = 300_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const seen = new Set<string>();
  let streak = 0;
  for (;;) {
    const a = await get(url);
    if (a.status === 200) {
      streak++;
      if (a.server) seen.add(a.server);
    } else streak = 0;
    if (streak >= 3 && servers.every((s) => seen.has(s))) return;
    if (Date.now() > deadline) throw new Error(`${url} not serving after ${timeoutMs / 1000}s (streak ${streak}, seen ${[...seen].join(',')})`);
    await sleep(streak > 0 ? 100 : 1000);
  }
}

/** Waits until every named container reports `healthy`; polls `docker inspect` every 250 ms. */
export async function waitHealthy(names: string[], timeoutMs = 300_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const out = await run('docker', ['inspect', '-f', '{{.Name}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}', ...names], { timeoutMs: 30_000 });
    const states = out.stdout.trim().split('\n').filter(Boolean);
    if (out.code === 0 && states.length === names.length && states.every((s) => s.endsWith(' healthy'))) return;
    if (Date.now() > deadline) throw new Error(`not all healthy after ${timeoutMs / 1000}s: ${states.join('; ')} ${out.stderr.trim()}`);
    await sleep(250);
  }
}

/** Names of the containers of a prefix. */
export async function containersOf(prefix: string): Promise<string[]> {
  const out = await docker('ps', '-a', '--format', '{{.Names}}');
  return out.split('\n').filter((n) => n.startsWith(`${prefix}-`)).sort();
}

/** Runs SQL as root in a database container over TCP; returns tab-separated rows. */
export async function sql(container: string, query: string): Promise<string> {
  const out = await must(
    'docker',
    ['exec', '-e', `MYSQL_PWD=${PASSWORDS.db_root_password}`, container, 'mariadb', '--protocol=tcp', '-h', '127.0.0.1', '-uroot', '-N', '-B', '-e', query],
    { timeoutMs: 30_000 },
  );
  return out.trim();
}
