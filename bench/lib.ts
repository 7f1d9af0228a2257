/**
 * Helpers shared by the benchmarks: processes with hard time limits, statistics,
 * tables, result files, the machine's description and clean-up by name prefix.
 */
import { execFile, ExecFileOptions, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export const ROOT = path.resolve(__dirname, '..');
/** Scratch space of the benchmarks (git-ignored): synth output, Terraform state, compose files. */
export const WORK = process.env.DWIB_WORK ?? path.join(ROOT, 'bench', '.work');
export const RESULTS = path.join(ROOT, 'bench', 'results');

/** Prefix of every container, network and volume the benchmarks create. */
export const PREFIX = 'dwib';
/** Host ports, all on 127.0.0.1 (the e2e suite uses 18080-18090). */
export const PORTS = {
  cdktfLb: 19080,
  composeLb: 19081,
  direct: 19090,
  tunedLb: 19091,
  tunedDirect: 19092,
  beforeLb: 19093,
  beforeDirect: 19094,
};
export const IMAGES = {
  haproxy: 'dwi-local/haproxy:2.6',
  nginx: 'dwi-local/nginx:1.22',
  database: 'dwi-local/mariadb:10.11',
  node: 'dwi-local/node:18',
};
export const PASSWORDS = {
  db_password: 'bench-app-pw',
  db_root_password: 'bench-root-pw',
  db_replication_password: 'bench-repl-pw',
};

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly seconds: number;
}

/** Runs a command to completion (killed after `timeoutMs`); never throws. */
export function run(cmd: string, args: string[], options: ExecFileOptions & { timeoutMs?: number } = {}): Promise<RunResult> {
  const started = process.hrtime.bigint();
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      { maxBuffer: 256 * 1024 * 1024, encoding: 'utf8', timeout: options.timeoutMs ?? 120_000, killSignal: 'SIGKILL', ...options },
      (error, stdout, stderr) => {
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        const errno = error as (NodeJS.ErrnoException & { code?: number | string }) | null;
        const code = errno ? (typeof errno.code === 'number' ? errno.code : 1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) + (errno && !stderr ? errno.message : ''), seconds });
      },
    );
  });
}

/** A line of output and when it came, in seconds since the start. */
export interface TimedLine {
  readonly t: number;
  readonly line: string;
}

/** Like {@link run}, but also stamps every stdout line with the time it arrived. */
export function runStamped(cmd: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunResult & { lines: TimedLine[] }> {
  const started = process.hrtime.bigint();
  const since = () => Number(process.hrtime.bigint() - started) / 1e9;
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: TimedLine[] = [];
    let stdout = '';
    let stderr = '';
    let partial = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const parts = (partial + chunk).split('\n');
      partial = parts.pop() ?? '';
      const t = since();
      for (const line of parts) lines.push({ t, line });
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 900_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (partial) lines.push({ t: since(), line: partial });
      resolve({ code: code ?? 1, stdout, stderr, seconds: since(), lines });
    });
  });
}

/** Runs a command and returns its stdout; throws with its output when it fails. */
export async function must(cmd: string, args: string[], options: ExecFileOptions & { timeoutMs?: number } = {}): Promise<string> {
  const result = await run(cmd, args, options);
  if (result.code !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited ${result.code} after ${result.seconds.toFixed(1)}s\n${result.stdout.slice(-4000)}\n${result.stderr.slice(-4000)}`);
  }
  return result.stdout;
}

export const docker = (...args: string[]) => must('docker', args, { timeoutMs: 180_000 }).then((s) => s.trim());
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// --- statistics ---------------------------------------------------------------

export function median(values: number[]): number {
  return percentile(values, 50);
}

/** Percentile by linear interpolation between closest ranks. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
}

export const round = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits;

/**
 * Runs `a` and `b` alternately, `runs` times each (A B A B …), so drift in the machine's
 * state (caches, other load) hits both sides alike.
 */
export async function alternate<A, B>(runs: number, a: (i: number) => Promise<A>, b: (i: number) => Promise<B>): Promise<{ a: A[]; b: B[] }> {
  const out = { a: [] as A[], b: [] as B[] };
  for (let i = 0; i < runs; i++) {
    out.a.push(await a(i));
    out.b.push(await b(i));
  }
  return out;
}

// --- output ---------------------------------------------------------------------

/** Prints an aligned table. */
export function table(title: string, headers: string[], rows: (string | number)[][]): void {
  const cells = [headers, ...rows.map((r) => r.map((c) => String(c)))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  console.log(`\n${title}`);
  console.log(line(headers));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of cells.slice(1)) console.log(line(r));
}

export function log(scope: string, message: string): void {
  console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${scope}: ${message}`);
}

/** Writes `bench/results/<name>.json` with the machine and contention figures added. */
export async function writeResult(name: string, result: object): Promise<string> {
  fs.mkdirSync(RESULTS, { recursive: true });
  const file = path.join(RESULTS, `${name}.json`);
  fs.writeFileSync(file, JSON.stringify({ benchmark: name, finishedAt: new Date().toISOString(), machine: await machine(), ...result }, null, 2) + '\n');
  log(name, `results written to ${path.relative(ROOT, file)}`);
  return file;
}

let machineCache: object | undefined;
/** What the figures came from. */
export async function machine(): Promise<object> {
  if (machineCache) return machineCache;
  const text = async (cmd: string, args: string[]) => (await run(cmd, args, { timeoutMs: 30_000 })).stdout.trim();
  const tfVersion = (await text(process.env.TERRAFORM_BINARY_NAME ?? 'terraform', ['version', '-json']).then((s) => JSON.parse(s || '{}')).catch(() => ({}))) as {
    terraform_version?: string;
  };
  const cdktfPkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', 'cdktf', 'package.json'), 'utf8'));
  const bindings = JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', '@cdktf', 'provider-docker', 'package.json'), 'utf8'));
  machineCache = {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    memoryGiB: round(os.totalmem() / 1024 ** 3, 1),
    kernel: os.release(),
    os: await text('sh', ['-c', '. /etc/os-release && echo "$PRETTY_NAME"']),
    node: process.version,
    docker: await text('docker', ['version', '--format', 'server {{.Server.Version}}, client {{.Client.Version}}']),
    dockerCompose: await text('docker-compose', ['version', '--short']),
    wrk: (await text('sh', ['-c', 'wrk -v 2>&1 | head -n 1'])).split(' ').slice(0, 2).join(' '),
    terraform: tfVersion.terraform_version,
    cdktf: cdktfPkg.version,
    providerDockerBindings: `${bindings.version} (pins kreuzwerker/docker ${bindings.cdktf?.provider?.version ?? '3.6.2'})`,
    providerDockerUsed: process.env.DWI_TF_DOCKER_VERSION ?? 'as pinned by the bindings',
    images: IMAGES,
  };
  return machineCache;
}

/**
 * A snapshot of what else runs: the 1-minute load, the e2e suite's containers and other
 * test runners (vitest) on the machine.
 */
export async function contention(): Promise<{ load1: number; e2eContainers: number; vitest: number }> {
  const out = await run('docker', ['ps', '-q', '--filter', 'name=^dwie2e-'], { timeoutMs: 30_000 });
  const vitest = await run('pgrep', ['-c', '-f', 'vitest'], { timeoutMs: 10_000 });
  return { load1: round(os.loadavg()[0], 2), e2eContainers: out.stdout.split('\n').filter(Boolean).length, vitest: Number(vitest.stdout.trim() || 0) };
}

/**
 * Waits (at most `maxSeconds`) until nothing else runs: no test runner (vitest, which the
 * e2e suite runs too) and a 1-minute load below 1.5. Returns whether it got quiet.
 */
export async function waitForQuiet(maxSeconds: number, scope: string): Promise<boolean> {
  const deadline = Date.now() + maxSeconds * 1000;
  let said = false;
  for (;;) {
    const c = await contention();
    // A running e2e suite is a vitest process; its containers left up but idle only add load.
    if (c.vitest === 0 && c.load1 < 1.5) return true;
    if (Date.now() > deadline) {
      log(scope, `still busy after ${maxSeconds} s (${JSON.stringify(c)}): going ahead, figures marked as taken under contention`);
      return false;
    }
    if (!said) log(scope, `waiting up to ${maxSeconds} s for the machine to be quiet (${JSON.stringify(c)})`);
    said = true;
    await sleep(10_000);
  }
}

export interface Contention {
  /** The e2e suite's containers were up at some sample. */
  readonly e2eSeen: boolean;
  /** Another test runner (vitest) was running at some sample. */
  readonly testRunnerSeen: boolean;
  readonly maxLoad1: number;
  readonly samples: number;
}

/** Samples contention every 5 s while `work` runs. */
export async function watchContention<T>(work: () => Promise<T>): Promise<{ value: T; contention: Contention }> {
  let e2eSeen = false;
  let testRunnerSeen = false;
  let maxLoad1 = 0;
  let samples = 0;
  let stopped = false;
  const sampler = (async () => {
    while (!stopped) {
      const c = await contention();
      e2eSeen ||= c.e2eContainers > 0;
      testRunnerSeen ||= c.vitest > 0;
      maxLoad1 = Math.max(maxLoad1, c.load1);
      samples++;
      for (let i = 0; i < 10 && !stopped; i++) await sleep(500);
    }
  })();
  try {
    const value = await work();
    return { value, contention: { e2eSeen, testRunnerSeen, maxLoad1, samples } };
  } finally {
    stopped = true;
    await sampler;
  }
}

// --- clean-up -------------------------------------------------------------------

/** Removes every container, network and volume whose name starts with `prefix`. */
export async function removeByPrefix(prefix: string): Promise<void> {
  // Name filters are substring matches for networks and volumes: filter the names here.
  const list = async (...args: string[]) => (await docker(...args)).split('\n').filter((n) => n.startsWith(prefix));
  const containers = await list('ps', '-a', '--format', '{{.Names}}');
  if (containers.length) await docker('rm', '-f', '-v', ...containers);
  const networks = await list('network', 'ls', '--format', '{{.Name}}');
  if (networks.length) await docker('network', 'rm', ...networks);
  const volumes = await list('volume', 'ls', '--format', '{{.Name}}');
  if (volumes.length) await docker('volume', 'rm', '-f', ...volumes);
}

/**
 * A tuning diff of src/. Proposed ones (bench/tuning/NAME.diff) are measured applied to a
 * copy ("after") against src/ as it is ("before"); applied ones
 * (bench/tuning/applied/NAME.diff, the change as committed) are measured reversed on a copy
 * ("before") against src/ as it is ("after"), so the figures stay reproducible.
 */
export interface TuningPatch {
  readonly file: string;
  /** Its path in the repository, for tables and results. */
  readonly name: string;
  readonly applied: boolean;
  /** Why the measurement is skipped when the copy could not be made. */
  readonly skipped: string;
}

export function tuningPatch(file: string): TuningPatch {
  const absolute = path.resolve(ROOT, file);
  if (!fs.existsSync(absolute)) throw new Error(`no tuning diff ${file}`);
  const name = path.relative(ROOT, absolute);
  const applied = path.basename(path.dirname(absolute)) === 'applied';
  return { file: absolute, name, applied, skipped: `${name} no longer ${applied ? 'reverses on' : 'applies to'} src/` };
}

/** `[without the change, with it]`: the patched copy is "before" for an applied diff, "after" for a proposal. */
export function beforeAfter<T>(patch: TuningPatch, copy: T, asIs: T): [T, T] {
  return patch.applied ? [copy, asIs] : [asIs, copy];
}

/**
 * Copies `files` (paths relative to the repository) into `dir` and applies the patch to the
 * copy (reversed when it is applied); false, with the reason logged, if it does not apply.
 * `withApp` adds a copy of app/ without its node_modules: a real folder, since the
 * provider does not follow a symlinked build context, with the same content hash.
 */
export async function patchedCopy(patch: TuningPatch, dir: string, files: string[], scope: string, withApp: boolean): Promise<boolean> {
  fs.rmSync(dir, { recursive: true, force: true });
  for (const file of files) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.cpSync(path.join(ROOT, file), path.join(dir, file), { recursive: true });
  }
  if (withApp) {
    fs.cpSync(path.join(ROOT, 'app'), path.join(dir, 'app'), { recursive: true, filter: (f) => !f.includes(`${path.sep}node_modules`) });
  }
  const result = await run('patch', ['-p1', ...(patch.applied ? ['-R'] : []), '-d', dir, '-i', patch.file], { timeoutMs: 30_000 });
  if (result.code !== 0) {
    log(scope, `${patch.skipped}:\n${result.stdout}${result.stderr}`);
    return false;
  }
  return true;
}
