/**
 * Benchmark 3, data path: requests per second and p50/p99 latency with wrk on loopback,
 * through the load balancer (HAProxy -> Nginx -> app) against straight to one Nginx (and
 * its app), alternating, for a static file and for an application request.
 *
 * The direct path is a bench-only Nginx container, `dwib-direct`: the same image, the same
 * rendered nginx.conf and static files as web-1 (read back from the synthesized uploads),
 * on the same two networks, proxying to web-1's application, and publishing port 80 on
 * 127.0.0.1. The deployed stack itself stays as the library builds it (only its load
 * balancer publishes a port). Both paths cross Docker's userland proxy for loopback.
 *
 * `datapath-tuning` runs the same comparison with alternative configs (bench/tuning.ts)
 * on bench-only containers beside the stack.
 */
import * as fs from 'fs';
import * as path from 'path';
import { docker, log, median, PORTS, round, run, sleep, table, WORK } from './lib';
import { BENCH, Deployment, get, synthesized } from './stack';

export interface WrkResult {
  readonly rps: number;
  readonly p50ms: number;
  readonly p99ms: number;
  readonly requests: number;
  readonly errors: number;
}

export const WRK = { threads: 2, connections: 32, seconds: 10 };

const ms = (value: string, unit: string) => Number(value) * ({ us: 0.001, ms: 1, s: 1000 } as Record<string, number>)[unit];

/** One wrk run (it stops by itself after `seconds`); fails on any error or non-2xx answer. */
export async function wrk(url: string, seconds = WRK.seconds): Promise<WrkResult> {
  const r = await run('wrk', [`-t${WRK.threads}`, `-c${WRK.connections}`, `-d${seconds}s`, '--timeout', '5s', '--latency', url], { timeoutMs: (seconds + 30) * 1000 });
  if (r.code !== 0) throw new Error(`wrk ${url} failed: ${r.stderr}`);
  const out = r.stdout;
  const latency = (p: string) => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s)\\s*$`, 'm').exec(out);
    if (!m) throw new Error(`no ${p}% latency in wrk output:\n${out}`);
    return round(ms(m[1], m[2]), 3);
  };
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1]);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = non2xx + (socket ? socket.slice(1).reduce((s, n) => s + Number(n), 0) : 0);
  if (errors > 0) throw new Error(`wrk ${url}: ${errors} errors or non-2xx answers:\n${out}`);
  return { rps: round(rps, 1), p50ms: latency('50'), p99ms: latency('99'), requests, errors };
}

/** The uploads of one container of the synthesized stack, as files under `dir`. */
export function extractUploads(json: any, containerName: string, dir: string): string {
  const c = Object.values(json.resource.docker_container as Record<string, any>).find((x) => x.name === containerName);
  if (!c) throw new Error(`no container ${containerName} in the synthesized stack`);
  fs.rmSync(dir, { recursive: true, force: true });
  for (const u of c.upload ?? []) {
    const file = path.join(dir, u.file);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, Buffer.from(u.content_base64, 'base64'));
    fs.chmodSync(file, parseInt(u.permissions ?? '0644', 8));
  }
  return dir;
}

/** What a bench-only copy of a container of the synthesized stack runs with: its image and sysctls. */
export function runtimeOf(json: any, containerName: string): Pick<BenchContainer, 'image' | 'sysctls'> {
  const c = Object.values(json.resource.docker_container as Record<string, any>).find((x) => x.name === containerName);
  const ref = /^\$\{docker_image\.([^.]+)\./.exec(c.image)?.[1];
  return { image: json.resource.docker_image[ref ?? ''].name, sysctls: c.sysctls };
}

export interface BenchContainer {
  readonly name: string;
  readonly image: string;
  /** Files to put into the container before it starts (a folder mirroring the container's root). */
  readonly files: string;
  readonly networks: string[];
  /** Host port on 127.0.0.1 and container port, if published. */
  readonly publish?: [number, number];
  /** Kernel settings of the container's namespaces, as the stack sets them. */
  readonly sysctls?: Record<string, string>;
}

/** Creates, fills (like the provider's upload: copied in before start) and starts a bench-only container. */
export async function startContainer(c: BenchContainer): Promise<void> {
  await run('docker', ['rm', '-f', c.name], { timeoutMs: 60_000 });
  await docker(
    'create', '--name', c.name, '--network', c.networks[0], '--restart', 'no', '--label', 'io.cdktf-distributed-web.project=dwib-bench',
    ...(c.publish ? ['-p', `127.0.0.1:${c.publish[0]}:${c.publish[1]}`] : []),
    ...Object.entries(c.sysctls ?? {}).flatMap(([k, v]) => ['--sysctl', `${k}=${v}`]),
    '--log-driver', 'json-file', '--log-opt', 'max-size=10m', '--log-opt', 'max-file=3',
    c.image,
  );
  for (const n of c.networks.slice(1)) await docker('network', 'connect', n, c.name);
  await docker('cp', `${c.files}/.`, `${c.name}:/`);
  await docker('start', c.name);
}

/** Waits until `url` answers 200. */
export async function waitOk(url: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await get(url)).status !== 200) {
    if (Date.now() > deadline) throw new Error(`${url} never answered 200`);
    await sleep(250);
  }
}

/** Starts `dwib-direct`, a copy of web-1 publishing its port, for the direct path. */
export async function startDirect(d: Deployment, name = `${d.name}-direct`, port = PORTS.direct): Promise<string> {
  const json = synthesized(d);
  const web1 = `${d.name}-web-1`;
  const files = extractUploads(json, web1, path.join(WORK, 'datapath', name));
  await startContainer({ name, ...runtimeOf(json, web1), files, networks: [`${d.name}-front`, `${d.name}-back`], publish: [port, 80] });
  const url = `http://127.0.0.1:${port}`;
  await waitOk(`${url}/nginx-healthz`);
  return url;
}

export interface PathComparison {
  readonly path: string;
  readonly lb: WrkResult[];
  readonly direct: WrkResult[];
}

/** Alternates wrk runs through `lbUrl` and `directUrl` for each path; one short untimed warm-up each. */
export async function comparePaths(lbUrl: string, directUrl: string, paths: string[], runs: number, scope: string): Promise<PathComparison[]> {
  const out: PathComparison[] = [];
  for (const p of paths) {
    await wrk(lbUrl + p, 2);
    await wrk(directUrl + p, 2);
    const lb: WrkResult[] = [];
    const direct: WrkResult[] = [];
    for (let i = 0; i < runs; i++) {
      lb.push(await wrk(lbUrl + p));
      direct.push(await wrk(directUrl + p));
      log(scope, `${p} run ${i + 1}/${runs}: LB ${lb[i].rps} req/s, direct ${direct[i].rps} req/s`);
    }
    out.push({ path: p, lb, direct });
  }
  return out;
}

export function summarize(c: PathComparison) {
  const m = (xs: WrkResult[], k: keyof WrkResult) => round(median(xs.map((x) => x[k])), k === 'rps' ? 1 : 3);
  const lb = { rps: m(c.lb, 'rps'), p50ms: m(c.lb, 'p50ms'), p99ms: m(c.lb, 'p99ms') };
  const direct = { rps: m(c.direct, 'rps'), p50ms: m(c.direct, 'p50ms'), p99ms: m(c.direct, 'p99ms') };
  return { path: c.path, lb, direct, rpsRatio: round(lb.rps / direct.rps, 3) };
}

export const STATIC_PATH = '/static/index.html';
export const APP_PATH = '/api/whoami';

export async function datapathBenchmark(runs: number): Promise<object> {
  const direct = await startDirect(BENCH);
  try {
    const lbUrl = `http://127.0.0.1:${BENCH.port}`;
    const results = (await comparePaths(lbUrl, direct, [STATIC_PATH, APP_PATH], runs, 'datapath')).map(summarize);
    const rows = results.flatMap((r) => [
      [`${r.path} via LB`, r.lb.rps, r.lb.p50ms, r.lb.p99ms, `${r.rpsRatio.toFixed(3)}x`],
      [`${r.path} direct`, r.direct.rps, r.direct.p50ms, r.direct.p99ms, ''],
    ]);
    table(`Data path: wrk -t${WRK.threads} -c${WRK.connections} -d${WRK.seconds}s on loopback (medians of ${runs}, alternating; target static LB >= 0.9x direct)`, ['path', 'req/s', 'p50 ms', 'p99 ms', 'LB/direct'], rows);
    const staticRatio = results[0].rpsRatio;
    return {
      method: `wrk ${WRK.threads} threads, ${WRK.connections} connections, ${WRK.seconds} s per run, ${runs} runs per side alternating after a 2 s warm-up; medians of req/s, p50, p99`,
      directPath: 'bench-only Nginx container with web-1\'s image, nginx.conf and static files, on both networks, proxying to web-1\'s app, publishing 127.0.0.1:' + PORTS.direct,
      results,
      target: { staticRatio: 0.9, met: staticRatio >= 0.9 },
    };
  } finally {
    await run('docker', ['rm', '-f', `${BENCH.name}-direct`], { timeoutMs: 60_000 });
  }
}
