import { once } from "node:events";
import { AppState, createServer } from "./app";
import { ConfigError, loadConfig } from "./config";
import { Database, errorDetail } from "./db";
import { log } from "./log";

const SCHEMA_RETRY_MAX_MS = 2_000;
/** Time given to in-flight requests before their connections are cut. */
const DRAIN_MS = 3_000;
const POOL_CLOSE_MS = 1_000;
/** Hard limit: the process is gone within this after SIGTERM/SIGINT. */
const SHUTDOWN_LIMIT_MS = 5_000;

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Creates the table on the primary, retrying with a bounded backoff until it
 * answers. Runs in the background so the HTTP server (and /healthz) is up at once.
 * Returns a function that stops the retries.
 */
function ensureSchemaInBackground(db: Database, state: AppState): () => void {
  let attempt = 0;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  const tryOnce = async (): Promise<void> => {
    attempt += 1;
    try {
      await db.ensureSchema();
      state.schemaReady = true;
      log.info(`schema ready on primary ${db.primary.host}:${db.primary.port} (attempt ${attempt})`);
    } catch (err) {
      if (stopped) return;
      const wait = Math.min(SCHEMA_RETRY_MAX_MS, 250 * 2 ** (attempt - 1));
      // Log the first few failures, then only now and then, to keep the log readable.
      if (attempt <= 3 || attempt % 15 === 0) {
        log.warn(`schema not created yet (attempt ${attempt}): ${errorDetail(err)}; retrying every ${wait} ms`);
      }
      timer = setTimeout(() => void tryOnce(), wait);
    }
  };

  void tryOnce();
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };
}

function main(): void {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      log.error(`invalid configuration: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }

  const state: AppState = { schemaReady: false, shuttingDown: false };
  const db = new Database(config);
  const server = createServer(config, db, state);

  server.on("error", (err) => {
    log.error(`HTTP server error: ${err.message}`);
    process.exit(1);
  });
  server.listen(config.port, config.listenHost, () => {
    const address = server.address();
    const port = address && typeof address === "object" ? address.port : config.port;
    log.info(
      `${config.serverName} listening on port ${port}; ` +
        `primary ${config.primary.host}:${config.primary.port}, reads from ${config.read.host}:${config.read.port}`,
    );
  });

  const stopSchema = ensureSchemaInBackground(db, state);

  let stopping = false;
  const shutdown = async (signal: string): Promise<void> => {
    if (stopping) {
      log.warn(`${signal} again, exiting now`);
      process.exit(1);
    }
    stopping = true;
    state.shuttingDown = true;
    log.info(`${signal} received, shutting down`);
    setTimeout(() => {
      log.error(`shutdown took longer than ${SHUTDOWN_LIMIT_MS} ms, exiting`);
      process.exit(1);
    }, SHUTDOWN_LIMIT_MS).unref();

    stopSchema();
    const closed = once(server, "close");
    server.close(); // stop accepting connections
    server.closeIdleConnections();
    await Promise.race([closed, delay(DRAIN_MS)]);
    server.closeAllConnections();
    await Promise.race([db.close(), delay(POOL_CLOSE_MS)]);
    log.info("bye");
    process.exit(0);
  };
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.on(signal, () => void shutdown(signal));
  }
}

process.on("unhandledRejection", (reason) => {
  log.error(`unhandled rejection: ${reason instanceof Error ? (reason.stack ?? reason.message) : String(reason)}`);
  process.exit(1);
});

main();
