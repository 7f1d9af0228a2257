/**
 * Benchmark 1, synth: the cost of the library's abstraction at synthesis.
 *
 *  a. The example stack (main.ts) against bench/synth/plain-app.ts, the same resources
 *     declared by hand with the provider classes (asserted equivalent first), timed as
 *     whole processes, alternating A B A B: the app run by `node` on precompiled JS (what a
 *     published library costs), the same under ts-node (what main.ts's cdktf.json runs), and
 *     the whole `cdktf synth` CLI on top of the precompiled app.
 *  b. Synth time and peak memory (GNU time's max RSS) at 3, 30 and 300 web servers
 *     (bench/synth/scale-app.ts), interleaved.
 *  c. Tuning: bench/tuning/applied/synth-hash-once.diff reversed on a copy of src/
 *     ("before"), against the library as it is ("after"), at 300 web servers.
 */
import * as fs from 'fs';
import * as path from 'path';
import { alternate, beforeAfter, log, median, must, patchedCopy, round, ROOT, run, table, tuningPatch, WORK } from './lib';

const JS = path.join(WORK, 'js');
const ALT = path.join(WORK, 'alt');
const OUT = path.join(WORK, 'synth');
const TSC = path.join(ROOT, 'node_modules', '.bin', 'tsc');
const CDKTF = path.join(ROOT, 'node_modules', '.bin', 'cdktf');
const APP_DIR = path.join(ROOT, 'app');
const PATCH = tuningPatch('bench/tuning/applied/synth-hash-once.diff');

interface Sample {
  readonly seconds: number;
  readonly maxRssMiB: number;
}

/** One process, timed from spawn to exit; peak memory from GNU time (largest process of the tree). */
async function timed(cmd: string, args: string[], outDir: string, env: NodeJS.ProcessEnv = {}): Promise<Sample> {
  fs.rmSync(outDir, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(outDir), { recursive: true });
  const rssFile = `${outDir}.rss`;
  const result = await run('/usr/bin/time', ['-f', '%M', '-o', rssFile, cmd, ...args], {
    cwd: ROOT,
    env: { ...process.env, CDKTF_OUTDIR: outDir, DWIB_APP_DIR: APP_DIR, CHECKPOINT_DISABLE: '1', CI: '1', ...env },
    timeoutMs: 300_000,
  });
  if (result.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${result.code}):\n${result.stdout.slice(-3000)}\n${result.stderr.slice(-3000)}`);
  const kib = Number(fs.readFileSync(rssFile, 'utf8').trim().split('\n').pop());
  return { seconds: result.seconds, maxRssMiB: round(kib / 1024, 1) };
}

/** Compiles the example, the plain app and the scale app to JS once (not timed). */
async function compile(): Promise<void> {
  await must(TSC, ['-p', path.join(ROOT, 'bench', 'synth', 'tsconfig.json'), '--outDir', JS], { cwd: ROOT, timeoutMs: 300_000 });
  // main.ts finds app/ beside itself.
  fs.rmSync(path.join(JS, 'app'), { force: true });
  fs.symlinkSync(APP_DIR, path.join(JS, 'app'));
}

/** A copy of src/ with the tuning diff (reversed if applied), compiled with the scale app; false if it does not apply. */
async function compilePatched(): Promise<boolean> {
  if (!(await patchedCopy(PATCH, ALT, ['src', 'main.ts', 'bench/synth/scale-app.ts'], 'synth', false))) return false;
  fs.writeFileSync(
    path.join(ALT, 'tsconfig.json'),
    JSON.stringify({
      extends: path.join(ROOT, 'tsconfig.json'),
      compilerOptions: { rootDir: '.', outDir: 'js', noEmit: false, declaration: false },
      include: ['main.ts', 'bench/synth/scale-app.ts'],
    }),
  );
  await must(TSC, ['-p', path.join(ALT, 'tsconfig.json')], { cwd: ALT, timeoutMs: 300_000 });
  return true;
}

/** What must match between the example and the plain app. */
function shape(json: any): object {
  const res = json.resource as Record<string, Record<string, any>>;
  const containers = Object.values(res.docker_container ?? {});
  return {
    resourceCounts: Object.fromEntries(Object.entries(res).map(([t, r]) => [t, Object.keys(r).length]).sort()),
    containers: containers
      .map((c) => ({
        name: c.name,
        attributes: Object.keys(c).filter((k) => k !== '//').sort().join(','),
        uploads: (c.upload ?? []).map((u: any) => u.file).sort(),
        dependsOn: (c.depends_on ?? []).length,
      }))
      .sort((a, b) => a.name.localeCompare(b.name)),
    images: Object.values(res.docker_image ?? {}).map((i: any) => `${i.name.replace(/:[0-9a-f]{16}$/, ':<hash>')}${i.build ? ' (build)' : ''}`).sort(),
    networks: Object.values(res.docker_network ?? {}).map((n: any) => `${n.name}${n.internal ? ' (internal)' : ''}`).sort(),
    variables: Object.keys(json.variable ?? {}).sort(),
    outputs: Object.keys(json.output ?? {}).sort(),
    providers: Object.keys(json.provider ?? {}).sort(),
  };
}

const stackJson = (outDir: string, stack: string) => JSON.parse(fs.readFileSync(path.join(outDir, 'stacks', stack, 'cdk.tf.json'), 'utf8'));

/** Asserts that the example and the plain app synthesize equivalent stacks; returns their sizes. */
async function assertEquivalent(): Promise<{ exampleBytes: number; plainBytes: number }> {
  await timed('node', [path.join(JS, 'main.js')], path.join(OUT, 'check-example'));
  await timed('node', [path.join(JS, 'bench', 'synth', 'plain-app.js')], path.join(OUT, 'check-plain'));
  const example = stackJson(path.join(OUT, 'check-example'), 'distributed-web');
  const plain = stackJson(path.join(OUT, 'check-plain'), 'distributed-web');
  const a = JSON.stringify(shape(example), null, 1);
  const b = JSON.stringify(shape(plain), null, 1);
  if (a !== b) {
    const al = a.split('\n');
    const bl = b.split('\n');
    const diff = al.flatMap((l, i) => (l !== bl[i] ? [`  example: ${l.trim()}\n  plain:   ${(bl[i] ?? '').trim()}`] : [])).slice(0, 20);
    throw new Error(`bench/synth/plain-app.ts no longer declares what main.ts synthesizes; update it. First differences:\n${diff.join('\n')}`);
  }
  return { exampleBytes: JSON.stringify(example).length, plainBytes: JSON.stringify(plain).length };
}

interface Mode {
  readonly name: string;
  readonly example: () => Promise<Sample>;
  readonly plain: () => Promise<Sample>;
}

function summary(samples: Sample[]) {
  return { medianSeconds: round(median(samples.map((s) => s.seconds)), 3), medianMaxRssMiB: round(median(samples.map((s) => s.maxRssMiB)), 1), runs: samples };
}

export async function synthBenchmark(runs: number): Promise<object> {
  log('synth', 'compiling the example, the plain app and the scale app to JS (not timed)');
  await compile();
  const sizes = await assertEquivalent();
  log('synth', `equivalent stacks: same resource types, counts, containers, attributes, uploads, images, networks (JSON ${sizes.exampleBytes} vs ${sizes.plainBytes} bytes)`);

  const o = (name: string) => path.join(OUT, name);
  const modes: Mode[] = [
    {
      name: 'node, precompiled JS',
      example: () => timed('node', [path.join(JS, 'main.js')], o('js-example')),
      plain: () => timed('node', [path.join(JS, 'bench', 'synth', 'plain-app.js')], o('js-plain')),
    },
    {
      name: 'node + ts-node --transpile-only',
      example: () => timed('node', ['-r', 'ts-node/register/transpile-only', 'main.ts'], o('ts-example')),
      plain: () => timed('node', ['-r', 'ts-node/register/transpile-only', 'bench/synth/plain-app.ts'], o('ts-plain')),
    },
    {
      name: 'cdktf synth (CLI + precompiled app)',
      example: () => timed(CDKTF, ['synth', '--app', `node ${path.join(JS, 'main.js')}`, '--output', o('cli-example')], o('cli-example')),
      plain: () => timed(CDKTF, ['synth', '--app', `node ${path.join(JS, 'bench', 'synth', 'plain-app.js')}`, '--output', o('cli-plain')], o('cli-plain')),
    },
  ];

  const comparison: object[] = [];
  const rows: (string | number)[][] = [];
  for (const mode of modes) {
    // One untimed run each first: the page cache and V8's code cache then favour neither side.
    await mode.example();
    await mode.plain();
    // A precompiled synth is a ~0.4 s process with +-30 ms of jitter: three times the runs.
    const n = mode.name.startsWith('node, precompiled') ? runs * 3 : runs;
    const { a, b } = await alternate(n, mode.example, mode.plain);
    const ex = summary(a);
    const pl = summary(b);
    const ratio = round(ex.medianSeconds / pl.medianSeconds, 3);
    comparison.push({ mode: mode.name, runs: n, example: ex, plain: pl, ratio, target: 1.05, met: ratio <= 1.05 });
    rows.push([`${mode.name} (${n} runs)`, ex.medianSeconds, pl.medianSeconds, `${ratio.toFixed(3)}x`, ex.medianMaxRssMiB, pl.medianMaxRssMiB, ratio <= 1.05 ? 'yes' : 'no']);
    log('synth', `${mode.name}: ${ratio}x`);
  }
  table(`Synth: example stack vs plain provider classes (medians, alternating; target <= 1.05x)`, ['mode', 'example s', 'plain s', 'ratio', 'example MiB', 'plain MiB', 'met'], rows);

  // b. Scaling.
  const counts = [3, 30, 300];
  const scale = (js: string) => (n: number) => timed('node', [js], o(`scale-${n}`), { DWIB_SCALE_SERVERS: String(n) });
  const baseline = scale(path.join(JS, 'bench', 'synth', 'scale-app.js'));
  const samples: Record<number, Sample[]> = { 3: [], 30: [], 300: [] };
  for (const n of counts) await baseline(n); // untimed warm-up
  for (let i = 0; i < runs; i++) for (const n of counts) samples[n].push(await baseline(n));
  const med = Object.fromEntries(counts.map((n) => [n, summary(samples[n])]));
  const jsonBytes = Object.fromEntries(counts.map((n) => [n, fs.statSync(path.join(o(`scale-${n}`), 'stacks', 'scale', 'cdk.tf.json')).size]));
  const perServer = (key: 'medianSeconds' | 'medianMaxRssMiB', from: number, to: number) => (med[to][key] - med[from][key]) / (to - from);
  const growth = {
    secondsPerServer3to30: round(perServer('medianSeconds', 3, 30) * 1000, 2),
    secondsPerServer30to300: round(perServer('medianSeconds', 30, 300) * 1000, 2),
    mibPerServer3to30: round(perServer('medianMaxRssMiB', 3, 30), 3),
    mibPerServer30to300: round(perServer('medianMaxRssMiB', 30, 300), 3),
  };
  // Linear or better: the marginal cost of a server from 30 to 300 is no higher than from
  // 3 to 30 (25 % allowance for noise).
  const linearTime = growth.secondsPerServer30to300 <= growth.secondsPerServer3to30 * 1.25;
  const linearMemory = growth.mibPerServer30to300 <= growth.mibPerServer3to30 * 1.25;
  table(
    `Synth scaling: DistributedWebInfrastructure, precompiled JS (medians of ${runs}; 300 = 5 constructs x 60)`,
    ['web servers', 'seconds', 'max RSS MiB', 'cdk.tf.json bytes'],
    counts.map((n) => [n, med[n].medianSeconds, med[n].medianMaxRssMiB, jsonBytes[n]]),
  );
  console.log(
    `marginal cost per server: ${growth.secondsPerServer3to30} ms / ${growth.mibPerServer3to30} MiB (3->30), ${growth.secondsPerServer30to300} ms / ${growth.mibPerServer30to300} MiB (30->300): time ${linearTime ? 'linear or better' : 'WORSE than linear'}, memory ${linearMemory ? 'linear or better' : 'WORSE than linear'}`,
  );

  // c. Tuning: the library with and without the change, side by side. The copy of src/ has
  // the diff applied (a proposal) or reversed (a change already applied).
  const patchName = PATCH.name;
  let tuning: object = { skipped: PATCH.skipped };
  if (await compilePatched()) {
    fs.rmSync(path.join(ALT, 'js', 'app'), { force: true });
    fs.symlinkSync(APP_DIR, path.join(ALT, 'js', 'app'));
    const copy = scale(path.join(ALT, 'js', 'bench', 'synth', 'scale-app.js'));
    await copy(300);
    const [without300, with300] = beforeAfter(PATCH, copy, baseline);
    const { a, b } = await alternate(runs, () => without300(300), () => with300(300));
    const before = summary(a);
    const after = summary(b);
    // The example against the plain app, without and with the change, round robin.
    const exampleCopy = () => timed('node', [path.join(ALT, 'js', 'main.js')], o('js-example-copy'));
    await exampleCopy();
    const [exampleWithout, exampleWith] = beforeAfter(PATCH, exampleCopy, modes[0].example);
    const exBefore: Sample[] = [];
    const exAfter: Sample[] = [];
    const plain: Sample[] = [];
    for (let i = 0; i < runs * 3; i++) {
      exBefore.push(await exampleWithout());
      exAfter.push(await exampleWith());
      plain.push(await modes[0].plain());
    }
    const [exBeforeS, exAfterS, plainS] = [summary(exBefore), summary(exAfter), summary(plain)];
    tuning = {
      patch: patchName,
      applied: PATCH.applied,
      scale300: { before, after, ratio: round(after.medianSeconds / before.medianSeconds, 3) },
      exampleVsPlain: {
        before: round(exBeforeS.medianSeconds / plainS.medianSeconds, 3),
        after: round(exAfterS.medianSeconds / plainS.medianSeconds, 3),
        exampleBefore: exBeforeS,
        exampleAfter: exAfterS,
        plain: plainS,
      },
    };
    table(`Synth tuning: ${patchName}, before = without it, after = with it (precompiled JS, medians of ${runs} at 300 servers and ${runs * 3} for the example, round robin)`, ['variant', 'seconds', 'max RSS MiB', 'vs plain'], [
      ['300 servers, before', before.medianSeconds, before.medianMaxRssMiB, ''],
      ['300 servers, after', after.medianSeconds, after.medianMaxRssMiB, ''],
      ['example, before', exBeforeS.medianSeconds, exBeforeS.medianMaxRssMiB, `${round(exBeforeS.medianSeconds / plainS.medianSeconds, 3)}x`],
      ['example, after', exAfterS.medianSeconds, exAfterS.medianMaxRssMiB, `${round(exAfterS.medianSeconds / plainS.medianSeconds, 3)}x`],
      ['plain app', plainS.medianSeconds, plainS.medianMaxRssMiB, '1x'],
    ]);
  }

  return {
    method: `whole processes, ${runs} runs per side after one untimed run, alternating A B A B; medians; peak memory = GNU time max RSS`,
    equivalence: { asserted: true, ...sizes },
    comparison,
    scaling: { note: '300 web servers = 5 DistributedWebInfrastructure constructs of 60 (the construct takes at most 64)', medians: med, jsonBytes, growth, linearTime, linearMemory },
    tuning,
  };
}
