/**
 * Data-path tuning, measured without touching the deployed stack or src/:
 *
 *  1. bench/tuning/datapath.diff is applied to a copy of src/, and the bench stack is
 *     synthesized with it: the tuned haproxy.cfg and nginx.conf are exactly what the
 *     patched renderers produce.
 *  2. Two bench-only copies of the front of the stack are started beside it, on its
 *     networks and in front of its application containers: one with the configs as the
 *     library renders them today ("before"), one with the patched configs ("after"); each
 *     is an HAProxy in front of three Nginx, plus one Nginx published for the direct path.
 *  3. wrk runs round robin over the four entry points, for the static file and the app.
 */
import * as fs from 'fs';
import * as path from 'path';
import { extractUploads, imageOf, STATIC_PATH, APP_PATH, startContainer, summarize, waitOk, wrk, WrkResult, WRK } from './datapath';
import { log, median, PORTS, ROOT, round, run, table, WORK } from './lib';
import { BENCH, environment, synthesized } from './stack';

export const DATAPATH_PATCH = path.join(ROOT, 'bench', 'tuning', 'datapath.diff');
const ALT = path.join(WORK, 'alt-datapath');

/** The bench stack synthesized with `patch` applied to a copy of src/; undefined if it does not apply. */
async function synthPatched(patch: string): Promise<any | undefined> {
  fs.rmSync(ALT, { recursive: true, force: true });
  fs.mkdirSync(path.join(ALT, 'bench'), { recursive: true });
  fs.cpSync(path.join(ROOT, 'src'), path.join(ALT, 'src'), { recursive: true });
  fs.copyFileSync(path.join(ROOT, 'main.ts'), path.join(ALT, 'main.ts'));
  for (const f of ['deploy-app.ts', 'lib.ts']) fs.copyFileSync(path.join(ROOT, 'bench', f), path.join(ALT, 'bench', f));
  fs.symlinkSync(path.join(ROOT, 'app'), path.join(ALT, 'app'));
  const patched = await run('patch', ['-p1', '-d', ALT, '-i', patch], { timeoutMs: 30_000 });
  if (patched.code !== 0) {
    log('datapath-tuning', `${path.relative(ROOT, patch)} no longer applies to src/:\n${patched.stdout}${patched.stderr}`);
    return undefined;
  }
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
    await startContainer({ name, image: imageOf(json, server), files, networks });
    containers.push(name);
  }
  const lb = `${n}-${tag}lb`;
  const lbFiles = extractUploads(json, `${n}-lb`, path.join(dir, lb));
  const cfgPath = path.join(lbFiles, 'usr', 'local', 'etc', 'haproxy', 'haproxy.cfg');
  const cfg = fs.readFileSync(cfgPath, 'utf8').replace(new RegExp(`(server \\S+ )${n}-web-`, 'g'), `$1${n}-${tag}web-`);
  fs.writeFileSync(cfgPath, cfg);
  await startContainer({ name: lb, image: imageOf(json, `${n}-lb`), files: lbFiles, networks: [networks[0]], publish: [lbPort, 8080] });
  containers.push(lb);
  const direct = `${n}-${tag}direct`;
  const directFiles = extractUploads(json, `${n}-web-1`, path.join(dir, direct));
  await startContainer({ name: direct, image: imageOf(json, `${n}-web-1`), files: directFiles, networks, publish: [directPort, 80] });
  containers.push(direct);
  const front = { lbUrl: `http://127.0.0.1:${lbPort}`, directUrl: `http://127.0.0.1:${directPort}`, containers };
  await waitOk(`${front.directUrl}/nginx-healthz`);
  // Every server up in HAProxy: a streak of answers through it.
  for (let i = 0; i < 20; i++) await waitOk(`${front.lbUrl}/healthz`);
  return front;
}

export async function datapathTuningBenchmark(runs: number, patch = DATAPATH_PATCH): Promise<object> {
  const tuned = await synthPatched(patch);
  if (!tuned) return { skipped: `${path.relative(ROOT, patch)} no longer applies to src/` };
  const fronts: Record<string, Front> = {};
  try {
    fronts.before = await startFront(synthesized(BENCH), 'b', PORTS.beforeLb, PORTS.beforeDirect);
    fronts.after = await startFront(tuned, 't', PORTS.tunedLb, PORTS.tunedDirect);
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
    table(`Data-path tuning: ${path.relative(ROOT, patch)} (wrk -c${WRK.connections} -d${WRK.seconds}s, medians of ${runs}, round robin)`, ['path', 'LB req/s', 'LB p50', 'LB p99', 'direct req/s', 'direct p99', 'LB/direct'], rows);
    const gain = (p: string) => round(median(results[p]['after: via LB'].map((x) => x.rps)) / median(results[p]['before: via LB'].map((x) => x.rps)), 3);
    return {
      method: `configs from the library as is ("before") and from ${path.relative(ROOT, patch)} applied to src/ ("after"), on bench-only HAProxy + 3 Nginx copies in front of the stack's apps; wrk round robin over the four entry points, ${runs} runs each`,
      patch: path.relative(ROOT, patch),
      summary,
      lbGain: { static: gain(STATIC_PATH), app: gain(APP_PATH) },
      runs: results,
    };
  } finally {
    for (const f of Object.values(fronts)) await run('docker', ['rm', '-f', ...f.containers], { timeoutMs: 60_000 });
  }
}
