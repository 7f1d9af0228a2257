/**
 * Runs the rendered database shell scripts for real, against a fake `mysql`/`mariadb`
 * client that records how it was called: its arguments, its stdin (the SQL) and the
 * password it found in MYSQL_PWD.
 *
 * The script runs with a PATH that holds only the fake client and the few tools the scripts
 * use (sed, grep, cat), so a real client installed on the machine can never answer.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'fs';
import { join } from 'path';
import { RunResult, findBinary, run, withTempDir } from './binaries';

/** One call of the fake client. */
export interface ClientCall {
  readonly argv: string[];
  readonly stdin: string;
  /** MYSQL_PWD as the client saw it; undefined when unset. */
  readonly mysqlPwd: string | undefined;
}

export interface ScriptRun extends RunResult {
  readonly calls: ClientCall[];
}

export interface ScriptRunOptions {
  /** `mysql` or `mariadb`: the name the fake client is installed under. */
  readonly clientName: 'mysql' | 'mariadb';
  /** Environment of the script (PATH and the fake's own variables are added). */
  readonly env: Record<string, string>;
  /** Printed by the fake client when it is asked for the replica status. */
  readonly replicaStatus?: string;
  /** Exit code of the fake client. @default 0 */
  readonly clientExitCode?: number;
  /** The shell that runs the script. @default 'sh' */
  readonly shell?: 'sh' | 'bash';
}

// The fake resets its own PATH: only the script under test gets the restricted one.
const FAKE_CLIENT = `#!/bin/sh
PATH=/usr/bin:/bin
i=0
while [ -e "$FAKE_CLIENT_DIR/call-$i" ]; do i=$((i + 1)); done
d="$FAKE_CLIENT_DIR/call-$i"
mkdir "$d"
for a in "$@"; do printf '%s\\0' "$a"; done >"$d/argv"
if [ "\${MYSQL_PWD+set}" = set ]; then printf '%s' "$MYSQL_PWD" >"$d/mysql_pwd"; fi
cat >"$d/stdin"
case "$*" in
  *STATUS*) if [ -n "\${FAKE_REPLICA_STATUS_FILE-}" ]; then cat "$FAKE_REPLICA_STATUS_FILE"; fi ;;
esac
exit "\${FAKE_CLIENT_EXIT:-0}"
`;

/** Tools the rendered scripts call besides the client (printf and command are built in). */
const TOOLS = ['sed', 'grep', 'cat'];

/** Writes `script` to a file and runs it with `shell`, the fake client first on PATH. */
export function runDbScript(script: string, options: ScriptRunOptions): Promise<ScriptRun> {
  return withTempDir(async (dir) => {
    const bin = join(dir, 'bin');
    const calls = join(dir, 'calls');
    mkdirSync(bin);
    mkdirSync(calls);
    writeFileSync(join(bin, options.clientName), FAKE_CLIENT);
    chmodSync(join(bin, options.clientName), 0o755);
    for (const tool of TOOLS) symlinkSync(findBinary(tool), join(bin, tool));
    const env: Record<string, string> = { ...options.env, PATH: bin, FAKE_CLIENT_DIR: calls };
    if (options.replicaStatus !== undefined) {
      env.FAKE_REPLICA_STATUS_FILE = join(dir, 'status.txt');
      writeFileSync(env.FAKE_REPLICA_STATUS_FILE, options.replicaStatus);
    }
    if (options.clientExitCode !== undefined) env.FAKE_CLIENT_EXIT = String(options.clientExitCode);
    const file = join(dir, 'script.sh');
    writeFileSync(file, script);
    const result = await run(findBinary(options.shell ?? 'sh'), [file], { env, timeoutMs: 10_000 });
    return { ...result, calls: readCalls(calls) };
  });
}

function readCalls(dir: string): ClientCall[] {
  const calls: ClientCall[] = [];
  for (let i = 0; existsSync(join(dir, `call-${i}`)); i++) {
    const call = join(dir, `call-${i}`);
    const argv = readFileSync(join(call, 'argv'), 'utf8');
    calls.push({
      argv: argv === '' ? [] : argv.slice(0, -1).split('\0'),
      stdin: readFileSync(join(call, 'stdin'), 'utf8'),
      mysqlPwd: existsSync(join(call, 'mysql_pwd')) ? readFileSync(join(call, 'mysql_pwd'), 'utf8') : undefined,
    });
  }
  return calls;
}
