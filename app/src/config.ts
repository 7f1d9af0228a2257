import * as os from "node:os";

/** A MySQL/MariaDB endpoint. */
export interface DbEndpoint {
  host: string;
  port: number;
}

export interface Config {
  /** TCP port the HTTP server listens on. */
  port: number;
  /** Optional listen address; unset means all interfaces. */
  listenHost: string | undefined;
  /** Which web server this is (e.g. "web-2"); sent as X-Served-By. */
  serverName: string;
  hostname: string;
  /** Where writes go. */
  primary: DbEndpoint;
  /** Where reads go (a replica, or a load balancer in front of the replicas). */
  read: DbEndpoint;
  replicaHosts: string[];
  database: string;
  user: string;
  password: string;
}

export class ConfigError extends Error {}

function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}

function parsePort(name: string, value: string | undefined, fallback: number): number {
  const raw = nonEmpty(value);
  if (raw === undefined) return fallback;
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError(`${name} must be a port number (0-65535), got ${JSON.stringify(raw)}`);
  }
  return port;
}

/**
 * Header values may only contain visible ASCII; the name is also stored in a
 * VARCHAR(64) column. Replace anything else and cap the length.
 */
function sanitizeServerName(name: string): string {
  const clean = name.replace(/[^\x20-\x7e]/g, "?").trim().slice(0, 64);
  return clean || "unknown";
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const hostname = os.hostname();
  const replicaHosts = (env.DB_REPLICA_HOSTS ?? "")
    .split(",")
    .map((h) => h.trim())
    .filter((h) => h.length > 0);

  const primaryHost = nonEmpty(env.DB_PRIMARY_HOST) ?? "127.0.0.1";
  const dbPort = parsePort("DB_PORT", env.DB_PORT, 3306);
  const readHost = nonEmpty(env.DB_READ_HOST) ?? replicaHosts[0] ?? primaryHost;
  const readPort = parsePort("DB_READ_PORT", env.DB_READ_PORT, dbPort);

  return {
    port: parsePort("PORT", env.PORT, 3000),
    listenHost: nonEmpty(env.HOST),
    serverName: sanitizeServerName(nonEmpty(env.SERVER_NAME) ?? hostname),
    hostname,
    primary: { host: primaryHost, port: dbPort },
    read: { host: readHost, port: readPort },
    replicaHosts,
    database: nonEmpty(env.DB_NAME) ?? "app",
    user: nonEmpty(env.DB_USER) ?? "app",
    // Passwords are taken verbatim (no trimming) and never logged.
    password: env.DB_PASSWORD ?? "",
  };
}
