// Smoke test of the built server (dist/) with no database reachable.
// Run with `npm test`; uses only loopback addresses.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import * as net from "node:net";
import { fileURLToPath } from "node:url";

const serverJs = fileURLToPath(new URL("../dist/server.js", import.meta.url));

/** A loopback port with nothing listening on it. */
async function freePort() {
  const srv = net.createServer().listen(0, "127.0.0.1");
  await once(srv, "listening");
  const { port } = srv.address();
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

let child;
let base;
let output = "";

before(async () => {
  const port = await freePort();
  const deadDbPort = await freePort();
  base = `http://127.0.0.1:${port}`;
  child = spawn(process.execPath, [serverJs], {
    env: {
      ...process.env,
      PORT: String(port),
      HOST: "127.0.0.1",
      SERVER_NAME: "web-test",
      DB_PRIMARY_HOST: "127.0.0.1",
      DB_PORT: String(deadDbPort),
      DB_PASSWORD: "not-to-be-printed",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  for (let i = 0; i < 100; i++) {
    try {
      await fetch(`${base}/healthz`);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`server did not start:\n${output}`);
});

after(() => {
  if (child.exitCode === null) child.kill("SIGKILL");
});

async function get(path, init) {
  const res = await fetch(base + path, init);
  return { status: res.status, headers: res.headers, body: await res.json() };
}

test("healthz answers without a database", async () => {
  const r = await get("/healthz");
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, { status: "ok", server: "web-test" });
  assert.equal(r.headers.get("x-served-by"), "web-test");
});

test("readyz reports both databases down", async () => {
  const r = await get("/readyz");
  assert.equal(r.status, 503);
  assert.deepEqual(r.body.failed, ["primary", "read"]);
  assert.equal(r.headers.get("x-served-by"), "web-test");
});

test("whoami on / and /api/whoami", async () => {
  for (const path of ["/", "/api/whoami"]) {
    const r = await get(path);
    assert.equal(r.status, 200);
    assert.equal(r.body.server, "web-test");
    assert.equal(typeof r.body.hostname, "string");
  }
});

test("POST /api/notes validates its body", async () => {
  const post = (body) => get("/api/notes", { method: "POST", headers: { "content-type": "application/json" }, body });
  for (const body of ["not json", "{}", '{"text":""}', '{"text":"   "}', '{"text":42}', JSON.stringify({ text: "x".repeat(1001) })]) {
    const r = await post(body);
    assert.equal(r.status, 400, body.slice(0, 40));
    assert.equal(r.headers.get("x-served-by"), "web-test");
  }
  assert.equal((await post("x".repeat(70 * 1024))).status, 413);
  // Valid, but the primary is down: 503 without internals.
  const r = await post('{"text":"hello"}');
  assert.equal(r.status, 503);
  assert.deepEqual(Object.keys(r.body).sort(), ["code", "db", "error"]);
});

test("unknown paths and methods", async () => {
  const r = await get("/nope");
  assert.equal(r.status, 404);
  assert.equal(r.headers.get("x-served-by"), "web-test");
  const m = await get("/healthz", { method: "DELETE" });
  assert.equal(m.status, 405);
  assert.match(m.headers.get("allow"), /GET/);
  assert.equal((await get("/api/notes/abc")).status, 400);
});

test("SIGTERM exits cleanly and quickly", async () => {
  const started = Date.now();
  child.kill("SIGTERM");
  const [code] = await once(child, "exit");
  assert.equal(code, 0);
  assert.ok(Date.now() - started < 5000);
  assert.ok(!output.includes("not-to-be-printed"), "password leaked to the log");
});
