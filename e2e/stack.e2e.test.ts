/**
 * End to end: `cdktf deploy` of the example app against the local Docker engine, then
 * the promises of the design checked for real. Steps run in order on one deployment.
 */
import * as path from 'path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploy, destroy, plan, synthesized, tryDestroy, Variant } from './cdktf';
import { E2E } from './config';
import {
  containersOf,
  docker,
  inspect,
  must,
  record,
  replicaStatus,
  request,
  run,
  sequence,
  servedBy,
  sleep,
  sql,
  stream,
  trySql,
  waitHealthy,
} from './support';
import { removeLeftovers } from './cleanup';

const local: Variant = { name: 'local' };
const revised: Variant = { name: 'local', env: { DWI_E2E_APP_REVISION: '2' } };
const n = E2E.name;
const site = `http://127.0.0.1:${E2E.ports.roundRobin}`;
const WEB = ['web-1', 'web-2', 'web-3'];
/** HAProxy's fall window with the default check (inter 2 s, fall 3) plus one interval of slack. */
const FALL_WINDOW_MS = 2000 * 3 + 2000;

beforeAll(async () => {
  await removeLeftovers(n);
  const result = await deploy(local);
  record('deploy_seconds', result.seconds);
}, 1_200_000);

afterAll(async () => {
  await tryDestroy(revised);
  await removeLeftovers(n);
}, 900_000);

describe('1. cdktf deploy', () => {
  it('returns only once the site serves: every container healthy, every server answering through HAProxy', async () => {
    const names = await containersOf(n);
    expect(names).toEqual(
      [
        `${n}-db-primary`, `${n}-db-read`, `${n}-db-replica-1`, `${n}-lb`,
        ...['denied', 'guarded', 'leastconn', 'passive', 'source', 'tls'].map((v) => `${n}-lb-${v}`),
        ...WEB.flatMap((w) => [`${n}-${w}`, `${n}-${w}-app`]),
      ].sort(),
    );
    for (const name of names) expect((await inspect(name)).State.Health.Status, name).toBe('healthy');
    // No warm-up: the first requests after deploy already succeed.
    const answers = await sequence(`${site}/api/whoami`, 6);
    expect(answers.every((a) => WEB.includes(a)), answers.join(',')).toBe(true);
  });
});

describe('2. load balancing through HAProxy', () => {
  it('round robin: consecutive requests are answered by every server in turn', async () => {
    const answers = await sequence(`${site}/api/whoami`, 9);
    record('round_robin_sequence', answers);
    expect(new Set(answers.slice(0, 3))).toEqual(new Set(WEB));
    for (let i = 3; i < answers.length; i++) expect(answers[i]).toBe(answers[i % 3]);
  });

  it('a static file comes from Nginx, not the application', async () => {
    const a = await request(`${site}/static/index.html`);
    expect(a.status).toBe(200);
    expect(a.body).toContain('cdktf-distributed-web demo');
    expect(WEB).toContain(servedBy(a));
    expect(a.headers['x-served-by']).toBeUndefined(); // the application's header
    const api = await request(`${site}/api/whoami`);
    expect(api.headers['x-served-by']).toBe(servedBy(api));
  });

  it('least connections: while two servers are busy, new requests go to the idle one', async () => {
    const lb = `http://127.0.0.1:${E2E.ports.leastConnections}`;
    const slow = [request(`${lb}/api/slow?ms=4000`, { timeoutMs: 8000 }), request(`${lb}/api/slow?ms=4000`, { timeoutMs: 8000 })];
    await sleep(500);
    // A short pause between requests: a client can send its next request before HAProxy has
    // released the previous connection's slot, which would make the idle server look busy.
    const during: string[] = [];
    for (let i = 0; i < 6; i++) {
      during.push(...(await sequence(`${lb}/api/whoami`, 1)));
      await sleep(100);
    }
    const busy = (await Promise.all(slow)).map(servedBy);
    record('least_connections', { busy, during });
    expect(new Set(busy).size).toBe(2);
    const idle = WEB.find((w) => !busy.includes(w));
    expect(during).toEqual(Array(6).fill(idle));
  });

  it('source hashing: one client keeps one server', async () => {
    const answers = await sequence(`http://127.0.0.1:${E2E.ports.source}/api/whoami`, 9);
    expect(new Set(answers).size, answers.join(',')).toBe(1);
    expect(WEB).toContain(answers[0]);
  });

  it('active-passive: the backup gets nothing while an active server is up, and everything when none is', async () => {
    const lb = `http://127.0.0.1:${E2E.ports.activePassive}/api/whoami`;
    const before = await sequence(lb, 8);
    expect(new Set(before)).toEqual(new Set(['web-1', 'web-2']));
    await docker('stop', '-t', '2', `${n}-web-1`, `${n}-web-2`);
    try {
      await sleep(FALL_WINDOW_MS);
      const after = await sequence(lb, 8);
      record('active_passive', { before, afterActiveServersStopped: after });
      expect(after).toEqual(Array(8).fill('web-3'));
    } finally {
      await docker('start', `${n}-web-1`, `${n}-web-2`);
      await Promise.all([waitHealthy(`${n}-web-1`), waitHealthy(`${n}-web-2`)]);
    }
    await eventually(async () => expect(new Set(await sequence(`${site}/api/whoami`, 6))).toEqual(new Set(WEB)), 30_000);
  });
});

describe('3. replication', () => {
  const replica = `${n}-db-replica-1`;

  it('a write through the application to the primary reads back from the replica within 2 s', async () => {
    const created = await request(`${site}/api/notes`, { method: 'POST', body: { text: 'hello from e2e' } });
    expect(created.status, created.body).toBe(201);
    const { id } = JSON.parse(created.body);
    const started = Date.now();
    let read = await request(`${site}/api/notes/${id}`);
    while (read.status !== 200 && Date.now() - started < 2000) {
      await sleep(50);
      read = await request(`${site}/api/notes/${id}`);
    }
    record('write_to_replica_read_ms', Date.now() - started);
    expect(read.status, read.body).toBe(200);
    // Reads go through the read balancer, which sends them to the replica.
    expect(JSON.parse(read.body)).toMatchObject({ text: 'hello from e2e', readFrom: `${n}-db-read` });
    const db = JSON.parse((await request(`${site}/api/db`)).body);
    expect(db.read).toMatchObject({ hostname: replica, read_only: true });
  });

  it('a direct write to the replica is refused', async () => {
    const result = await trySql(replica, "INSERT INTO notes (text, server) VALUES ('direct', 'e2e')", 'app', E2E.passwords.db_password, 'app');
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/read-only|--read-only|1290/);
  });

  it('both replication threads run, with GTID', async () => {
    const status = await replicaStatus(replica);
    expect(status).toMatchObject({ Slave_IO_Running: 'Yes', Slave_SQL_Running: 'Yes', Using_Gtid: 'Slave_Pos', Master_Host: `${n}-db-primary` });
  });
});

describe('4. segmentation', () => {
  it('publishes no database port on the host; only the load balancers publish, on loopback', async () => {
    for (const name of await containersOf(n)) {
      const bindings = Object.values((await inspect(name)).HostConfig.PortBindings ?? {}).flat() as { HostIp: string }[];
      if (name.includes('-lb')) expect(new Set(bindings.map((b) => b.HostIp))).toEqual(new Set(['127.0.0.1']));
      else expect(bindings, name).toEqual([]);
    }
    expect(await docker('port', `${n}-db-primary`)).toBe('');
  });

  it('keeps the back network internal: the load balancer cannot reach the database, nor an application the load balancer', async () => {
    const back = JSON.parse(await docker('network', 'inspect', `${n}-back`))[0];
    expect(back.Internal).toBe(true);
    const front = JSON.parse(await docker('network', 'inspect', `${n}-front`))[0];
    expect(Object.values(front.Containers).map((c: any) => c.Name)).not.toContain(`${n}-db-primary`);
    // From the load balancer (front network only), the database neither resolves nor answers.
    const probe = await run('docker', ['exec', `${n}-lb`, 'bash', '-c', `exec 3<>/dev/tcp/${n}-db-primary/3306`], { timeoutMs: 20_000 });
    expect(probe.code).not.toBe(0);
    // From an application container (back network only), the load balancer's front address
    // does not answer: an internal network forwards nowhere. (Only our own containers are probed.)
    const lbIp = (await inspect(`${n}-lb`)).NetworkSettings.Networks[`${n}-front`].IPAddress;
    const out = await run('docker', ['exec', `${n}-web-1-app`, 'timeout', '3', 'bash', '-c', `exec 3<>/dev/tcp/${lbIp}/8080`], { timeoutMs: 20_000 });
    expect(out.code).not.toBe(0);
    // ...while the same probe from Nginx, which is on the front network, connects: the probe can pass.
    const control = await run('docker', ['exec', `${n}-web-1`, 'timeout', '3', 'bash', '-c', `exec 3<>/dev/tcp/${lbIp}/8080`], { timeoutMs: 20_000 });
    expect(control.code).toBe(0);
  });
});

describe('4b. HTTPS at the load balancer', () => {
  const https = `127.0.0.1:${E2E.ports.tlsHttps}`;
  const ca = path.join(process.env.DWI_CACHE ?? '/var/cache/cdktf-distributed-web', 'docker-tls', 'server', 'ca.pem');
  const handshake = (version: string) =>
    // SECLEVEL=0 lets this client offer old protocols, so a refusal is the server's.
    run('openssl', ['s_client', '-connect', https, `-${version}`, '-CAfile', ca, '-verify_return_error', '-cipher', 'DEFAULT:@SECLEVEL=0', '-servername', 'localhost'], { timeoutMs: 15_000 });

  it('accepts TLS 1.2 and 1.3 with a verified certificate, and refuses TLS 1.1', async () => {
    for (const version of ['tls1_2', 'tls1_3']) {
      const ok = await handshake(version);
      expect(ok.stdout, version).toMatch(/Verify return code: 0 \(ok\)/);
      expect(ok.stdout, version).toMatch(version === 'tls1_3' ? /TLSv1\.3/ : /TLSv1\.2/);
    }
    const old = await handshake('tls1_1');
    expect(old.code).not.toBe(0);
    expect(old.stdout + old.stderr).toMatch(/protocol version|no protocols available|unsupported protocol/i);
    record('tls_handshakes', { tls1_2: 'accepted', tls1_3: 'accepted', tls1_1: 'refused' });
  });

  it('redirects plain HTTP to HTTPS, sends HSTS, and tells the application the request was HTTPS', async () => {
    const plain = await request(`http://127.0.0.1:${E2E.ports.tlsHttp}/api/whoami`);
    expect(plain.status).toBe(301);
    expect(plain.headers.location).toBe(`https://127.0.0.1:${E2E.ports.tlsHttp}/api/whoami`);
    const out = await must('curl', ['-sS', '--cacert', ca, '-D', '-', `https://${https}/api/whoami`], { timeoutMs: 15_000 });
    expect(out).toMatch(/^HTTP\/\S+ 200/);
    expect(out).toMatch(/strict-transport-security: max-age=15552000/i);
    expect(JSON.parse(out.slice(out.indexOf('{')))).toMatchObject({ forwardedProto: 'https' });
    // Without TLS the application hears "http".
    expect(JSON.parse((await request(`${site}/api/whoami`)).body).forwardedProto).toBe('http');
  });
});

describe('4c. the firewall', () => {
  it('answers 403 to a client outside the allowlist, and serves one inside it', async () => {
    expect((await request(`http://127.0.0.1:${E2E.ports.denied}/api/whoami`)).status).toBe(403);
    expect((await request(`http://127.0.0.1:${E2E.ports.guarded}/api/whoami`)).status).toBe(200);
  });

  it('answers 413 to a body over the limit', async () => {
    const big = await request(`http://127.0.0.1:${E2E.ports.guarded}/api/notes`, { method: 'POST', body: { text: 'x'.repeat(2 * 1024 * 1024) } });
    expect(big.status).toBe(413);
  });

  it('answers 429 to a client over the rate, and serves it again once the window has passed', async () => {
    await sleep(10_500); // a fresh window
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) statuses.push((await request(`http://127.0.0.1:${E2E.ports.guarded}/api/whoami`)).status);
    record('rate_limit_statuses', statuses.join(','));
    expect(statuses.slice(0, 20)).toEqual(Array(20).fill(200));
    expect(statuses.slice(21)).toEqual(Array(9).fill(429));
    await eventually(async () => expect((await request(`http://127.0.0.1:${E2E.ports.guarded}/api/whoami`)).status).toBe(200), 30_000);
  });

  it('runs the containers with dropped capabilities and no-new-privileges', async () => {
    for (const [name, adds] of [[`${n}-lb`, null], [`${n}-web-1`, ['CAP_CHOWN', 'CAP_NET_BIND_SERVICE', 'CAP_SETGID', 'CAP_SETUID']], [`${n}-web-1-app`, null], [`${n}-db-read`, null]] as const) {
      const host = (await inspect(name)).HostConfig;
      expect(host.CapDrop, name).toEqual(['ALL']);
      if (adds) expect([...host.CapAdd].sort(), name).toEqual([...adds].sort());
      expect(host.SecurityOpt, name).toContain('no-new-privileges:true');
    }
    expect((await inspect(`${n}-db-primary`)).HostConfig.SecurityOpt).toContain('no-new-privileges:true');
  });

  it('lets each Nginx reuse its TIME_WAIT ports toward the app, and only Nginx', async () => {
    const twReuse = async (name: string) => (await docker('exec', name, 'cat', '/proc/sys/net/ipv4/tcp_tw_reuse')).trim();
    expect(await twReuse(`${n}-web-1`)).toBe('1');
    expect(await twReuse(`${n}-web-1-app`)).not.toBe('1');
  });
});

describe('4d. read availability', () => {
  it('keeps reads working through the read balancer while the replica is down', async () => {
    const replica = `${n}-db-replica-1`;
    expect((await request(`${site}/api/notes?count`)).status).toBe(200);
    await docker('stop', '-t', '10', replica);
    try {
      const started = Date.now();
      await eventually(async () => {
        const answers = await Promise.all([1, 2, 3].map(() => request(`${site}/api/notes?count`)));
        expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
      }, 30_000);
      const db = JSON.parse((await request(`${site}/api/db`)).body);
      record('reads_without_replica', { secondsUntilReadsServed: (Date.now() - started) / 1000, readServedBy: db.read?.hostname });
      expect(db.read.hostname).toBe(`${n}-db-primary`);
    } finally {
      await docker('start', replica);
      await waitHealthy(replica, 120_000);
    }
    await eventually(async () => expect(JSON.parse((await request(`${site}/api/db`)).body).read.hostname).toBe(replica), 60_000);
  });
});

describe('5. a web server fails under load', () => {
  it('leaves the pool within the fall window with no failed request, and rejoins when started again', async () => {
    const load = stream(`${site}/api/whoami`, 30_000, 50);
    await sleep(4000);
    const stoppedAt = Date.now() - load.started;
    await docker('stop', '-t', '2', `${n}-web-2`, `${n}-web-2-app`);
    await sleep(12_000);
    const restartedAt = Date.now() - load.started;
    await docker('start', `${n}-web-2-app`);
    await waitHealthy(`${n}-web-2-app`);
    await docker('start', `${n}-web-2`);
    const samples = await load.done;

    const failed = (from: number, to: number) => samples.filter((s) => s.t >= from && s.t < to && s.status !== 200).length;
    const figures = {
      requests: samples.length,
      failedDuringFallWindow: failed(stoppedAt, stoppedAt + FALL_WINDOW_MS),
      failedAfterFallWindow: failed(stoppedAt + FALL_WINDOW_MS, Infinity),
      failedBeforeStop: failed(0, stoppedAt),
      web2AnswersAfterFallWindow: samples.filter((s) => s.t > stoppedAt + FALL_WINDOW_MS && s.t < restartedAt && s.server === 'web-2').length,
    };
    record('fault_web_server_stop', figures);
    expect(figures.failedBeforeStop).toBe(0);
    expect(figures.failedAfterFallWindow).toBe(0);
    expect(figures.web2AnswersAfterFallWindow).toBe(0);
    // Rejoins: after its health checks rise again, it answers its share.
    await waitHealthy(`${n}-web-2`);
    await eventually(async () => expect(await sequence(`${site}/api/whoami`, 6)).toContain('web-2'), 30_000);
  });
});

describe('6. an application container is replaced', () => {
  it('Nginx and HAProxy keep routing to the new container without a restart of their own', async () => {
    const before = {
      app: await inspect(`${n}-web-1-app`),
      nginx: await inspect(`${n}-web-1`),
      lb: await inspect(`${n}-lb`),
    };
    const load = stream(`${site}/api/whoami`, 600_000, 100);
    try {
      await deploy(revised);
    } finally {
      load.stop();
    }
    const samples = await load.done;
    const after = {
      app: await inspect(`${n}-web-1-app`),
      nginx: await inspect(`${n}-web-1`),
      lb: await inspect(`${n}-lb`),
    };
    expect(after.app.Id).not.toBe(before.app.Id);
    expect(after.app.Config.Env).toContain('APP_REVISION=2');
    expect(after.nginx.Id).toBe(before.nginx.Id);
    expect(after.nginx.State.StartedAt).toBe(before.nginx.State.StartedAt);
    expect(after.lb.Id).toBe(before.lb.Id);
    expect(after.lb.State.StartedAt).toBe(before.lb.State.StartedAt);
    const ip = (c: any) => c.NetworkSettings.Networks[`${n}-back`].IPAddress;
    record('app_replacement', {
      requests: samples.length,
      failed: samples.filter((s) => s.status !== 200).length,
      oldIp: ip(before.app),
      newIp: ip(after.app),
    });
    expect(samples.filter((s) => s.status !== 200)).toEqual([]);
    await eventually(async () => expect(await sequence(`${site}/api/whoami`, 6)).toContain('web-1'), 30_000);
  });
});

describe('6b. an application container comes back at a new address', () => {
  it('Nginx follows the new address through DNS within its resolver cache time, HAProxy needs nothing', async () => {
    const app = `${n}-web-1-app`;
    const old = await inspect(app);
    const nginxBefore = await inspect(`${n}-web-1`);
    const oldIp = old.NetworkSettings.Networks[`${n}-back`].IPAddress;
    // Replace the container by hand; a placeholder takes the freed address first, so the
    // new container must get another one (Docker hands out the lowest free address).
    await docker('rm', '-f', app);
    await docker('run', '-d', '--name', `${n}-e2e-ip-holder`, '--network', `${n}-back`, E2E.images.node, 'sleep', '600');
    const holderIp = (await inspect(`${n}-e2e-ip-holder`)).NetworkSettings.Networks[`${n}-back`].IPAddress;
    const env = (old.Config.Env as string[]).flatMap((e) => ['-e', e]);
    await docker('run', '-d', '--name', app, '--hostname', app, '--network', `${n}-back`, ...env, old.Image, ...(old.Config.Cmd ?? []));
    const newIp = (await inspect(app)).NetworkSettings.Networks[`${n}-back`].IPAddress;
    const started = Date.now();
    let answered = '';
    while (Date.now() - started < 20_000) {
      const answers = await sequence(`${site}/api/whoami`, 3);
      if (answers.includes('web-1')) {
        answered = 'web-1';
        break;
      }
      await sleep(250);
    }
    record('app_new_address', { oldIp, holderIp, newIp, secondsUntilServedAgain: (Date.now() - started) / 1000 });
    expect(holderIp).toBe(oldIp);
    expect(newIp).not.toBe(oldIp);
    expect(answered).toBe('web-1');
    const nginxAfter = await inspect(`${n}-web-1`);
    expect(nginxAfter.State.StartedAt).toBe(nginxBefore.State.StartedAt);
    // Give the container back to Terraform: remove ours, deploy recreates its own.
    await docker('rm', '-f', app, `${n}-e2e-ip-holder`);
    await deploy(revised);
    expect((await inspect(app)).State.Health.Status).toBe('healthy');
  });
});

describe('7. database restarts', () => {
  it('replication resumes after the replica, then the primary, restart; no committed row is lost', async () => {
    const primary = `${n}-db-primary`;
    const replica = `${n}-db-replica-1`;
    const write = async (label: string, count: number) => {
      for (let i = 0; i < count; i++) {
        const a = await request(`${site}/api/notes`, { method: 'POST', body: { text: `${label}-${i}` } });
        expect(a.status, a.body).toBe(201);
      }
    };
    await write('before-restarts', 20);
    await docker('restart', '-t', '30', replica);
    await waitHealthy(replica);
    await write('after-replica-restart', 20);
    await docker('restart', '-t', '30', primary);
    await waitHealthy(primary);
    await waitHealthy(replica, 120_000);
    await eventually(async () => expect((await request(`${site}/api/notes`, { method: 'POST', body: { text: 'after-primary-restart' } })).status).toBe(201), 60_000);

    await eventually(async () => {
      const primaryCount = await sql(primary, 'SELECT COUNT(*) FROM app.notes');
      const replicaCount = await sql(replica, 'SELECT COUNT(*) FROM app.notes');
      const primaryGtid = await sql(primary, 'SELECT @@GLOBAL.gtid_binlog_pos');
      const replicaGtid = await sql(replica, 'SELECT @@GLOBAL.gtid_slave_pos');
      record('replication_after_restarts', { primaryCount, replicaCount, primaryGtid, replicaGtid });
      expect(replicaCount).toBe(primaryCount);
      expect(replicaGtid).toBe(primaryGtid);
    }, 30_000);
    const labels = await sql(replica, "SELECT COUNT(*) FROM app.notes WHERE text LIKE 'before-restarts-%' OR text LIKE 'after-replica-restart-%'");
    expect(labels).toBe('40');
    expect(await replicaStatus(replica)).toMatchObject({ Slave_IO_Running: 'Yes', Slave_SQL_Running: 'Yes' });
  });
});

describe('8. idempotence and teardown', () => {
  it('a second deploy plans no change', async () => {
    const result = await plan(revised);
    record('second_plan_exit_code', result.code);
    expect(result.code, result.stdout.slice(-3000)).toBe(0);
    const again = await deploy(revised);
    expect(again.stdout).toMatch(/No changes/);
  });

  it('destroy leaves no container or network of the stack, and keeps the data volumes (RETAIN)', async () => {
    const json = synthesized(revised);
    expect(json.resource.docker_volume).toBeUndefined();
    const result = await destroy(revised);
    record('destroy_seconds', result.seconds);
    expect(await containersOf(n)).toEqual([]);
    expect(await docker('network', 'ls', '--filter', `name=^${n}-`, '--format', '{{.Name}}')).toBe('');
    const volumes = (await docker('volume', 'ls', '--filter', `name=^${n}-`, '--format', '{{.Name}}')).split('\n').sort();
    expect(volumes).toEqual([`${n}-db-primary-data`, `${n}-db-replica-1-data`]);
  });
});

async function eventually(check: () => Promise<void>, timeoutMs: number): Promise<void> {
  const started = Date.now();
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() - started > timeoutMs) throw err;
      await sleep(500);
    }
  }
}
