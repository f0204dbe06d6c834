import { userInfo } from "node:os";
import type { ClientConfig } from "pg";
import { UsageError } from "../errors";
import { sslFor, withoutSslParams } from "./tls";

/**
 * A database to dump from or restore into: from a URL (`--database-url`, `DATABASE_URL`,
 * `--target-url`) or, without one, from libpq's PG* variables — the same rules pg_dump follows,
 * TLS included (./tls.ts: sslmode/sslrootcert in the URL, else PGSSLMODE/PGSSLROOTCERT).
 */
export interface DbTarget {
  /** For pg: the URL with the password, or discrete fields from PG*. */
  readonly client: ClientConfig;
  /** `--dbname=` for pg_dump / pg_restore: the URL without its password (or absent → PG*). */
  readonly dbnameArg?: string;
  /** Environment for the PostgreSQL programs: the password travels here, never in argv. */
  readonly env: NodeJS.ProcessEnv;
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  /** `host:port/database`, for messages. */
  readonly label: string;
  /** The URL itself carried a password (userinfo or `?password=`): worth a warning in argv. */
  readonly hasUrlPassword?: boolean;
}

/** Seconds to wait for a connection: DRCTL_CONNECT_TIMEOUT, else libpq's PGCONNECT_TIMEOUT, else 10. */
export const DEFAULT_CONNECT_TIMEOUT_SECONDS = 10;

export function connectTimeoutSeconds(env: NodeJS.ProcessEnv): number {
  const raw = env.DRCTL_CONNECT_TIMEOUT ?? env.PGCONNECT_TIMEOUT;
  if (raw === undefined || raw === "") return DEFAULT_CONNECT_TIMEOUT_SECONDS;
  if (!/^\d+$/.test(raw) || Number(raw) < 1) {
    throw new UsageError(
      `DRCTL_CONNECT_TIMEOUT must be a whole number of seconds of at least 1, got "${raw}"`,
    );
  }
  return Number(raw);
}

export function resolveTarget(
  url: string | undefined,
  env: NodeJS.ProcessEnv,
  flag = "--database-url",
): DbTarget {
  const osUser = (() => {
    try {
      return userInfo().username;
    } catch {
      return "postgres";
    }
  })();
  if (url === undefined || url === "") {
    const host = env.PGHOST ?? "localhost";
    const port = Number(env.PGPORT ?? 5432);
    const user = env.PGUSER ?? osUser;
    const database = env.PGDATABASE ?? user;
    const timeout = connectTimeoutSeconds(env);
    return {
      client: {
        host,
        port,
        user,
        database,
        password: env.PGPASSWORD,
        ssl: sslFor(env),
        connectionTimeoutMillis: timeout * 1000,
      },
      env: { ...env, PGCONNECT_TIMEOUT: String(timeout) },
      host,
      port,
      database,
      user,
      label: `${host}:${port}/${database}`,
    };
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(
      `${flag} is not a valid URL; expected postgresql://user@host:5432/database`,
    );
  }
  if (parsed.protocol !== "postgresql:" && parsed.protocol !== "postgres:") {
    throw new UsageError(
      `${flag} must start with postgresql://, got "${parsed.protocol}//"; expected postgresql://user@host:5432/database`,
    );
  }
  const decode = (part: string, what: string): string => {
    try {
      return decodeURIComponent(part);
    } catch {
      throw new UsageError(
        `${flag} has a malformed percent-escape in its ${what}; write a literal % as %25 ` +
          `(expected postgresql://user@host:5432/database)`,
      );
    }
  };
  // libpq accepts the password as a query parameter too; it must not reach a child's argv.
  const queryPassword = parsed.searchParams.get("password");
  const bare = new URL(url);
  bare.password = "";
  // Only when present: rewriting the query re-encodes the other parameters (a space as "+").
  if (queryPassword !== null) bare.searchParams.delete("password");
  const urlPassword = parsed.password ? decode(parsed.password, "password") : undefined;
  const password = urlPassword ?? queryPassword ?? env.PGPASSWORD;
  const user = parsed.username ? decode(parsed.username, "user name") : (env.PGUSER ?? osUser);
  const host = parsed.hostname || (env.PGHOST ?? "localhost");
  const port = parsed.port ? Number(parsed.port) : Number(env.PGPORT ?? 5432);
  const database = decode(parsed.pathname.replace(/^\//, ""), "database name") || user;
  const childEnv: NodeJS.ProcessEnv = { ...env };
  if (password !== undefined) childEnv.PGPASSWORD = password;
  const timeout = connectTimeoutSeconds(env);
  childEnv.PGCONNECT_TIMEOUT = String(timeout);
  return {
    // In-process only: pg reads the password from the URL (userinfo or ?password=) itself, and
    // an explicit `password` would be overridden by what it parses from the string. The TLS
    // parameters are ours to interpret (pg's parser would replace `ssl`); pg_dump keeps them.
    client: {
      connectionString: withoutSslParams(url),
      password,
      ssl: sslFor(env, parsed, flag),
      connectionTimeoutMillis: timeout * 1000,
    },
    hasUrlPassword: urlPassword !== undefined || queryPassword !== null,
    dbnameArg: bare.toString(),
    env: childEnv,
    host,
    port,
    database,
    user,
    label: `${host}:${port}/${database}`,
  };
}

/**
 * The warning for a password given on drctl's own command line: it is accepted (an operator in a
 * hurry), but any local user can read a process's argv (`ps`, /proc/<pid>/cmdline).
 */
export function argvPasswordWarning(flag: string, target: DbTarget): string | undefined {
  if (!target.hasUrlPassword) return undefined;
  return (
    `${flag} carries a password, which any local user can read in drctl's command line; ` +
    `prefer PGPASSWORD or the URL in the environment, DRCTL_DB_SECRET_ARN, or ~/.pgpass`
  );
}
