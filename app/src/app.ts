import * as http from "node:http";
import type { Config } from "./config";
import { Database, DbError, NOTE_MAX_CHARS, Role, errorCode, errorDetail } from "./db";
import { log } from "./log";

const BODY_LIMIT_BYTES = 64 * 1024;

/** Mutable process state shared with server.ts. */
export interface AppState {
  schemaReady: boolean;
  shuttingDown: boolean;
}

/** An error whose message is meant for the client. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: http.OutgoingHttpHeaders = {},
  ) {
    super(message);
  }
}

interface Context {
  req: http.IncomingMessage;
  res: http.ServerResponse;
  /** Capture groups of the route pattern. */
  params: string[];
  query: URLSearchParams;
}

interface Route {
  method: "GET" | "POST";
  pattern: RegExp;
  handler: (ctx: Context) => Promise<void> | void;
}

export function createServer(config: Config, db: Database, state: AppState): http.Server {
  const readFrom = config.read.host;
  const endpoint = (role: Role): string => {
    const ep = role === "primary" ? config.primary : config.read;
    return `${ep.host}:${ep.port}`;
  };

  function send(res: http.ServerResponse, status: number, body: unknown, headers: http.OutgoingHttpHeaders = {}): void {
    const payload = JSON.stringify(body);
    res.writeHead(status, {
      "Content-Type": "application/json; charset=utf-8",
      "Content-Length": Buffer.byteLength(payload),
      "Cache-Control": "no-store",
      ...(state.shuttingDown ? { Connection: "close" } : {}),
      ...headers,
    });
    res.end(payload);
  }

  // `forwardedProto` shows what the load balancer told us: "https" behind TLS termination.
  const whoami = ({ req, res }: Context): void =>
    send(res, 200, { server: config.serverName, hostname: config.hostname, forwardedProto: req.headers["x-forwarded-proto"] ?? null });

  const routes: Route[] = [
    { method: "GET", pattern: /^\/$/, handler: whoami },
    { method: "GET", pattern: /^\/api\/whoami$/, handler: whoami },

    // A request that takes a while: shows least-connections balancing and slow-backend
    // handling. Bounded to 10 s so it cannot hold a connection open for long.
    {
      method: "GET",
      pattern: /^\/api\/slow$/,
      handler: async ({ res, query }) => {
        const ms = Number(query.get("ms") ?? "1000");
        if (!Number.isInteger(ms) || ms < 0 || ms > 10_000) {
          throw new HttpError(400, "ms must be an integer from 0 to 10000");
        }
        await new Promise((resolve) => setTimeout(resolve, ms));
        send(res, 200, { server: config.serverName, sleptMs: ms });
      },
    },

    // Liveness of the process only: deliberately never touches the database.
    {
      method: "GET",
      pattern: /^\/healthz$/,
      handler: ({ res }) => send(res, 200, { status: "ok", server: config.serverName }),
    },

    {
      method: "GET",
      pattern: /^\/readyz$/,
      handler: async ({ res }) => {
        const check = async (role: Role) => {
          try {
            await db.ping(role);
            return { ok: true, host: endpoint(role) };
          } catch (err) {
            return { ok: false, host: endpoint(role), error: errorCode(err) };
          }
        };
        const [primary, read] = await Promise.all([check("primary"), check("read")]);
        const failed = [primary.ok ? [] : ["primary"], read.ok ? [] : ["read"]].flat();
        if (state.shuttingDown) failed.push("shutting-down");
        send(res, failed.length === 0 ? 200 : 503, {
          status: failed.length === 0 ? "ready" : "unavailable",
          server: config.serverName,
          ...(failed.length > 0 ? { failed } : {}),
          primary,
          read,
          schema: state.schemaReady ? "ready" : "pending",
        });
      },
    },

    {
      method: "POST",
      pattern: /^\/api\/notes$/,
      handler: async ({ req, res }) => {
        const text = parseNoteText(await readBody(req, BODY_LIMIT_BYTES));
        const id = await db.insertNote(text, config.serverName);
        send(res, 201, { id, server: config.serverName }, { Location: `/api/notes/${id}` });
      },
    },

    {
      method: "GET",
      pattern: /^\/api\/notes$/,
      handler: async ({ res, query }) => {
        if (!query.has("count")) {
          throw new HttpError(400, "use GET /api/notes?count or GET /api/notes/:id");
        }
        send(res, 200, { count: await db.countNotes(), readFrom });
      },
    },

    {
      method: "GET",
      pattern: /^\/api\/notes\/([^/]+)$/,
      handler: async ({ res, params }) => {
        const id = params[0] ?? "";
        if (!/^\d{1,19}$/.test(id)) throw new HttpError(400, "id must be a positive integer");
        const note = await db.getNote(id);
        if (!note) {
          send(res, 404, { error: "note not found (or not replicated yet)", id, readFrom });
          return;
        }
        send(res, 200, { ...note, readFrom });
      },
    },

    {
      method: "GET",
      pattern: /^\/api\/db$/,
      handler: async ({ res }) => {
        const describe = async (role: Role) => {
          try {
            return { host: endpoint(role), ...(await db.describe(role)) };
          } catch (err) {
            return { host: endpoint(role), error: errorCode(err) };
          }
        };
        const [primary, read] = await Promise.all([describe("primary"), describe("read")]);
        const ok = !("error" in primary) && !("error" in read);
        send(res, ok ? 200 : 503, { primary, read });
      },
    },
  ];

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    res.setHeader("X-Served-By", config.serverName);

    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const path = q === -1 ? url : url.slice(0, q);
    const query = new URLSearchParams(q === -1 ? "" : url.slice(q + 1));
    // HEAD is answered like GET; Node drops the body.
    const method = req.method === "HEAD" ? "GET" : req.method;

    const matching = routes.filter((r) => r.pattern.test(path));
    if (matching.length === 0) throw new HttpError(404, "not found");
    const route = matching.find((r) => r.method === method);
    if (!route) {
      const allow = [...new Set(matching.flatMap((r) => (r.method === "GET" ? ["GET", "HEAD"] : [r.method])))];
      throw new HttpError(405, "method not allowed", { Allow: allow.join(", ") });
    }
    const params = (route.pattern.exec(path) ?? []).slice(1);
    await route.handler({ req, res, params, query });
  }

  function fail(req: http.IncomingMessage, res: http.ServerResponse, err: unknown): void {
    if (res.headersSent) {
      log.error(`${req.method} ${req.url}: error after response started: ${errorDetail(err)}`);
      res.destroy();
      return;
    }
    if (err instanceof HttpError) {
      send(res, err.status, { error: err.message }, err.headers);
    } else if (err instanceof DbError) {
      log.warn(`${req.method} ${req.url}: ${errorDetail(err)}`);
      send(res, 503, { error: "database unavailable", db: err.role, code: err.code });
    } else {
      log.error(`${req.method} ${req.url}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      send(res, 500, { error: "internal error" });
    }
  }

  return http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => fail(req, res, err));
  });
}

/** Reads the request body, rejecting with 413 past `limit` bytes. */
function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const tooLarge = () =>
      new HttpError(413, `request body larger than ${limit} bytes`, { Connection: "close" });
    const declared = Number(req.headers["content-length"]);
    if (Number.isFinite(declared) && declared > limit) {
      reject(tooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (fn: () => void) => {
      if (!settled) {
        settled = true;
        fn();
      }
    };
    req.on("data", (chunk: Buffer) => {
      if (settled) return;
      size += chunk.length;
      if (size > limit) {
        settle(() => reject(tooLarge()));
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => settle(() => resolve(Buffer.concat(chunks, size))));
    req.on("error", (err) => settle(() => reject(err)));
    req.on("close", () => settle(() => reject(new HttpError(400, "request body incomplete"))));
  });
}

/** Validates `{"text": "..."}`: a non-blank string of at most NOTE_MAX_CHARS characters. */
function parseNoteText(body: Buffer): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString("utf8"));
  } catch {
    throw new HttpError(400, 'body must be JSON like {"text": "..."}');
  }
  const text = parsed && typeof parsed === "object" ? (parsed as { text?: unknown }).text : undefined;
  if (typeof text !== "string" || text.trim().length === 0) {
    throw new HttpError(400, '"text" must be a non-empty string');
  }
  // Count code points, as MySQL's VARCHAR(n) in utf8mb4 does.
  if ([...text].length > NOTE_MAX_CHARS) {
    throw new HttpError(400, `"text" must be at most ${NOTE_MAX_CHARS} characters`);
  }
  return text;
}
