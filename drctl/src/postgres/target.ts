import { userInfo } from "node:os";
import type { ClientConfig } from "pg";
import { UsageError } from "../errors";

/**
 * A database to dump from or restore into: from a URL (`--database-url`, `DATABASE_URL`,
 * `--target-url`) or, without one, from libpq's PG* variables — the same rules pg_dump follows.
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
    return {
      client: { host, port, user, database, password: env.PGPASSWORD },
      env: { ...env },
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
  const password = parsed.password ? decodeURIComponent(parsed.password) : env.PGPASSWORD;
  const user = parsed.username ? decodeURIComponent(parsed.username) : (env.PGUSER ?? osUser);
  const host = parsed.hostname || (env.PGHOST ?? "localhost");
  const port = parsed.port ? Number(parsed.port) : Number(env.PGPORT ?? 5432);
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, "")) || user;
  const bare = new URL(url);
  bare.password = "";
  const childEnv: NodeJS.ProcessEnv = { ...env };
  if (password !== undefined) childEnv.PGPASSWORD = password;
  return {
    client: { connectionString: url, password },
    dbnameArg: bare.toString(),
    env: childEnv,
    host,
    port,
    database,
    user,
    label: `${host}:${port}/${database}`,
  };
}
