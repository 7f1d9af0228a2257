/**
 * Benchmark 4, replication lag: from a commit on the primary to its visibility on the
 * replica, under a bounded write load, on the deployed bench stack.
 *
 * A bench-only container on the internal back network (the stack's own application image,
 * for its mysql2 driver) runs bench/.work/replication/lag.js: one connection inserts rows
 * on the primary at a fixed rate for a fixed time (autocommit; the commit time is when the
 * INSERT returns), another polls `SELECT MAX(id)` on the replica every millisecond and
 * stamps each id when it first shows. Both clocks are one process's, so lag = seen - commit.
 * Rows replicate in order (one SQL thread), so MAX(id) visible means every id below it is.
 * It stops by itself: after the load, it waits at most 10 s for the replica to catch up.
 */
import * as fs from 'fs';
import * as path from 'path';
import { log, must, PASSWORDS, percentile, round, table, WORK } from './lib';
import { appImageName, BENCH, synthesized } from './stack';

const SCRIPT = `'use strict';
const mysql = require('/app/node_modules/mysql2/promise');
const { performance } = require('perf_hooks');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
(async () => {
  const rate = Number(process.env.RATE);
  const durationMs = Number(process.env.DURATION_S) * 1000;
  const cfg = { user: process.env.DB_USER, password: process.env.DB_PASSWORD, database: process.env.DB_NAME, port: 3306, connectTimeout: 5000 };
  const primary = await mysql.createConnection({ ...cfg, host: process.env.PRIMARY });
  const replica = await mysql.createConnection({ ...cfg, host: process.env.REPLICA });
  const table = 'dwib_lag_' + Date.now();
  await primary.query('CREATE TABLE ' + table + ' (id INT PRIMARY KEY, at DOUBLE) ENGINE=InnoDB');
  for (let i = 0; ; i++) {
    const [rows] = await replica.query("SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_name = ?", [table]);
    if (rows[0].n > 0) break;
    if (i > 1000) throw new Error('the table never reached the replica');
    await sleep(10);
  }
  const committed = [];
  const seen = [];
  let seenMax = 0;
  let written = 0;
  let writing = true;
  const reader = (async () => {
    const deadline = () => !writing && (seenMax >= written || performance.now() > drainUntil);
    let drainUntil = Infinity;
    while (!deadline()) {
      if (!writing && drainUntil === Infinity) drainUntil = performance.now() + 10000;
      const [rows] = await replica.query('SELECT MAX(id) AS m FROM ' + table);
      const now = performance.now();
      const m = rows[0].m || 0;
      for (let id = seenMax + 1; id <= m; id++) seen[id] = now;
      seenMax = Math.max(seenMax, m);
      await sleep(1);
    }
  })();
  const started = performance.now();
  const interval = 1000 / rate;
  for (let id = 1; performance.now() - started < durationMs; id++) {
    const due = started + (id - 1) * interval;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    await primary.query('INSERT INTO ' + table + ' (id, at) VALUES (?, ?)', [id, Date.now()]);
    committed[id] = performance.now();
    written = id;
  }
  writing = false;
  await reader;
  const lags = [];
  for (let id = 1; id <= written; id++) if (seen[id] !== undefined) lags.push(seen[id] - committed[id]);
  await primary.query('DROP TABLE ' + table);
  await primary.end();
  await replica.end();
  console.log(JSON.stringify({ written, seen: lags.length, seconds: (performance.now() - started) / 1000, lagsMs: lags }));
})().catch((err) => { console.error(err); process.exit(1); });
`;

export interface LoadLevel {
  readonly rate: number;
  readonly seconds: number;
}

export const LEVELS: LoadLevel[] = [
  { rate: 20, seconds: 30 },
  { rate: 200, seconds: 15 },
];

export async function replicationBenchmark(levels: LoadLevel[] = LEVELS): Promise<object> {
  const json = synthesized(BENCH);
  const image = appImageName(json);
  const dir = path.join(WORK, 'replication');
  fs.mkdirSync(dir, { recursive: true });
  const script = path.join(dir, 'lag.js');
  fs.writeFileSync(script, SCRIPT);
  const results: object[] = [];
  const rows: (string | number)[][] = [];
  for (const level of levels) {
    log('replication', `${level.rate} writes/s for ${level.seconds} s`);
    const out = await must(
      'docker',
      [
        'run', '--rm', '--name', `${BENCH.name}-lag`, '--network', `${BENCH.name}-back`,
        '-v', `${script}:/bench/lag.js:ro`,
        '-e', `PRIMARY=${BENCH.name}-db-primary`, '-e', `REPLICA=${BENCH.name}-db-replica-1`,
        '-e', 'DB_USER=app', '-e', `DB_PASSWORD=${PASSWORDS.db_password}`, '-e', 'DB_NAME=app',
        '-e', `RATE=${level.rate}`, '-e', `DURATION_S=${level.seconds}`,
        '--entrypoint', 'node', image, '/bench/lag.js',
      ],
      { timeoutMs: (level.seconds + 90) * 1000 },
    );
    const r = JSON.parse(out.trim().split('\n').pop() ?? '{}') as { written: number; seen: number; seconds: number; lagsMs: number[] };
    if (r.seen !== r.written) throw new Error(`only ${r.seen} of ${r.written} writes reached the replica within 10 s of the end of the load`);
    const p = (q: number) => round(percentile(r.lagsMs, q), 2);
    const summary = {
      ratePerSecond: level.rate,
      seconds: level.seconds,
      writes: r.written,
      achievedRate: round(r.written / level.seconds, 1),
      lagMs: { p50: p(50), p90: p(90), p99: p(99), max: round(Math.max(...r.lagsMs), 2) },
    };
    results.push(summary);
    rows.push([`${level.rate}/s x ${level.seconds}s`, r.written, summary.lagMs.p50, summary.lagMs.p90, summary.lagMs.p99, summary.lagMs.max]);
  }
  table('Replication lag, commit on the primary to visible on the replica (ms; replica polled every ~1 ms)', ['write load', 'writes', 'p50', 'p90', 'p99', 'max'], rows);
  return {
    method: 'a container on the back network writes on the primary at a fixed rate (autocommit, one connection) and polls MAX(id) on the replica every ~1 ms, one clock; lag = first seen - INSERT returned',
    results,
  };
}
