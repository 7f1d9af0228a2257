import { createPool, Pool, ResultSetHeader, RowDataPacket } from "mysql2/promise";
import type { Config, DbEndpoint } from "./config";

/** Which pool an operation ran on: writes go to the primary, reads to the read host. */
export type Role = "primary" | "read";

const POOL_SIZE = 5;
const CONNECT_TIMEOUT_MS = 3_000;
const QUERY_TIMEOUT_MS = 5_000;
const PING_TIMEOUT_MS = 2_000;

export const NOTE_MAX_CHARS = 1000;

const CREATE_NOTES_TABLE = `
CREATE TABLE IF NOT EXISTS notes (
  id BIGINT AUTO_INCREMENT PRIMARY KEY,
  text VARCHAR(${NOTE_MAX_CHARS}) NOT NULL,
  server VARCHAR(64) NOT NULL,
  created_at TIMESTAMP(6) DEFAULT CURRENT_TIMESTAMP(6)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`;

/**
 * A failed database operation. The message is safe to return to clients: it
 * names the role and the driver's error code, never credentials or SQL.
 */
export class DbError extends Error {
  readonly role: Role;
  readonly code: string;

  constructor(role: Role, cause: unknown) {
    const code = errorCode(cause);
    super(`${role} database error: ${code}`, { cause });
    this.name = "DbError";
    this.role = role;
    this.code = code;
  }
}

/** A short, client-safe description of a driver error. */
export function errorCode(err: unknown): string {
  if (err && typeof err === "object") {
    const code = (err as { code?: unknown }).code;
    if (typeof code === "string" && code) return code;
  }
  return "UNKNOWN_ERROR";
}

/** Full message for the server log (driver messages do not contain passwords). */
export function errorDetail(err: unknown): string {
  const cause = err instanceof DbError ? err.cause : err;
  return cause instanceof Error ? `${errorCode(cause)}: ${cause.message}` : String(cause);
}

export interface Note {
  id: number | string;
  text: string;
  server: string;
  created_at: string | null;
}

export interface ServerInfo {
  hostname: string;
  server_id: number;
  read_only: boolean;
}

export class Database {
  readonly primary: DbEndpoint;
  readonly read: DbEndpoint;
  private readonly pools: Record<Role, Pool>;

  constructor(config: Config) {
    this.primary = config.primary;
    this.read = config.read;
    const common = {
      user: config.user,
      password: config.password,
      database: config.database,
      connectionLimit: POOL_SIZE,
      maxIdle: POOL_SIZE,
      idleTimeout: 60_000,
      // Bounded queue: when the DB is slow, fail fast instead of piling up requests.
      queueLimit: 100,
      waitForConnections: true,
      connectTimeout: CONNECT_TIMEOUT_MS,
      enableKeepAlive: true,
      charset: "utf8mb4",
      // BIGINT ids come back as numbers while they are safe integers, else as strings.
      supportBigNumbers: true,
    };
    this.pools = {
      primary: createPool({ ...common, host: config.primary.host, port: config.primary.port }),
      read: createPool({ ...common, host: config.read.host, port: config.read.port }),
    };
  }

  /** Runs fn on the pool for role; any failure becomes a DbError. */
  private async run<T>(role: Role, fn: (pool: Pool) => Promise<T>): Promise<T> {
    try {
      return await fn(this.pools[role]);
    } catch (err) {
      throw new DbError(role, err);
    }
  }

  async ping(role: Role): Promise<void> {
    await this.run(role, (pool) => pool.query({ sql: "SELECT 1", timeout: PING_TIMEOUT_MS }));
  }

  /** Idempotent: safe when several app instances start at once. */
  async ensureSchema(): Promise<void> {
    await this.run("primary", (pool) =>
      pool.query({ sql: CREATE_NOTES_TABLE, timeout: QUERY_TIMEOUT_MS }),
    );
  }

  async insertNote(text: string, server: string): Promise<number | string> {
    const [result] = await this.run("primary", (pool) =>
      pool.query<ResultSetHeader>({
        sql: "INSERT INTO notes (text, server) VALUES (?, ?)",
        values: [text, server],
        timeout: QUERY_TIMEOUT_MS,
      }),
    );
    return result.insertId;
  }

  /** Reads from the read host: a note written a moment ago may not be there yet. */
  async getNote(id: string): Promise<Note | undefined> {
    const [rows] = await this.run("read", (pool) =>
      pool.query<RowDataPacket[]>({
        // UNIX_TIMESTAMP is independent of the session time zone.
        sql: "SELECT id, text, server, UNIX_TIMESTAMP(created_at) AS created_at FROM notes WHERE id = ?",
        values: [id],
        timeout: QUERY_TIMEOUT_MS,
      }),
    );
    const row = rows[0];
    if (!row) return undefined;
    return {
      id: row.id as number | string,
      text: String(row.text),
      server: String(row.server),
      created_at: toIsoTime(row.created_at),
    };
  }

  async countNotes(): Promise<number> {
    const [rows] = await this.run("read", (pool) =>
      pool.query<RowDataPacket[]>({ sql: "SELECT COUNT(*) AS n FROM notes", timeout: QUERY_TIMEOUT_MS }),
    );
    return Number(rows[0]?.n ?? 0);
  }

  async describe(role: Role): Promise<ServerInfo> {
    const [rows] = await this.run(role, (pool) =>
      pool.query<RowDataPacket[]>({
        sql: "SELECT @@hostname AS hostname, @@server_id AS server_id, @@read_only AS read_only",
        timeout: QUERY_TIMEOUT_MS,
      }),
    );
    const row = rows[0] ?? {};
    return {
      hostname: String(row.hostname),
      server_id: Number(row.server_id),
      read_only: Number(row.read_only) === 1,
    };
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.pools.primary.end(), this.pools.read.end()]);
  }
}

function toIsoTime(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  const seconds = Number(value);
  return Number.isFinite(seconds) ? new Date(seconds * 1000).toISOString() : null;
}
