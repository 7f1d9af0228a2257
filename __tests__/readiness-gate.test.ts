import { describe, expect, it } from 'vitest';
import { GATE_SCRIPT } from '../src/readiness-gate';
import { RunResult, explain, run } from './support/binaries';
import { TestServer, freePort, startServer } from './support/http';

/** How the gate's local-exec provisioner runs the script. */
const COMMAND = "eval(Buffer.from(process.env.DWI_GATE_SCRIPT, 'base64').toString())";

interface Gate {
  readonly url: string;
  readonly servers?: string[];
  readonly successes?: number;
  readonly timeoutSeconds?: number;
}

/** Runs the gate with node, killed after 15 s whatever happens; resolves with its result and duration. */
async function runGate(gate: Gate): Promise<RunResult & { ms: number }> {
  const started = Date.now();
  const result = await run(process.execPath, ['-e', COMMAND], {
    env: {
      PATH: process.env.PATH,
      DWI_GATE_SCRIPT: Buffer.from(GATE_SCRIPT).toString('base64'),
      DWI_GATE_URL: gate.url,
      DWI_GATE_SERVERS: (gate.servers ?? []).join(','),
      DWI_GATE_SUCCESSES: String(gate.successes ?? 3),
      DWI_GATE_TIMEOUT_SECONDS: String(gate.timeoutSeconds ?? 3),
    },
    timeoutMs: 15_000,
  });
  return { ...result, ms: Date.now() - started };
}

/** A load balancer stand-in: answers with `statuses` in turn (the last one repeats) from `servers` in turn. */
async function balancer(servers: string[], statuses: number[] = [200]): Promise<TestServer> {
  let n = 0;
  return startServer((_req, res) => {
    const i = n++;
    const headers = servers.length ? { 'x-web-server': servers[i % servers.length] } : undefined;
    res.writeHead(statuses[Math.min(i, statuses.length - 1)], headers);
    res.end('hello\n');
  });
}

async function using<T>(server: TestServer, fn: (server: TestServer) => Promise<T>): Promise<T> {
  try {
    return await fn(server);
  } finally {
    await server.close();
  }
}

describe('readiness gate script', () => {
  it('exits 0 once it got enough 200s in a row from every expected server', async () => {
    await using(await balancer(['web-1', 'web-2']), async (lb) => {
      // GIVEN two servers behind the balancer, answering in turn
      // WHEN
      const result = await runGate({ url: `${lb.url}/`, servers: ['web-1', 'web-2'], successes: 3 });
      // THEN
      expect(result.code, explain(result)).toBe(0);
      expect(result.stdout).toMatch(/^ready: http:\/\/127\.0\.0\.1:\d+\/ answered 3 times in a row, by web-1, web-2$/m);
      expect(lb.requests).toHaveLength(3);
    });
  });

  it('keeps probing until every expected server has answered', async () => {
    await using(await balancer(['web-1', 'web-2', 'web-3']), async (lb) => {
      const result = await runGate({ url: lb.url, servers: ['web-1', 'web-2', 'web-3'], successes: 1 });
      expect(result.code, explain(result)).toBe(0);
      expect(lb.requests).toHaveLength(3);
    });
  });

  it('exits 0 on enough 200s from any server when none is expected', async () => {
    await using(await balancer([]), async (lb) => {
      const result = await runGate({ url: lb.url, successes: 2 });
      expect(result.code, explain(result)).toBe(0);
      expect(result.stdout).toMatch(/answered 2 times in a row$/m);
    });
  });

  it('counts only consecutive successes: an error starts the count again', async () => {
    await using(await balancer(['web-1'], [200, 200, 500, 200, 200, 200]), async (lb) => {
      const result = await runGate({ url: lb.url, servers: ['web-1'], successes: 3, timeoutSeconds: 10 });
      expect(result.code, explain(result)).toBe(0);
      expect(lb.requests).toHaveLength(6);
    });
  });

  it('fails when an expected server never answers, naming it after the timeout', async () => {
    await using(await balancer(['web-1']), async (lb) => {
      // GIVEN only web-1 answers
      // WHEN
      const result = await runGate({ url: lb.url, servers: ['web-1', 'web-2'], successes: 2, timeoutSeconds: 2 });
      // THEN
      expect(result.code, explain(result)).toBe(1);
      expect(result.stderr).toMatch(/^not ready after 2 s: .*; never answered by: web-2$/m);
      expect(result.ms).toBeGreaterThanOrEqual(2000);
      expect(result.ms).toBeLessThan(8000);
    });
  });

  it('fails when the site answers 503, saying so', async () => {
    await using(await balancer(['web-1'], [503]), async (lb) => {
      const result = await runGate({ url: lb.url, servers: ['web-1'], timeoutSeconds: 2 });
      expect(result.code, explain(result)).toBe(1);
      expect(result.stderr).toMatch(/not ready after 2 s: .*: last: HTTP 503; never answered by: web-1/);
      expect(lb.requests.length).toBeGreaterThanOrEqual(2);
    });
  });

  it('fails when nothing listens, with the connection error', async () => {
    const result = await runGate({ url: `http://127.0.0.1:${await freePort()}/`, timeoutSeconds: 2 });
    expect(result.code, explain(result)).toBe(1);
    expect(result.stderr).toMatch(/last: connect ECONNREFUSED/);
  });
});
