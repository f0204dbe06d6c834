import type { Client } from "pg";
import { connect, pgTool } from "../commands/backup";
import { tableReadability, unreadableMessage } from "../postgres/rowSecurity";
import type { DbTarget } from "../postgres/target";
import { errorText, fail, ok, skip, type CheckLine } from "./line";

/**
 * The database lines: reachable with the TLS settings given (libpq's, as drctl applies them:
 * postgres/tls.ts), a pg_dump at least the server's major version, and a login that reads every
 * row of every table (row security included: postgres/rowSecurity.ts).
 */
export async function databaseLines(
  target: DbTarget,
  tlsSetting: string,
  env: NodeJS.ProcessEnv,
): Promise<CheckLine[]> {
  let client: Client;
  try {
    client = await connect(target, "database");
  } catch (err) {
    return [
      fail(
        "database",
        errorText(err),
        "set DATABASE_URL (or PGHOST, PGPORT, PGDATABASE, PGUSER) and the credentials (PGPASSWORD or DRCTL_DB_SECRET_ARN)",
      ),
      skip("pg_dump", "needs the database"),
      skip("tables", "needs the database"),
    ];
  }
  try {
    const { rows } = await client.query<{ v: string; n: string; ssl: boolean; tls: string | null }>(
      `select current_setting('server_version') as v, current_setting('server_version_num') as n,
              coalesce(s.ssl, false) as ssl, s.version as tls
       from pg_stat_ssl s where s.pid = pg_backend_pid()`,
    );
    const server = rows[0];
    const lines: CheckLine[] = [
      ok(
        "database",
        `${target.label} as ${target.user}, PostgreSQL ${server.v}, ` +
          `${server.ssl ? `TLS ${server.tls ?? ""}` : "no TLS"} (${tlsSetting})`,
      ),
    ];
    const serverMajor = Math.floor(Number(server.n) / 10000);
    try {
      const pgDump = pgTool("pg_dump", env);
      lines.push(
        pgDump.major >= serverMajor
          ? ok("pg_dump", `${pgDump.version} (${pgDump.path}) dumps PostgreSQL ${serverMajor}`)
          : fail(
              "pg_dump",
              `pg_dump ${pgDump.version} (${pgDump.path}) is older than the server (PostgreSQL ${server.v}) and cannot dump it`,
              `install postgresql-client-${serverMajor} or point PG_BIN at its bin directory`,
            ),
      );
    } catch (err) {
      lines.push(fail("pg_dump", errorText(err), "install the PostgreSQL client programs"));
    }
    const r = await tableReadability(client);
    if (r.unreadable.length > 0) {
      lines.push(
        fail(
          "tables",
          `${target.user} cannot read every row of ${r.unreadable.map((t) => t.table).join(", ")}`,
          unreadableMessage(r.unreadable),
        ),
      );
    } else {
      const through =
        r.readThroughPolicy.length > 0
          ? `; ${r.readThroughPolicy.join(", ")} through row security policies (backup runs pg_dump --enable-row-security)`
          : "";
      lines.push(
        ok("tables", `${target.user} reads every row of all ${r.checked} tables${through}`),
      );
    }
    return lines;
  } finally {
    await client.end().catch(() => undefined);
  }
}
