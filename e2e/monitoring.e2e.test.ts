/**
 * End to end: the Monitoring construct deployed with `cdktf deploy` beside a full site
 * (e2e/monitoring-app.ts), then checked through Prometheus' own HTTP API on loopback:
 * every target scraped, replication seen, the stats page behind its password, and a
 * stopped web server turning into a firing `BackendServerDown` within its `for` window.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploy, plan, tryDestroy, Variant } from './cdktf';
import { removeLeftovers } from './cleanup';
import { E2E } from './config';
import { MONITORING_E2E as M } from './monitoring-app';
import { containersOf, docker, inspect, record, request, run, sleep, waitHealthy } from './support';

const variant: Variant = {
  name: M.variant,
  app: 'e2e/monitoring-app.ts',
  env: Object.fromEntries(Object.entries(M.passwords).map(([k, v]) => [`TF_VAR_${k}`, v])),
};
const n = M.name;
const prometheus = `http://127.0.0.1:${M.ports.prometheus}`;
const site = `http://127.0.0.1:${M.ports.site}`;
/** HAProxy's fall window with the default check (inter 2 s, fall 3). */
const FALL_MS = 2000 * 3;
const SCRAPE_MS = M.scrapeIntervalSeconds * 1000;

/** Calls `fn` until it stops throwing, for at most `timeoutMs`; rethrows the last failure. */
async function eventually<T>(fn: () => Promise<T>, timeoutMs: number, everyMs = 1000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(everyMs);
    }
  }
}

/** GET a Prometheus API path; the `data` of a successful answer. */
async function api(path: string): Promise<any> {
  const answer = await request(`${prometheus}${path}`, { timeoutMs: 10_000 });
  if (answer.status !== 200) throw new Error(`GET ${path}: HTTP ${answer.status} ${answer.body.slice(0, 500)}`);
  const body = JSON.parse(answer.body);
  if (body.status !== 'success') throw new Error(`GET ${path}: ${answer.body.slice(0, 500)}`);
  return body.data;
}

/** An instant query: each series' labels and value. */
async function query(promql: string): Promise<{ labels: Record<string, string>; value: number }[]> {
  const data = await api(`/api/v1/query?query=${encodeURIComponent(promql)}`);
  return data.result.map((r: any) => ({ labels: r.metric, value: Number(r.value[1]) }));
}

/** Alerts in a state (`pending` or `firing`) named `name`. */
async function alerts(name: string, state: string): Promise<any[]> {
  return (await api('/api/v1/alerts')).alerts.filter((a: any) => a.labels.alertname === name && a.state === state);
}

/** The status code HAProxy's stats page answers, asked from inside the Prometheus container (the port is never published). */
async function statsStatus(user?: string, password?: string): Promise<{ status: number; output: string }> {
  // With credentials, send them with the first request (`--auth-no-challenge`): one request,
  // one status, rather than GNU wget's anonymous try followed by a retry on the challenge.
  const auth = user ? ['--auth-no-challenge', '--user', user, '--password', password ?? ''] : [];
  const out = await run('docker', ['exec', `${n}-prometheus`, 'wget', '-S', '-O', '/dev/null', '-T', '5', '-t', '1', ...auth, `http://${n}-lb:8404/stats`], {
    timeoutMs: 30_000,
  });
  const statuses = [...out.stderr.matchAll(/HTTP\/\d(?:\.\d)? (\d{3})/g)].map((m) => Number(m[1]));
  if (statuses.length !== 1) throw new Error(`expected one HTTP status from wget (exit ${out.code}), got: ${out.stderr}`);
  return { status: statuses[0], output: out.stderr };
}

beforeAll(async () => {
  await removeLeftovers(n);
  const result = await deploy(variant);
  record('monitoring_deploy_seconds', result.seconds);
}, 1_200_000);

afterAll(async () => {
  await tryDestroy(variant);
  await removeLeftovers(n);
}, 900_000);

describe('monitoring: deploy', () => {
  it('creates Prometheus, one Nginx exporter per web server and one mysqld exporter per database node; only Prometheus and the load balancer publish, on loopback', async () => {
    const names = await containersOf(n);
    const exporters = names.filter((c) => c.endsWith('-exporter'));
    expect(exporters).toEqual(
      [`${n}-db-primary-exporter`, `${n}-db-replica-1-exporter`, `${n}-web-1-nginx-exporter`, `${n}-web-2-nginx-exporter`, `${n}-web-3-nginx-exporter`].sort(),
    );
    expect(names).toContain(`${n}-prometheus`);
    for (const name of names) {
      const info = await inspect(name);
      expect(info.State.Running, name).toBe(true);
      if (info.State.Health) expect(info.State.Health.Status, name).toBe('healthy');
      const bindings = Object.values(info.HostConfig.PortBindings ?? {}).flat() as { HostIp: string; HostPort: string }[];
      if (name === `${n}-prometheus`) expect(bindings).toEqual([{ HostIp: '127.0.0.1', HostPort: String(M.ports.prometheus) }]);
      else if (name !== `${n}-lb`) expect(bindings, name).toEqual([]);
    }
    expect((await request(`${prometheus}/-/ready`)).status).toBe(200);
    expect((await request(`${site}/healthz`)).status).toBe(200);
  });
});

describe('monitoring: scraping', () => {
  it('scrapes every target: Prometheus, HAProxy, 3 Nginx exporters, 2 mysqld exporters', async () => {
    const started = Date.now();
    const targets = await eventually(async () => {
      const active = (await api('/api/v1/targets?state=active')).activeTargets as any[];
      const summary = active.map((t) => `${t.labels.job} ${t.labels.instance} ${t.health} ${t.lastError ?? ''}`);
      expect(active.length, summary.join('\n')).toBe(7);
      expect(active.filter((t) => t.health !== 'up'), summary.join('\n')).toEqual([]);
      return active;
    }, 60_000);
    record('monitoring_all_targets_up_seconds', (Date.now() - started) / 1000);
    const jobs = targets.map((t) => t.labels.job).sort();
    expect(jobs).toEqual(['haproxy', 'mysqld', 'mysqld', 'nginx', 'nginx', 'nginx', 'prometheus']);
  });

  it("reads HAProxy's servers, Nginx's connection counters and both databases", async () => {
    await eventually(async () => {
      const up = await query('haproxy_server_status{state="UP"} == 1');
      expect(up.map((s) => s.labels.server).sort()).toEqual(['web-1', 'web-2', 'web-3']);
      const nginx = await query('nginx_up');
      expect(nginx.map((s) => [s.labels.web_server, s.value]).sort()).toEqual([['web-1', 1], ['web-2', 1], ['web-3', 1]]);
      expect((await query('nginx_connections_accepted')).length).toBe(3);
      const mysql = await query('mysql_up');
      expect(mysql.map((s) => [s.labels.node, s.labels.role, s.value]).sort()).toEqual([
        [`${n}-db-primary`, 'primary', 1],
        [`${n}-db-replica-1`, 'replica', 1],
      ]);
    }, 30_000);
  });

  it('sees both replication threads of the replica running, with no lag', async () => {
    await eventually(async () => {
      const replica = { node: `${n}-db-replica-1` };
      const io = await query('mysql_slave_status_slave_io_running');
      const sqlThread = await query('mysql_slave_status_slave_sql_running');
      const lag = await query('mysql_slave_status_seconds_behind_master');
      record('monitoring_replication_series', { io, sqlThread, lag });
      for (const series of [io, sqlThread]) {
        expect(series.map((s) => ({ node: s.labels.node, value: s.value }))).toEqual([{ ...replica, value: 1 }]);
        expect(series[0].labels.master_host).toBe(`${n}-db-primary`);
      }
      expect(lag.map((s) => ({ node: s.labels.node, value: s.value }))).toEqual([{ ...replica, value: 0 }]);
    }, 30_000);
    // The primary replicates from nobody: no replication status there, and no alert either.
    expect(await query(`mysql_slave_status_slave_io_running{node="${n}-db-primary"}`)).toEqual([]);
    expect((await api('/api/v1/alerts')).alerts).toEqual([]);
  });

  it('loads the four alert rules, and their expressions find the real series', async () => {
    const groups = (await api('/api/v1/rules')).groups as any[];
    const rules = groups.flatMap((g) => g.rules) as any[];
    expect(rules.map((r) => [r.name, r.duration, r.health, r.lastError ?? ''])).toEqual([
      ['BackendServerDown', 15, 'ok', ''],
      ['ReplicaNotReplicating', 20, 'ok', ''],
      ['ReplicaLagging', 20, 'ok', ''],
      ['High5xxRate', 60, 'ok', ''],
    ]);
    // Each rule's own expression with its threshold opened up must select the live series
    // it is about: proof that the names and labels it uses are the ones really exported.
    const rule = (name: string) => rules.find((r) => r.name === name).query as string;
    expect(rule('BackendServerDown')).toContain('== 1');
    const servers = await query(rule('BackendServerDown').replace('state=~"DOWN|MAINT"', 'state="UP"'));
    expect(servers.map((s) => s.labels.server).sort()).toEqual(['web-1', 'web-2', 'web-3']);
    const replicas = await query(rule('ReplicaNotReplicating').replace(/== 0/g, '>= 0'));
    expect(new Set(replicas.map((s) => `${s.labels.node} ${s.value}`))).toEqual(new Set([`${n}-db-replica-1 1`]));
    expect(replicas.map((s) => s.labels.master_host)).toContain(`${n}-db-primary`);
    const lag = await query(rule('ReplicaLagging').replace(/> [\d.]+$/, '>= 0'));
    expect(lag.map((s) => [s.labels.node, s.value])).toEqual([[`${n}-db-replica-1`, 0]]);
    // Some traffic, a 404 among it, then the 5xx share of backend "web" is a number: 0.
    for (let i = 0; i < 6; i++) await request(`${site}/${i % 3 ? 'api/whoami' : 'no-such-page'}`);
    await eventually(async () => {
      const share = await query(rule('High5xxRate').replace(/ > [\d.]+$/, ''));
      expect(share.filter((s) => s.labels.proxy === 'web').map((s) => s.value)).toEqual([0]);
    }, SCRAPE_MS * 3 + 10_000);
  });

  it('plans no change to the monitoring containers after the deploy', async () => {
    const result = await plan(variant);
    const changed = [...result.stdout.matchAll(/# (\S+) (?:will be|must be)/g)].map((m) => m[1]);
    record('monitoring_second_plan', { exitCode: result.code, changed });
    expect([0, 2], result.stderr).toContain(result.code);
    expect(changed.filter((address) => address.includes('monitoring'))).toEqual([]);
  });
});

describe("monitoring: HAProxy's stats page", () => {
  it('answers 401 without the password and 200 with it', async () => {
    for (const [credentials, expected] of [
      [[], 401],
      [['admin', 'wrong'], 401],
      [['admin', M.passwords.stats_password], 200],
    ] as const) {
      const { status, output } = await statsStatus(...credentials);
      expect(status, `${credentials.join(':') || 'anonymous'}: ${output}`).toBe(expected);
    }
  });
});

describe('monitoring: a web server stops', () => {
  it('shows it down in Prometheus and fires BackendServerDown within its `for` window, and clears when it is back', async () => {
    const forMs = M.alerts.backendDownForSeconds * 1000;
    // HAProxy's fall window, one scrape to see it, the `for` window, one evaluation to fire,
    // and slack for a busy machine.
    const boundMs = FALL_MS + SCRAPE_MS + forMs + SCRAPE_MS + 15_000;
    expect(await alerts('BackendServerDown', 'firing')).toEqual([]);
    const stoppedAt = Date.now();
    await docker('stop', '-t', '2', `${n}-web-2`, `${n}-web-2-app`);
    try {
      await eventually(async () => {
        const down = await query('haproxy_server_status{state=~"DOWN|MAINT"} == 1');
        expect(down.map((s) => s.labels.server)).toEqual(['web-2']);
      }, FALL_MS + SCRAPE_MS + 15_000, 500);
      const seenDownMs = Date.now() - stoppedAt;
      const states = (await query('haproxy_server_status{server="web-2"} == 1')).map((s) => s.labels.state);

      // Pending first, for `for`: never firing before the window has passed since Prometheus saw it down.
      const pending = await eventually(async () => {
        const found = [...(await alerts('BackendServerDown', 'pending')), ...(await alerts('BackendServerDown', 'firing'))];
        expect(found.length).toBe(1);
        return found[0];
      }, SCRAPE_MS * 2 + 10_000, 500);
      const firing = await eventually(async () => {
        const found = await alerts('BackendServerDown', 'firing');
        expect(found.map((a) => a.labels.server)).toEqual(['web-2']);
        return found[0];
      }, boundMs, 500);
      const firedMs = Date.now() - stoppedAt;
      const activeSinceToFiringMs = Date.now() - Date.parse(firing.activeAt);
      record('monitoring_backend_down', { seenDownMs, statesWhileDown: states, firedMs, boundMs, activeAt: firing.activeAt, pendingState: pending.state });
      expect(firing.labels).toMatchObject({ alertname: 'BackendServerDown', server: 'web-2', proxy: 'web', job: 'haproxy', severity: 'warning' });
      expect(firing.annotations.summary).toMatch(/^HAProxy server web-2 of backend web is (DOWN|MAINT)$/);
      // It became active when first seen down, and fired only once `for` had passed.
      expect(activeSinceToFiringMs).toBeGreaterThanOrEqual(forMs);
      expect(firedMs).toBeLessThanOrEqual(boundMs);
      // The other servers are untouched.
      expect((await query('haproxy_server_status{state="UP"} == 1')).map((s) => s.labels.server).sort()).toEqual(['web-1', 'web-3']);
      // Nginx's exporter keeps running and reports its Nginx gone.
      expect((await query('nginx_up{web_server="web-2"}')).map((s) => s.value)).toEqual([0]);
    } finally {
      await docker('start', `${n}-web-2-app`);
      await waitHealthy(`${n}-web-2-app`);
      await docker('start', `${n}-web-2`);
      await waitHealthy(`${n}-web-2`);
    }
    const restartedAt = Date.now();
    await eventually(async () => {
      expect(await alerts('BackendServerDown', 'firing')).toEqual([]);
      expect(await alerts('BackendServerDown', 'pending')).toEqual([]);
      expect((await query('haproxy_server_status{state="UP"} == 1')).map((s) => s.labels.server).sort()).toEqual(['web-1', 'web-2', 'web-3']);
    }, 60_000, 1000);
    record('monitoring_backend_back_seconds', (Date.now() - restartedAt) / 1000);
  });
});

describe('monitoring: the replica stops replicating', () => {
  it('fires ReplicaNotReplicating while the replication threads are stopped, and clears once they run again', async () => {
    const replica = `${n}-db-replica-1`;
    const rootSql = (statement: string) =>
      docker('exec', '-e', `MYSQL_PWD=${E2E.passwords.db_root_password}`, replica, 'mariadb', '--protocol=tcp', '-h', '127.0.0.1', '-uroot', '-e', statement);
    const forMs = M.alerts.replicaAlertForSeconds * 1000;
    await rootSql('STOP SLAVE');
    const stoppedAt = Date.now();
    try {
      const firing = await eventually(async () => {
        const found = await alerts('ReplicaNotReplicating', 'firing');
        expect(found.map((a) => a.labels.node)).toEqual([replica]);
        return found[0];
      }, SCRAPE_MS + forMs + SCRAPE_MS + 20_000, 1000);
      record('monitoring_replica_not_replicating_seconds', (Date.now() - stoppedAt) / 1000);
      expect(firing.labels.severity).toBe('critical');
      expect(Date.now() - Date.parse(firing.activeAt)).toBeGreaterThanOrEqual(forMs);
    } finally {
      await rootSql('START SLAVE');
    }
    await eventually(async () => expect(await alerts('ReplicaNotReplicating', 'firing')).toEqual([]), 60_000, 1000);
    await waitHealthy(replica, 120_000);
  });
});
