/**
 * Helpers of the end-to-end suite: processes with hard time limits, the Docker CLI,
 * bounded HTTP probes on loopback, SQL through `docker exec`.
 */
import { execFile, ExecFileOptions } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';
import { E2E } from './config';

export const ROOT = path.resolve(__dirname, '..');

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly seconds: number;
}

/** Runs a command to completion (killed after `timeoutMs`); never throws. */
export function run(cmd: string, args: string[], options: ExecFileOptions & { timeoutMs?: number } = {}): Promise<RunResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = execFile(
      cmd,
      args,
      { maxBuffer: 64 * 1024 * 1024, encoding: 'utf8', timeout: options.timeoutMs ?? 120_000, killSignal: 'SIGKILL', ...options },
      (error, stdout, stderr) => {
        const code = error ? (typeof (error as NodeJS.ErrnoException).code === 'number' ? Number((error as NodeJS.ErrnoException).code) : 1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) + (error && code === 1 && !stderr ? error.message : ''), seconds: (Date.now() - started) / 1000 });
      },
    );
    // No command of the suite reads its standard input: give it an end at once.
    child.stdin?.end();
  });
}

/** Runs a command and returns its stdout; throws with its output when it fails. */
export async function must(cmd: string, args: string[], options: ExecFileOptions & { timeoutMs?: number } = {}): Promise<string> {
  const result = await run(cmd, args, options);
  if (result.code !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited ${result.code} after ${result.seconds}s\n${result.stdout.slice(-4000)}\n${result.stderr.slice(-4000)}`);
  }
  return result.stdout;
}

export const docker = (...args: string[]) => must('docker', args, { timeoutMs: 120_000 }).then((s) => s.trim());

/** Containers (running or not) whose name starts with `prefix-`. */
export async function containersOf(prefix: string): Promise<string[]> {
  const out = await docker('ps', '-a', '--filter', `name=^${prefix}-`, '--format', '{{.Names}}');
  return out ? out.split('\n').sort() : [];
}

export async function inspect(name: string): Promise<any> {
  return JSON.parse(await docker('inspect', name))[0];
}

/** Waits until a container's health is `healthy`. */
export async function waitHealthy(name: string, timeoutMs = 180_000): Promise<number> {
  const started = Date.now();
  for (;;) {
    const state = (await docker('inspect', '-f', '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}', name)).trim();
    if (state === 'healthy') return (Date.now() - started) / 1000;
    if (Date.now() - started > timeoutMs) throw new Error(`${name} not healthy after ${timeoutMs / 1000}s (state: ${state})`);
    await sleep(500);
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface HttpAnswer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
  readonly ms: number;
}

/** One HTTP request on a fresh connection, bounded in time; a network error is status 0. */
export function request(url: string, options: { method?: string; body?: unknown; timeoutMs?: number } = {}): Promise<HttpAnswer> {
  const started = Date.now();
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
  return new Promise((resolve) => {
    const req = http.request(
      url,
      {
        method: options.method ?? 'GET',
        agent: false,
        timeout: options.timeoutMs ?? 5000,
        headers: payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {},
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, ms: Date.now() - started }));
        res.on('error', (err) => resolve({ status: 0, headers: {}, body: String(err), ms: Date.now() - started }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve({ status: 0, headers: {}, body: String(err), ms: Date.now() - started }));
    if (payload) req.write(payload);
    req.end();
  });
}

/** The `X-Web-Server` header of an answer (which server Nginx ran on). */
export const servedBy = (a: HttpAnswer) => String(a.headers['x-web-server'] ?? '');

/** `count` sequential GETs on fresh connections; the servers that answered, in order. */
export async function sequence(url: string, count: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const a = await request(url);
    out.push(a.status === 200 ? servedBy(a) : `HTTP ${a.status}`);
  }
  return out;
}

export interface StreamSample {
  readonly t: number;
  readonly status: number;
  readonly server: string;
}

/**
 * A steady, bounded stream of GETs: one every `intervalMs` for at most `durationMs` (or
 * until `stop()`), each on a fresh connection with a 3 s limit. `done` resolves with every
 * sample and its time since the start.
 */
export function stream(url: string, durationMs: number, intervalMs = 50) {
  const started = Date.now();
  const samples: StreamSample[] = [];
  let stopped = false;
  const done = (async () => {
    const pending: Promise<void>[] = [];
    while (!stopped && Date.now() - started < durationMs) {
      const t = Date.now() - started;
      pending.push(request(url, { timeoutMs: 3000 }).then((a) => void samples.push({ t, status: a.status, server: servedBy(a) })));
      await sleep(intervalMs);
    }
    await Promise.all(pending);
    return samples.sort((a, b) => a.t - b.t);
  })();
  return { done, started, stop: () => void (stopped = true) };
}

/** Runs SQL in a database container as `user`, over TCP; returns tab-separated rows. */
export async function sql(container: string, query: string, user = 'root', password = E2E.passwords.db_root_password, database = ''): Promise<string> {
  return must('docker', ['exec', '-e', `MYSQL_PWD=${password}`, container, 'mariadb', '--protocol=tcp', '-h', '127.0.0.1', `-u${user}`, '-N', '-B', '-e', query, ...(database ? [database] : [])], {
    timeoutMs: 30_000,
  }).then((s) => s.trim());
}

/** `SHOW REPLICA STATUS` of a replica as a field map (vertical output keeps the names). */
export async function replicaStatus(container: string): Promise<Record<string, string>> {
  const out = await must('docker', ['exec', '-e', `MYSQL_PWD=${E2E.passwords.db_root_password}`, container, 'mariadb', '--protocol=tcp', '-h', '127.0.0.1', '-uroot', '-e', 'SHOW REPLICA STATUS\\G'], {
    timeoutMs: 30_000,
  });
  return Object.fromEntries(
    out
      .split('\n')
      .map((line) => /^\s*([A-Za-z_]+): ?(.*)$/.exec(line))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1], m[2]]),
  );
}

/** Same, but returns the failure instead of throwing. */
export async function trySql(container: string, query: string, user: string, password: string, database = ''): Promise<RunResult> {
  return run('docker', ['exec', '-e', `MYSQL_PWD=${password}`, container, 'mariadb', '--protocol=tcp', '-h', '127.0.0.1', `-u${user}`, '-N', '-B', '-e', query, ...(database ? [database] : [])], {
    timeoutMs: 30_000,
  });
}

/** Appends measured figures to the results file the run prints at the end. */
export function record(key: string, value: unknown): void {
  const file = path.join(E2E.workDir, 'results.json');
  fs.mkdirSync(E2E.workDir, { recursive: true });
  const current = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : {};
  current[key] = value;
  fs.writeFileSync(file, JSON.stringify(current, null, 2));
  console.log(`[e2e] ${key}: ${JSON.stringify(value)}`);
}
