/**
 * Runs the real tools (haproxy, nginx, promtool, sh, bash, node) on rendered files.
 *
 * A missing binary FAILS the test, with the command that installs it: these checks are
 * the point of the renderer tests and must never be skipped silently. In CI,
 * scripts/setup-unit-test-deps.sh installs haproxy, nginx and promtool before the tests run.
 */
import { ChildProcess, spawn } from 'child_process';
import { accessSync, closeSync, constants, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { delimiter, join } from 'path';

export interface RunResult {
  /** Exit code, or null when the process was ended by a signal. */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** True when the process outlived its timeout and was killed. */
  readonly timedOut: boolean;
}

export interface RunOptions {
  /** Environment of the process; defaults to this process's. */
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** Written to the process's stdin, which is then closed. */
  readonly input?: string;
  /** Hard limit: the process (and its group) gets SIGKILL after this many ms. @default 20000 */
  readonly timeoutMs?: number;
}

/** Debian puts haproxy and nginx in /usr/sbin, which a non-root PATH may lack. */
const EXTRA_DIRS = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

/** The absolute path of `name`; throws, saying how to install it, when it is missing. */
export function findBinary(name: string): string {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...EXTRA_DIRS];
  for (const dir of dirs) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  throw new Error(
    `'${name}' was not found on PATH nor in ${EXTRA_DIRS.join(', ')}. ` +
      'The renderer tests check their output with the real binaries and never skip: ' +
      'run `sudo bash scripts/setup-unit-test-deps.sh` to install haproxy, nginx and promtool.',
  );
}

/** A child process with a hard kill timeout. */
export interface Background {
  readonly child: ChildProcess;
  /** Output so far. */
  output(): { stdout: string; stderr: string };
  /** Settles when the process exits (or is killed at its hard timeout). */
  readonly exited: Promise<RunResult>;
  /** SIGKILLs the process group if it still runs, then waits for the exit. */
  stop(): Promise<RunResult>;
}

/**
 * Starts `command` (a path, or a name looked up with {@link findBinary}) in its own process
 * group; the whole group is SIGKILLed after `timeoutMs` whatever happens.
 *
 * Its stdout and stderr are regular files, not the sockets Node uses for pipes, so a program
 * that opens `/dev/stdout` itself (nginx's `access_log /dev/stdout`) works as in a container.
 */
export function start(command: string, args: string[], options: RunOptions = {}): Background {
  const file = command.includes('/') ? command : findBinary(command);
  const dir = mkdtempSync(join(tmpdir(), 'dwi-run-'));
  const paths = { stdin: join(dir, 'stdin'), stdout: join(dir, 'stdout'), stderr: join(dir, 'stderr') };
  writeFileSync(paths.stdin, options.input ?? '');
  const fds = [openSync(paths.stdin, 'r'), openSync(paths.stdout, 'a'), openSync(paths.stderr, 'a')];
  const read = (path: string) => {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return '';
    }
  };
  const output = () => ({ stdout: read(paths.stdout), stderr: read(paths.stderr) });
  let child: ChildProcess;
  try {
    // detached: its own process group, so the hard kill also reaches what the command started.
    child = spawn(file, args, { env: options.env ?? process.env, cwd: options.cwd, stdio: fds, detached: true });
  } finally {
    fds.forEach((fd) => closeSync(fd));
  }
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(child.pid, 'SIGKILL');
  }, options.timeoutMs ?? 20_000);
  const exited = new Promise<RunResult>((resolve, reject) => {
    const finish = () => {
      clearTimeout(timer);
      const out = output();
      rmSync(dir, { recursive: true, force: true });
      return out;
    };
    child.on('error', (err) => {
      finish();
      reject(err);
    });
    child.on('exit', (code, signal) => resolve({ code, signal, ...finish(), timedOut }));
  });
  return {
    child,
    output,
    exited,
    stop: () => {
      if (child.exitCode === null && child.signalCode === null) killGroup(child.pid, 'SIGKILL');
      return exited;
    },
  };
}

/**
 * Runs `command` to its end and resolves with its exit status and output. Never rejects
 * for a non-zero exit; the process is killed after `timeoutMs`.
 */
export async function run(command: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  return start(command, args, options).exited;
}

/** Sends `signal` to the process group led by `pid`, ignoring one that is already gone. */
export function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // already exited
  }
}

/** A fresh temporary directory, removed after `fn` settles. */
export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'dwi-test-'));
  try {
    return await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Writes `content` to `fileName` in a temporary directory and runs `binary` on it;
 * `args` builds the arguments from the file's path and the directory (with a trailing '/').
 */
export async function runOnTempFile(
  binary: string,
  fileName: string,
  content: string,
  args: (file: string, dir: string) => string[],
  options: RunOptions = {},
): Promise<RunResult> {
  const path = findBinary(binary); // fail before writing anything when the tool is missing
  return withTempDir(async (dir) => {
    const file = join(dir, fileName);
    writeFileSync(file, content);
    return run(path, args(file, `${dir}/`), options);
  });
}

/** `haproxy -c -f <file>`: checks a configuration without binding any port. */
export function haproxyCheck(config: string): Promise<RunResult> {
  return runOnTempFile('haproxy', 'haproxy.cfg', config, (file) => ['-c', '-f', file]);
}

/**
 * `nginx -t` on a complete nginx.conf: `-e stderr` keeps nginx from opening the build's
 * default error log, `-p` sets the prefix to the temporary directory.
 */
export function nginxCheck(config: string): Promise<RunResult> {
  return runOnTempFile('nginx', 'nginx.conf', config, (file, dir) => ['-t', '-q', '-e', 'stderr', '-p', dir, '-c', file]);
}

/**
 * Writes `files` (name to content) into a temporary directory and runs `promtool` there
 * with `args` (file names are relative to that directory). `promtool check config` follows
 * `rule_files` relative to the config, so a config and its rules are checked together.
 */
export async function promtool(args: string[], files: Record<string, string>): Promise<RunResult> {
  const path = findBinary('promtool'); // fail before writing anything when the tool is missing
  return withTempDir(async (dir) => {
    for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
    return run(path, args, { cwd: dir, timeoutMs: 60_000 });
  });
}

/** Exit status and output of a result, for assertion messages. */
export function explain(result: RunResult): string {
  return `exit ${result.code}${result.signal ? ` (${result.signal})` : ''}${result.timedOut ? ' after timeout' : ''}\n` +
    `stdout: ${result.stdout}\nstderr: ${result.stderr}`;
}
