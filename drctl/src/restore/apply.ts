import { randomBytes } from "node:crypto";
import { DrctlError } from "../errors";
import type { TableCount } from "../manifest";
import type { DbTarget } from "../postgres/target";
import { onTermination, runTool, type Tool } from "../postgres/tools";

export interface TableCheck {
  readonly table: string;
  readonly expected: number;
  /** undefined when the table is missing in the target. */
  readonly actual?: number;
}

export interface AtomicRestore {
  /** The archive, a seekable file. */
  readonly file: string;
  readonly target: DbTarget;
  readonly pgRestore: string;
  readonly psql: string;
  /** pg_restore flags besides `-f -` and the file: --clean, -x, -O, -L. */
  readonly restoreArgs: readonly string[];
  /** SQL run first in the same transaction (CREATE ROLE of the missing roles). */
  readonly preamble: string;
  /** Row counts that must match before the transaction commits. */
  readonly tables: readonly TableCount[];
}

export interface AtomicOutcome {
  /** True when the transaction committed: the target now holds the backup. */
  readonly committed: boolean;
  /** The row counts, when the gate ran (it runs last: an earlier error leaves this empty). */
  readonly checks: TableCheck[];
  /** Why it rolled back, when it did. */
  readonly error?: string;
}

/** A string literal for SQL, with standard_conforming_strings on (set in the same script). */
function literal(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/**
 * The row-count gate, run last inside the restore's transaction: each table's count is reported
 * as a NOTICE drctl reads back, and any difference raises, which makes psql roll back.
 */
export function countGateSql(tables: readonly TableCount[]): string {
  if (tables.length === 0) return "";
  const tag = `$drctl_${randomBytes(6).toString("hex")}$`;
  const values = tables
    .map((t, i) => `(${i}, ${literal(t.schema)}, ${literal(t.name)}, ${t.rows}::bigint)`)
    .join(",\n    ");
  return `
set client_min_messages = notice;
set standard_conforming_strings = on;
do ${tag}
declare r record; n bigint; bad int := 0;
begin
  for r in select * from (values
    ${values}) v(i, s, t, want) loop
    if to_regclass(format('%I.%I', r.s, r.t)) is null then
      raise notice 'drctl-rows % missing', r.i; bad := bad + 1; continue;
    end if;
    execute format('select count(*) from %I.%I', r.s, r.t) into n;
    raise notice 'drctl-rows % %', r.i, n;
    if n <> r.want then bad := bad + 1; end if;
  end loop;
  if bad > 0 then
    raise exception 'drctl: % table(s) differ from the manifest', bad;
  end if;
end ${tag};
`;
}

/**
 * Restores in one transaction: `pg_restore -f -` writes the archive as SQL, which psql runs with
 * --single-transaction and ON_ERROR_STOP after the preamble; the row-count gate is appended only
 * once pg_restore exited 0. Any failure — an SQL error, a count that differs, pg_restore dying,
 * SIGTERM — ends in ROLLBACK (or a dropped connection, which the server aborts), so the target
 * is left exactly as it was. psql: "If any of the commands fails and the variable ON_ERROR_STOP
 * was set, a ROLLBACK command is sent instead"
 * (https://www.postgresql.org/docs/current/app-psql.html, --single-transaction). pg_restore
 * --single-transaction cannot be used: the count must run before the commit.
 */
export async function restoreAtomically(r: AtomicRestore): Promise<AtomicOutcome> {
  const dbname = r.target.dbnameArg ? [`--dbname=${r.target.dbnameArg}`] : [];
  const psql = runTool(
    "psql",
    r.psql,
    ["-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction", "-f", "-", ...dbname],
    { env: r.target.env, stdio: ["pipe", "ignore", "pipe"] },
  );
  const notices = new Map<number, number | undefined>();
  let errorLine: string | undefined;
  let partial = "";
  psql.child.stderr?.on("data", (d: Buffer) => {
    const lines = (partial + d.toString()).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) {
      const m = /NOTICE:\s+drctl-rows (\d+) (\d+|missing)/.exec(line);
      if (m) notices.set(Number(m[1]), m[2] === "missing" ? undefined : Number(m[2]));
      else if (errorLine === undefined && /\bERROR:/.test(line)) {
        errorLine = line.replace(/^psql:[^:]*:\d+:\s*/, "").replace(/\s+/g, " ");
      }
    }
  });
  psql.child.stdin?.on("error", () => undefined);
  const restore = runTool("pg_restore", r.pgRestore, ["-f", "-", ...r.restoreArgs, r.file], {
    env: r.target.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const tools: Tool[] = [psql, restore];
  let interrupted: NodeJS.Signals | undefined;
  const dispose = onTermination((signal) => {
    interrupted = signal;
    for (const t of tools) t.child.kill("SIGTERM");
  });
  try {
    const stdin = psql.child.stdin!;
    stdin.write(r.preamble);
    restore.child.stdout!.pipe(stdin, { end: false });
    const restored = await restore.done.then(
      () => undefined,
      (err: Error) => err,
    );
    if (restored || interrupted) {
      // Without a commit psql never sends one: ending it drops the connection, and the server
      // rolls the transaction back.
      psql.child.kill("SIGTERM");
      await psql.done.catch(() => undefined);
      if (interrupted) throw interruptedError(interrupted, r.target.label);
      return {
        committed: false,
        checks: [],
        error: errorLine ?? restored?.message ?? "pg_restore failed",
      };
    }
    stdin.end(countGateSql(r.tables));
    const ok = await psql.done.then(
      () => true,
      () => false,
    );
    if (interrupted) throw interruptedError(interrupted, r.target.label);
    // The gate reports every table before it decides; fewer reports mean it never ran.
    const gateRan = notices.size === r.tables.length;
    const checks = gateRan
      ? r.tables.map((t, i) => ({
          table: t.qualified,
          expected: t.rows,
          ...(notices.get(i) !== undefined ? { actual: notices.get(i) } : {}),
        }))
      : [];
    return ok
      ? { committed: true, checks }
      : { committed: false, checks, error: errorLine ?? "psql failed" };
  } finally {
    dispose();
    await Promise.allSettled(tools.map((t) => t.done));
  }
}

export function interruptedError(signal: NodeJS.Signals, label: string): DrctlError {
  return new DrctlError(
    `interrupted by ${signal}; pg_restore and psql stopped and the transaction was rolled back: ` +
      `target ${label} is as it was before the restore`,
  );
}
