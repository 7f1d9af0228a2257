/**
 * The application's default Docker probe, run for real with `sh` against a local HTTP
 * server, once per branch: the probe picks the first of curl, wget, bash and node that the
 * image has, so each branch is run with a PATH that holds only what that branch needs.
 */
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import { AddressInfo } from 'net';
import * as os from 'os';
import * as path from 'path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpGetProbe } from '../src/web-server';

let server: http.Server;
let port: number;
const requests: string[] = [];
const tempDirs: string[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url} HTTP/${req.httpVersion}`);
    res.statusCode = req.url === '/healthz' ? 200 : 503;
    res.end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** A folder of links to `tools` only, to use as the probe's PATH. */
function pathWith(tools: string[]): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dwi-probe-'));
  tempDirs.push(dir);
  for (const tool of tools) {
    const found = ['/usr/bin', '/bin', '/usr/local/bin', path.dirname(process.execPath)]
      .map((d) => path.join(d, tool))
      .find((p) => fs.existsSync(p));
    if (!found) throw new Error(`${tool} is not installed on this machine`);
    fs.symlinkSync(found, path.join(dir, tool));
  }
  return dir;
}

/** Runs the probe as Docker's CMD-SHELL does: `/bin/sh -c <command>`. */
function probe(probePath: string, tools: string[]): Promise<number> {
  const [form, command] = httpGetProbe(port, probePath);
  expect(form).toBe('CMD-SHELL');
  return new Promise((resolve) => {
    execFile('/bin/sh', ['-c', command], { env: { PATH: pathWith(tools) }, timeout: 10_000 }, (error) =>
      resolve(error ? Number((error as NodeJS.ErrnoException & { code?: number }).code ?? 1) : 0),
    );
  });
}

describe("the application's default probe", () => {
  const branches: [string, string[]][] = [
    ['bash /dev/tcp, when there is no curl or wget', ['bash', 'head', 'grep']],
    ['node, when there is not even bash', ['node']],
  ];

  it.each(branches)('passes on 200 and fails otherwise with %s', async (_name, tools) => {
    requests.length = 0;
    expect(await probe('/healthz', tools)).toBe(0);
    expect(await probe('/not-ready', tools)).not.toBe(0);
    expect(requests.map((r) => r.split(' ').slice(0, 2).join(' '))).toEqual(['GET /healthz', 'GET /not-ready']);
  });

  it('fails when nothing listens', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const freePort = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const [, command] = httpGetProbe(freePort, '/healthz');
    const code = await new Promise<number>((resolve) =>
      execFile('/bin/sh', ['-c', command], { env: { PATH: pathWith(['bash', 'head', 'grep']) } }, (error) => resolve(error ? 1 : 0)),
    );
    expect(code).toBe(1);
  });
});
