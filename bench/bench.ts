/**
 * The benchmark runner behind `npm run bench` (through bench/run.sh).
 *
 *   npm run bench                          synth, deploy, datapath, replication
 *   npm run bench -- datapath replication  only those
 *   npm run bench -- deploy-tuning datapath-tuning    the tuning experiments
 *   BENCH_RUNS=7 npm run bench             runs per side (default 5; synth 7)
 *   BENCH_TUNING_PATCH=bench/tuning/nginx-upstream-keepalive.diff npm run bench -- datapath-tuning
 *   BENCH_TUNING_PATCH=bench/tuning/applied/deploy-parallel.diff npm run bench -- deploy-tuning
 *                                          the diff a tuning benchmark measures (default: applied/datapath.diff
 *                                          and applied/deploy.diff; an applied one is measured reversed)
 *   BENCH_QUIET_WAIT=0 npm run bench       do not wait for a quiet machine (default: up to 600 s per benchmark)
 *
 * Each benchmark prints its table and writes bench/results/<name>.json. Whatever happens,
 * every container, network, volume and image of the benchmarks is removed at the end.
 */
import * as path from 'path';
import { cdktfRun, deployBenchmark, deployTuningBenchmark } from './deploy';
import { datapathBenchmark } from './datapath';
import { datapathTuningBenchmark } from './tuning';
import { log, machine, PREFIX, removeByPrefix, run, waitForQuiet, watchContention, writeResult } from './lib';
import { replicationBenchmark } from './replication';
import { BENCH, teardown } from './stack';
import { synthBenchmark } from './synth';

const DEFAULT = ['synth', 'deploy', 'datapath', 'replication'];
const KNOWN = [...DEFAULT, 'deploy-tuning', 'datapath-tuning'];
/** Benchmarks that need the bench stack deployed. */
const ON_STACK = ['datapath', 'replication', 'datapath-tuning'];

async function cleanUp(): Promise<void> {
  log('bench', 'cleaning up');
  await teardown(BENCH).catch((e) => log('bench', `teardown: ${e}`));
  // The compose project's containers, networks and volumes all start with the prefix too.
  await removeByPrefix(PREFIX);
  const images = await run('docker', ['images', '--format', '{{.Repository}}:{{.Tag}}']);
  const ours = images.stdout.split('\n').filter((i) => /^dwibc?-build\//.test(i));
  if (ours.length) await run('docker', ['rmi', ...ours]);
}

async function main(): Promise<void> {
  const names = process.argv.slice(2).length ? process.argv.slice(2) : (process.env.BENCH?.split(',').filter(Boolean) ?? DEFAULT);
  const unknown = names.filter((n) => !KNOWN.includes(n));
  if (unknown.length) throw new Error(`unknown benchmark(s) ${unknown.join(', ')}; known: ${KNOWN.join(', ')}`);
  const runs = Number(process.env.BENCH_RUNS ?? 5);
  if (!Number.isInteger(runs) || runs < 5) throw new Error(`BENCH_RUNS must be an integer of at least 5, got ${process.env.BENCH_RUNS}`);
  const ordered = KNOWN.filter((n) => names.includes(n));
  log('bench', `running ${ordered.join(', ')} with ${runs} runs per side on ${JSON.stringify(await machine())}`);

  const started = Date.now();
  let stackUp = false;
  try {
    await removeByPrefix(PREFIX);
    for (const name of ordered) {
      const t0 = Date.now();
      const needsStack = ON_STACK.includes(name);
      if (needsStack && !stackUp) {
        log('bench', 'deploying the bench stack for the benchmarks that need it');
        await cdktfRun(BENCH, [], false, true);
        stackUp = true;
      }
      if (!needsStack && stackUp && name !== 'deploy') {
        await teardown(BENCH);
        stackUp = false;
      }
      const quietBefore = await waitForQuiet(Number(process.env.BENCH_QUIET_WAIT ?? 600), name);
      const later = ordered.slice(ordered.indexOf(name) + 1).some((n) => ON_STACK.includes(n));
      const { value, contention } = await watchContention(async (): Promise<object> => {
        switch (name) {
          case 'synth':
            return synthBenchmark(Math.max(runs, 7));
          case 'deploy': {
            if (stackUp) await teardown(BENCH);
            const result = await deployBenchmark(runs, later);
            stackUp = later;
            return result;
          }
          case 'deploy-tuning': {
            if (stackUp) await teardown(BENCH);
            stackUp = false;
            return deployTuningBenchmark(runs, process.env.BENCH_TUNING_PATCH || undefined);
          }
          case 'datapath':
            return datapathBenchmark(runs);
          case 'replication':
            return replicationBenchmark();
          case 'datapath-tuning':
            return datapathTuningBenchmark(runs, process.env.BENCH_TUNING_PATCH || undefined);
          default:
            throw new Error(name);
        }
      });
      if (contention.testRunnerSeen || !quietBefore) {
        log(name, `CONTENTION: another test run (vitest, e.g. the e2e suite) ran at the same time or the machine was busy (max load ${contention.maxLoad1}); rerun when quiet`);
      } else if (contention.e2eSeen) {
        log(name, `note: the e2e suite's containers were up (idle) during this benchmark (max load ${contention.maxLoad1})`);
      }
      const patch = process.env.BENCH_TUNING_PATCH;
      const resultName = name.endsWith('-tuning') && patch ? `${name}-${path.basename(patch, '.diff')}` : name;
      await writeResult(resultName, { ...value, contention: { ...contention, quietBefore }, wallSeconds: Math.round((Date.now() - t0) / 1000) });
    }
  } finally {
    await cleanUp();
    log('bench', `done in ${Math.round((Date.now() - started) / 1000)} s`);
  }
}

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    log('bench', `${signal}: cleaning up before exit`);
    cleanUp().finally(() => process.exit(130));
  });
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
