/**
 * Data-path tuning, measured without touching the deployed stack or src/:
 *
 *  1. The tuning diff is applied to a copy of src/ (reversed, for a change already applied:
 *     bench/tuning/applied/), and the bench stack is synthesized from the copy: its
 *     haproxy.cfg and nginx.conf are exactly what those renderers produce.
 *  2. Two bench-only copies of the front of the stack are started beside it, on its
 *     networks and in front of its application containers: one with the configs without
 *     the change ("before"), one with them ("after"); each is an HAProxy in front of three
 *     Nginx, plus one Nginx published for the direct path.
 *  3. wrk runs round robin over the four entry points, for the static file and the app.
 *
 * BENCH_TUNING_PATCH names the diff (default bench/tuning/applied/datapath.diff).
 */
import * as fs from 'fs';
import * as path from 'path';
import { extractUploads, runtimeOf, STATIC_PATH, APP_PATH, startContainer, summarize, waitOk, wrk, WrkResult, WRK } from './datapath';
import { beforeAfter, log, median, patchedCopy, PORTS, ROOT, round, run, table, TuningPatch, tuningPatch, WORK } from './lib';
import { BENCH, environment, synthesized } from './stack';

export const DATAPATH_PATCH = 'bench/tuning/applied/datapath.diff';
const ALT = path.join(WORK, 'alt-datapath');

/** The bench stack synthesized from a copy of src/ with the patch (reversed if applied); undefined if it does not apply. */
async function synthPatched(patch: TuningPatch): Promise<any | undefined> {
  if (!(await patchedCopy(patch, ALT, ['src', 'main.ts', 'bench/deploy-app.ts', 'bench/lib.ts'], 'datapath-tuning', true))) return undefined;
  const out = path.join(ALT, 'out');
  const r = await run('node', ['-r', 'ts-node/register/transpile-only', path.join(ALT, 'bench', 'deploy-app.ts')], {
    cwd: ROOT,
    env: { ...environment(BENCH), CDKTF_OUTDIR: out },
    timeoutMs: 120_000,
  });
  if (r.code !== 0) throw new Error(`synth with the patch failed:\n${r.stderr.slice(-3000)}`);
  return JSON.parse(fs.readFileSync(path.join(out, 'stacks', 'dwib', 'cdk.tf.json'), 'utf8'));
}

interface Front {
  readonly lbUrl: string;
  readonly directUrl: string;
  readonly containers: string[];
}

/**
 * Starts `<name>-<tag>lb` -> `<name>-<tag>web-N` -> the stack's `<name>-web-N-app`, and
 * `<name>-<tag>direct`, with the configs of `json`.
 */
async function startFront(json: any, tag: string, lbPort: number, directPort: number): Promise<Front> {
  const n = BENCH.name;
  const dir = path.join(WORK, 'datapath', tag);
  const servers = Object.values(json.resource.docker_container as Record<string, any>)
    .map((c) => c.name as string)
    .filter((c) => new RegExp(`^${n}-web-\\d+$`).test(c));
  const containers: string[] = [];
  const networks = [`${n}-front`, `${n}-back`];
  for (const server of servers) {
    const name = server.replace(`${n}-web-`, `${n}-${tag}web-`);
    const files = extractUploads(json, server, path.join(dir, name));
    await startContainer({ name, ...runtimeOf(json, server), files, networks });
    containers.push(name);
  }
  const lb = `${n}-${tag}lb`;
  const lbFiles = extractUploads(json, `${n}-lb`, path.join(dir, lb));
  const cfgPath = path.join(lbFiles, 'usr', 'local', 'etc', 'haproxy', 'haproxy.cfg');
  const cfg = fs.readFileSync(cfgPath, 'utf8').replace(new RegExp(`(server \\S+ )${n}-web-`, 'g'), `$1${n}-${tag}web-`);
  fs.writeFileSync(cfgPath, cfg);
  await startContainer({ name: lb, ...runtimeOf(json, `${n}-lb`), files: lbFiles, networks: [networks[0]], publish: [lbPort, 8080] });
  containers.push(lb);
  const direct = `${n}-${tag}direct`;
  const directFiles = extractUploads(json, `${n}-web-1`, path.join(dir, direct));
  await startContainer({ name: direct, ...runtimeOf(json, `${n}-web-1`), files: directFiles, networks, publish: [directPort, 80] });
  containers.push(direct);
  const front = { lbUrl: `http://127.0.0.1:${lbPort}`, directUrl: `http://127.0.0.1:${directPort}`, containers };
  await waitOk(`${front.directUrl}/nginx-healthz`);
  // Every server up in HAProxy: a streak of answers through it.
  for (let i = 0; i < 20; i++) await waitOk(`${front.lbUrl}/healthz`);
  return front;
}

export async function datapathTuningBenchmark(runs: number, patchFile = DATAPATH_PATCH): Promise<object> {
  const patch = tuningPatch(patchFile);
  const name = patch.name;
  const copy = await synthPatched(patch);
  if (!copy) return { skipped: patch.skipped };
  const [withoutChange, withChange] = beforeAfter(patch, copy, synthesized(BENCH));
  const fronts: Record<string, Front> = {};
  try {
    fronts.before = await startFront(withoutChange, 'b', PORTS.beforeLb, PORTS.beforeDirect);
    fronts.after = await startFront(withChange, 't', PORTS.tunedLb, PORTS.tunedDirect);
    const entries: [string, string][] = [
      ['before: via LB', fronts.before.lbUrl],
      ['before: direct', fronts.before.directUrl],
      ['after: via LB', fronts.after.lbUrl],
      ['after: direct', fronts.after.directUrl],
    ];
    const results: Record<string, Record<string, WrkResult[]>> = {};
    for (const p of [STATIC_PATH, APP_PATH]) {
      results[p] = Object.fromEntries(entries.map(([k]) => [k, [] as WrkResult[]]));
      for (const [, url] of entries) await wrk(url + p, 2);
      for (let i = 0; i < runs; i++) {
        for (const [k, url] of entries) results[p][k].push(await wrk(url + p));
        log('datapath-tuning', `${p} round ${i + 1}/${runs}: ${entries.map(([k]) => `${k} ${results[p][k][i].rps}`).join(', ')}`);
      }
    }
    const summary = Object.fromEntries(
      Object.entries(results).map(([p, r]) => [
        p,
        {
          before: summarize({ path: p, lb: r['before: via LB'], direct: r['before: direct'] }),
          after: summarize({ path: p, lb: r['after: via LB'], direct: r['after: direct'] }),
        },
      ]),
    );
    const rows = Object.entries(summary).flatMap(([p, s]) =>
      (['before', 'after'] as const).map((when) => [
        `${p} ${when}`,
        s[when].lb.rps,
        s[when].lb.p50ms,
        s[when].lb.p99ms,
        s[when].direct.rps,
        s[when].direct.p99ms,
        `${s[when].rpsRatio.toFixed(3)}x`,
      ]),
    );
    table(`Data-path tuning: ${name} (wrk -c${WRK.connections} -d${WRK.seconds}s, medians of ${runs}, round robin)`, ['path', 'LB req/s', 'LB p50', 'LB p99', 'direct req/s', 'direct p99', 'LB/direct'], rows);
    const gain = (p: string) => round(median(results[p]['after: via LB'].map((x) => x.rps)) / median(results[p]['before: via LB'].map((x) => x.rps)), 3);
    return {
      method: `configs without ${name} ("before") and with it ("after"), ${patch.applied ? 'the diff reversed on a copy of src/ against src/ as it is' : 'src/ as it is against the diff applied to a copy'}, on bench-only HAProxy + 3 Nginx copies in front of the stack's apps; wrk round robin over the four entry points, ${runs} runs each`,
      patch: name,
      applied: patch.applied,
      summary,
      lbGain: { static: gain(STATIC_PATH), app: gain(APP_PATH) },
      runs: results,
    };
  } finally {
    for (const f of Object.values(fronts)) await run('docker', ['rm', '-f', ...f.containers], { timeoutMs: 60_000 });
  }
}
