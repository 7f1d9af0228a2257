import { TerraformStack, TerraformVariable, Testing } from 'cdktf';
import { Construct } from 'constructs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ResolvedHealthCheck, bashHttpProbe, dockerHealthcheck, goDuration, healthcheckHash, resolveHealthCheck } from '../src/health-check';
import { explain, run } from './support/binaries';
import { TestServer, freePort, startServer } from './support/http';

function scope(): { stack: TerraformStack; node: Construct } {
  const stack = new TerraformStack(Testing.app(), 'test');
  return { stack, node: new Construct(stack, 'db') };
}

const TEST = ['CMD', 'true'];

describe('goDuration', () => {
  // Expected values printed by Go 1.x: fmt.Println((time.Duration(ms) * time.Millisecond).String())
  it.each([
    [0, '0s'],
    [0.001, '1ms'],
    [0.01, '10ms'],
    [0.5, '500ms'],
    [0.999, '999ms'],
    [1, '1s'],
    [1.001, '1.001s'],
    [1.25, '1.25s'],
    [1.5, '1.5s'],
    [10, '10s'],
    [59.999, '59.999s'],
    [60, '1m0s'],
    [61.5, '1m1.5s'],
    [90, '1m30s'],
    [3599.999, '59m59.999s'],
    [3600, '1h0m0s'],
    [3661.001, '1h1m1.001s'],
    [5400, '1h30m0s'],
    [86400, '24h0m0s'],
    [360000, '100h0m0s'],
    [-1, '-1s'],
    [-90, '-1m30s'],
  ])('formats %s seconds as Go does: %s', (seconds, expected) => {
    expect(goDuration(seconds)).toBe(expected);
  });

  it('rounds to whole milliseconds', () => {
    expect(goDuration(0.0004)).toBe('0s');
    expect(goDuration(2.0006)).toBe('2.001s');
  });
});

describe('resolveHealthCheck', () => {
  it('fills every value from the defaults', () => {
    // GIVEN / WHEN
    const check = resolveHealthCheck(scope().node, 'healthCheck', TEST, undefined, { startPeriodSeconds: 30 });
    // THEN
    expect(check).toEqual({ test: TEST, intervalSeconds: 2, timeoutSeconds: 3, retries: 3, startPeriodSeconds: 30 });
  });

  it('keeps given values, including a deliberate 0 start period', () => {
    const options = { intervalSeconds: 0.5, timeoutSeconds: 2, retries: 10, startPeriodSeconds: 0 };
    const check = resolveHealthCheck(scope().node, 'healthCheck', TEST, options, { startPeriodSeconds: 30 });
    expect(check).toEqual({ test: TEST, ...options });
  });

  it.each([
    [{ intervalSeconds: 0 }, /^test\/db: 'hc\.intervalSeconds' must be a number greater than 0 and at most 3600, got 0$/],
    [{ intervalSeconds: 3601 }, /'hc\.intervalSeconds' must be a number greater than 0 and at most 3600, got 3601/],
    [{ intervalSeconds: NaN }, /'hc\.intervalSeconds' .* got NaN/],
    [{ timeoutSeconds: -1 }, /^test\/db: 'hc\.timeoutSeconds' must be a number greater than 0 and at most 3600, got -1$/],
    [{ retries: 0 }, /^test\/db: 'hc\.retries' must be an integer from 1 to 100, got 0$/],
    [{ retries: 2.5 }, /'hc\.retries' must be an integer from 1 to 100, got 2\.5/],
    [{ startPeriodSeconds: -5 }, /^test\/db: 'hc\.startPeriodSeconds' must be an integer from 0 to 3600, got -5$/],
  ])('fails when given %j', (options, message) => {
    expect(() => resolveHealthCheck(scope().node, 'hc', TEST, options, { startPeriodSeconds: 10 })).toThrow(message);
  });

  it('fails when the default start period is out of range too', () => {
    expect(() => resolveHealthCheck(scope().node, 'hc', TEST, {}, { startPeriodSeconds: 4000 })).toThrow(/'hc\.startPeriodSeconds' .* got 4000/);
  });

  it('lets unresolved tokens through', () => {
    // GIVEN values only Terraform knows
    const { stack, node } = scope();
    const n = (name: string) => new TerraformVariable(stack, name, { type: 'number' }).numberValue;
    const options = { intervalSeconds: n('interval'), timeoutSeconds: n('timeout'), retries: n('retries'), startPeriodSeconds: n('start') };
    // WHEN / THEN
    expect(resolveHealthCheck(node, 'hc', TEST, options, { startPeriodSeconds: 10 }).retries).toBe(options.retries);
  });
});

describe('dockerHealthcheck', () => {
  it('writes durations in the canonical Go form the provider reads back', () => {
    const check: ResolvedHealthCheck = { test: TEST, intervalSeconds: 90, timeoutSeconds: 0.5, retries: 4, startPeriodSeconds: 60 };
    expect(dockerHealthcheck(check)).toEqual({ test: TEST, interval: '1m30s', timeout: '500ms', retries: 4, startPeriod: '1m0s' });
  });
});

describe('healthcheckHash', () => {
  const base: ResolvedHealthCheck = { test: ['CMD', 'probe', '/healthz'], intervalSeconds: 5, timeoutSeconds: 3, retries: 3, startPeriodSeconds: 10 };

  it('is a stable 16-digit hex string', () => {
    expect(healthcheckHash(base)).toMatch(/^[0-9a-f]{16}$/);
    expect(healthcheckHash({ ...base, test: [...base.test] })).toBe(healthcheckHash(base));
  });

  it.each<[string, Partial<ResolvedHealthCheck>]>([
    ['test', { test: ['CMD', 'probe', '/ready'] }],
    ['intervalSeconds', { intervalSeconds: 6 }],
    ['timeoutSeconds', { timeoutSeconds: 2 }],
    ['retries', { retries: 4 }],
    ['startPeriodSeconds', { startPeriodSeconds: 11 }],
  ])('changes when %s changes', (_field, change) => {
    expect(healthcheckHash({ ...base, ...change })).not.toBe(healthcheckHash(base));
  });
});

describe('bashHttpProbe', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer((req, res) => {
      res.writeHead(req.url === '/healthz' ? 200 : req.url === '/created' ? 201 : 500, { 'content-type': 'text/plain' });
      res.end('body with 200 in it\n');
    });
  });
  afterAll(() => server.close());

  /** Runs the probe the way Docker would: the command after CMD. */
  async function probe(port: number, path: string) {
    const [cmd, shell, ...args] = bashHttpProbe(port, path);
    expect([cmd, shell]).toEqual(['CMD', 'bash']);
    return run('bash', args, { timeoutMs: 10_000 });
  }

  it('passes when the path answers 200', async () => {
    // GIVEN a server answering 200 on /healthz
    // WHEN
    const result = await probe(server.port, '/healthz');
    // THEN
    expect(result.code, explain(result)).toBe(0);
    const request = server.requests.at(-1)!;
    expect(request).toMatchObject({ method: 'GET', url: '/healthz' });
    expect(request.headers.host).toBe('localhost');
  });

  it('fails when the path answers 500', async () => {
    const result = await probe(server.port, '/broken');
    expect(result.code, explain(result)).not.toBe(0);
    expect(server.requests.at(-1)!.url).toBe('/broken');
  });

  it('fails when the path answers another 2xx status', async () => {
    const result = await probe(server.port, '/created');
    expect(result.code, explain(result)).not.toBe(0);
  });

  it('fails when nothing listens on the port', async () => {
    const result = await probe(await freePort(), '/healthz');
    expect(result.code, explain(result)).not.toBe(0);
  });
});
