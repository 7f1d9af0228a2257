/**
 * Benchmark 2, deploy: `cdktf deploy` of the bench stack (the example on the stand-in
 * images, MariaDB) to a serving, replicating state, against `docker-compose up` of the
 * equivalent compose file (bench/compose.ts) followed by a wait until every service is
 * healthy and the site answers through the load balancer (the readiness gate's test).
 * Alternating, fully torn down (volumes and built image included) between runs. Also the
 * time of a `cdktf deploy` that changes nothing.
 *
 * The tuning variant (`deploy-tuning`) deploys the library without and with its deploy
 * tuning (bench/tuning/applied/deploy.diff), side by side.
 */
import * as path from 'path';
import { ComposeProject, writeCompose } from './compose';
import { beforeAfter, log, median, patchedCopy, PORTS, removeByPrefix, round, run, table, tuningPatch, WORK } from './lib';
import { appImageName, BENCH, cdktf, Deployment, deploy, synthesized, teardown, waitHealthy, waitServing } from './stack';

const DEPLOY_PATCH = 'bench/tuning/applied/deploy.diff';

export const COMPOSE: Deployment = { variant: 'compose', name: 'dwibc', port: PORTS.composeLb };
const COMPOSE_ENV = { ...process.env, DOCKER_BUILDKIT: '0', COMPOSE_DOCKER_CLI_BUILD: '0' };

const strip = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '');

export interface CdktfSample {
  readonly seconds: number;
  /** cdktf CLI start to Terraform's first "Creating...": synth, init, plan. */
  readonly beforeApply: number;
  /** First "Creating..." to "Apply complete!". */
  readonly apply: number;
  /** "Apply complete!" to the CLI's exit: outputs. */
  readonly afterApply: number;
  /** Terraform's "Creation complete after Ns" per resource. */
  readonly resources: Record<string, number>;
  readonly redeploySeconds?: number;
}

export interface ComposeSample {
  readonly seconds: number;
  /** When `docker-compose up -d` returned. */
  readonly upReturned: number;
  readonly allHealthy: number;
  readonly noChangeSeconds?: number;
}

/** One cdktf deploy (and optionally a no-change redeploy), then a full teardown unless `keep`. */
export async function cdktfRun(d: Deployment, extra: string[] = [], redeploy = false, keep = false): Promise<CdktfSample> {
  const r = await deploy(d, extra);
  const lines = r.lines.map((l) => ({ t: l.t, line: strip(l.line) }));
  const first = lines.find((l) => /: Creating\.\.\./.test(l.line))?.t ?? NaN;
  const done = lines.find((l) => /Apply complete!/.test(l.line))?.t ?? NaN;
  const resources: Record<string, number> = {};
  for (const l of lines) {
    const m = /(docker_\w+|null_resource)\.(\S+): Creation complete after (\S+?) /.exec(l.line);
    if (m) resources[`${m[1]}.${m[2]}`] = goSeconds(m[3]);
  }
  let redeploySeconds: number | undefined;
  if (redeploy) {
    const again = await deploy(d, extra);
    const out = strip(again.stdout);
    if (!/No changes\./.test(out) || !/0 added, 0 changed, 0 destroyed/.test(out)) {
      throw new Error(`the redeploy was not a no-op:\n${out.slice(-4000)}`);
    }
    redeploySeconds = round(again.seconds, 2);
  }
  const image = appImageName(synthesized(d));
  if (!keep) {
    await teardown(d);
    await run('docker', ['rmi', image], { timeoutMs: 60_000 });
  }
  return { seconds: round(r.seconds, 2), beforeApply: round(first, 2), apply: round(done - first, 2), afterApply: round(r.seconds - done, 2), resources, redeploySeconds };
}

/** "1m2s" / "7s" → seconds. */
function goSeconds(text: string): number {
  const m = /^(?:(\d+)m)?(\d+)s$/.exec(text);
  return m ? Number(m[1] ?? 0) * 60 + Number(m[2]) : NaN;
}

const compose = (p: ComposeProject, ...args: string[]) =>
  run('docker-compose', ['-p', COMPOSE.name, '-f', p.file, ...args], { env: COMPOSE_ENV, timeoutMs: 600_000 });

/** Writes the compose file from the bench stack synthesized with the compose project's names. */
export async function composeProject(env: NodeJS.ProcessEnv = {}, folder = 'compose'): Promise<ComposeProject> {
  const d: Deployment = { ...COMPOSE, variant: folder, env };
  const s = await cdktf('synth', d);
  if (s.code !== 0) throw new Error(`cdktf synth of the compose variant failed:\n${s.stdout.slice(-3000)}\n${s.stderr.slice(-3000)}`);
  return writeCompose(synthesized(d), path.join(WORK, folder), `${COMPOSE.name}-build`);
}

/** Removes everything of the compose project, the built image included. */
export async function composeDown(p: ComposeProject): Promise<void> {
  await compose(p, 'down', '-v', '--remove-orphans');
  for (const image of p.builtImages) await run('docker', ['rmi', image], { timeoutMs: 60_000 });
}

/** One compose deployment to the same end state as `cdktf deploy`, then a full teardown. */
export async function composeRun(p: ComposeProject, noChange = false): Promise<ComposeSample> {
  const started = process.hrtime.bigint();
  const since = () => round(Number(process.hrtime.bigint() - started) / 1e9, 2);
  const up = await compose(p, 'up', '-d');
  if (up.code !== 0) throw new Error(`docker-compose up failed:\n${up.stdout.slice(-3000)}\n${up.stderr.slice(-3000)}`);
  const upReturned = since();
  await waitHealthy(p.containers);
  const allHealthy = since();
  await waitServing(p.gateUrl, p.servers);
  const seconds = since();
  let noChangeSeconds: number | undefined;
  if (noChange) {
    const again = await compose(p, 'up', '-d');
    if (again.code !== 0) throw new Error(`docker-compose up (no change) failed:\n${again.stderr.slice(-3000)}`);
    noChangeSeconds = round(again.seconds, 2);
  }
  await composeDown(p);
  return { seconds, upReturned, allHealthy, noChangeSeconds };
}

/** Warms Docker's build cache with the application image once, so no timed run pays for npm ci. */
async function warmBuildCache(p: ComposeProject): Promise<void> {
  const r = await compose(p, 'build');
  if (r.code !== 0) throw new Error(`warm-up build failed:\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
  for (const image of p.builtImages) await run('docker', ['rmi', image], { timeoutMs: 60_000 });
}

/**
 * Runs `fn`; after a failure (the machine is shared: a daemon restart, a port taken),
 * removes what it left and runs it once more.
 */
async function retryOnce<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    log(what, `failed, cleaning up and running it again: ${String(err).slice(0, 500)}`);
    await teardown(BENCH).catch(() => undefined);
    await removeByPrefix(COMPOSE.name);
    return fn();
  }
}

const med = <T>(xs: T[], key: keyof T) => round(median(xs.map((x) => Number(x[key]))), 2);

export async function deployBenchmark(runs: number, keepLast: boolean): Promise<object> {
  await teardown(BENCH);
  const p = await composeProject();
  await composeDown(p);
  log('deploy', 'warming the build cache (not timed)');
  await warmBuildCache(p);

  // Pairs B A (compose, then cdktf), so that the last cdktf deployment can stay up for the
  // data-path and replication benchmarks.
  const cdktfRuns: CdktfSample[] = [];
  const composeRuns: ComposeSample[] = [];
  for (let i = 0; i < runs; i++) {
    composeRuns.push(await retryOnce('deploy compose', () => composeRun(p, true)));
    log('deploy', `compose run ${i + 1}/${runs}: ${composeRuns[i].seconds}s`);
    cdktfRuns.push(await retryOnce('deploy cdktf', () => cdktfRun(BENCH, [], true, keepLast && i === runs - 1)));
    log('deploy', `cdktf run ${i + 1}/${runs}: ${cdktfRuns[i].seconds}s (redeploy ${cdktfRuns[i].redeploySeconds}s)`);
  }

  const c = { seconds: med(cdktfRuns, 'seconds'), beforeApply: med(cdktfRuns, 'beforeApply'), apply: med(cdktfRuns, 'apply'), afterApply: med(cdktfRuns, 'afterApply'), redeploySeconds: med(cdktfRuns, 'redeploySeconds') };
  const k = { seconds: med(composeRuns, 'seconds'), upReturned: med(composeRuns, 'upReturned'), allHealthy: med(composeRuns, 'allHealthy'), noChangeSeconds: med(composeRuns, 'noChangeSeconds') };
  const ratio = round(c.seconds / k.seconds, 3);
  const critical = Object.fromEntries(
    Object.keys(cdktfRuns[0].resources).map((r) => [r, round(median(cdktfRuns.map((s) => s.resources[r] ?? NaN)), 1)]),
  );
  table(`Deploy to serving + replicating (medians of ${runs}, alternating; target cdktf <= 1.3x compose)`, ['tool', 'seconds', 'detail'], [
    ['cdktf deploy', c.seconds, `before apply ${c.beforeApply}s (synth, init, plan), apply ${c.apply}s, after ${c.afterApply}s`],
    ['docker-compose up + wait', k.seconds, `up returned ${k.upReturned}s, all healthy ${k.allHealthy}s, serving ${k.seconds}s`],
    ['ratio', `${ratio.toFixed(3)}x`, ratio <= 1.3 ? 'target met' : 'target missed'],
    ['cdktf deploy, no change', c.redeploySeconds, 'refresh + plan, 0 added, 0 changed, 0 destroyed'],
    ['docker-compose up, no change', k.noChangeSeconds, ''],
  ]);
  return {
    method: `${runs} pairs (compose, cdktf), each from nothing to serving and replicating, torn down fully (containers, networks, volumes, built image) between runs; medians`,
    cdktf: { medians: c, resourceSecondsMedian: critical, runs: cdktfRuns },
    compose: { medians: k, runs: composeRuns },
    ratio,
    target: 1.3,
    met: ratio <= 1.3,
  };
}

/**
 * Deploy tuning, round robin: the deploy waits tier after tier (primary, replica, read
 * balancer, applications, Nginx, HAProxy) for each container's first passing health
 * check, which Docker runs one interval after the start. `patchFile` (default
 * bench/tuning/applied/deploy.diff: 2 s instead of 5 s, the read balancer no longer waiting
 * for the replicas, a cheaper application probe) is reversed on a copy of src/ ("before")
 * and deployed against the library as it is ("after") and compose on the library's
 * configs, each from nothing to serving and replicating.
 */
export async function deployTuningBenchmark(runs: number, patchFile = DEPLOY_PATCH): Promise<object> {
  const patch = tuningPatch(patchFile);
  await teardown(BENCH);
  const copyDir = path.join(WORK, 'alt-deploy');
  if (!(await patchedCopy(patch, copyDir, ['src', 'main.ts', 'bench/deploy-app.ts', 'bench/lib.ts'], 'deploy-tuning', true))) {
    return { skipped: patch.skipped };
  }
  const copy: Deployment = { ...BENCH, variant: 'bench-copy', app: `npx ts-node --transpile-only ${path.join(copyDir, 'bench', 'deploy-app.ts')}` };
  const [without, withChange] = beforeAfter(patch, copy, BENCH);
  const p = await composeProject();
  await composeDown(p);
  await warmBuildCache(p);
  const variants: [string, () => Promise<{ seconds: number }>][] = [
    ['cdktf, before', () => cdktfRun(without)],
    ['cdktf, after', () => cdktfRun(withChange)],
    ['compose, library as it is', () => composeRun(p)],
  ];
  const samples: number[][] = variants.map(() => []);
  for (let i = 0; i < runs; i++) {
    for (const [v, [label, fn]] of variants.entries()) {
      samples[v].push((await retryOnce(`deploy-tuning ${label}`, fn)).seconds);
      log('deploy-tuning', `${label} run ${i + 1}/${runs}: ${samples[v][i]}s`);
    }
  }
  const medians = Object.fromEntries(variants.map(([label], v) => [label, round(median(samples[v]), 2)]));
  const ratioAfter = round(medians['cdktf, after'] / medians['compose, library as it is'], 3);
  const gain = round(medians['cdktf, after'] / medians['cdktf, before'], 3);
  table(`Deploy tuning: ${patch.name}, before = without it, after = with it (medians of ${runs}, round robin)`, ['variant', 'seconds'], [
    ...variants.map(([label]) => [label, medians[label]]),
    ['after / before', `${gain.toFixed(3)}x`],
    ['ratio cdktf after / compose', `${ratioAfter.toFixed(3)}x`],
  ]);
  return {
    method: `${runs} rounds of ${variants.length} variants, round robin, each from nothing to serving and replicating, torn down fully between runs; medians`,
    patch: patch.name,
    applied: patch.applied,
    medians,
    gain,
    ratioAfter,
    runs: Object.fromEntries(variants.map(([label], v) => [label, samples[v]])),
  };
}
