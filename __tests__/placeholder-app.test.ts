import { writeFileSync } from 'fs';
import { Agent, get as httpGet } from 'http';
import { join } from 'path';
import { describe, expect, it } from 'vitest';
import { renderPlaceholderApp } from '../src/placeholder-app';
import { Background, explain, start, withTempDir } from './support/binaries';
import { freePort, get, getWhenUp } from './support/http';

/** Runs the rendered application with node on a free loopback port. */
async function withApp(env: Record<string, string>, fn: (app: Background, base: string) => Promise<void>): Promise<void> {
  await withTempDir(async (dir) => {
    const file = join(dir, 'placeholder-app.js');
    writeFileSync(file, renderPlaceholderApp());
    const port = await freePort();
    const app = start(process.execPath, [file], { env: { PATH: process.env.PATH, PORT: String(port), ...env }, timeoutMs: 20_000 });
    try {
      await fn(app, `http://127.0.0.1:${port}`);
    } finally {
      await app.stop();
    }
  });
}

describe('renderPlaceholderApp', () => {
  it('contains no Terraform template syntax', () => {
    expect(renderPlaceholderApp()).not.toMatch(/\$\{|%\{/);
  });

  it('answers the health check with its server name', async () => {
    await withApp({ SERVER_NAME: 'web-3' }, async (app, base) => {
      // GIVEN the app started with SERVER_NAME=web-3
      // WHEN
      const health = await getWhenUp(`${base}/healthz`);
      // THEN
      expect(health.status, JSON.stringify(app.output())).toBe(200);
      expect(health.headers['content-type']).toBe('application/json');
      expect(JSON.parse(health.body)).toEqual({ status: 'ok', server: 'web-3' });
      expect(app.output().stdout).toContain(`placeholder app of web-3 listening on ${new URL(base).port}`);
    });
  });

  it('says which server answered, and which database it was given', async () => {
    const env = { SERVER_NAME: 'web-1', DB_PRIMARY_HOST: 'site-db-primary', DB_READ_HOST: 'site-db-replica-1', DB_NAME: 'shop' };
    await withApp(env, async (_app, base) => {
      // GIVEN / WHEN
      await getWhenUp(`${base}/healthz`);
      const answer = await get(`${base}/products?page=2`);
      // THEN
      expect(answer.status).toBe(200);
      expect(answer.headers['x-served-by']).toBe('web-1');
      expect(JSON.parse(answer.body)).toEqual({
        server: 'web-1',
        hostname: expect.any(String),
        path: '/products?page=2',
        database: { primaryHost: 'site-db-primary', readHost: 'site-db-replica-1', name: 'shop' },
      });
    });
  });

  it('reports no database when none was given', async () => {
    await withApp({ SERVER_NAME: 'web-2' }, async (_app, base) => {
      await getWhenUp(`${base}/healthz`);
      const body = JSON.parse((await get(`${base}/`)).body);
      expect(body.database).toEqual({ primaryHost: null, readHost: null, name: null });
    });
  });

  it('exits 0 within 6 s of SIGTERM, even with a keep-alive connection open', async () => {
    await withApp({ SERVER_NAME: 'web-1' }, async (app, base) => {
      // GIVEN a client that keeps its connection open
      await getWhenUp(`${base}/healthz`);
      const agent = new Agent({ keepAlive: true });
      try {
        await new Promise<void>((resolve, reject) =>
          httpGet(`${base}/`, { agent }, (res) => res.resume().on('end', resolve)).on('error', reject),
        );
        // WHEN
        const sent = Date.now();
        app.child.kill('SIGTERM');
        const result = await app.exited;
        // THEN
        expect(result.code, explain(result)).toBe(0);
        expect(result.timedOut).toBe(false);
        expect(Date.now() - sent).toBeLessThan(6000);
      } finally {
        agent.destroy();
      }
    });
  });
});
