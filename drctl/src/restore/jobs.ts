import type { Client } from "pg";
import { DrctlError, VerificationError } from "../errors";
import type { TableCount } from "../manifest";
import type { DbTarget } from "../postgres/target";
import { onTermination, runTool } from "../postgres/tools";
import type { TableCheck } from "./apply";
import { captureEmpty, resetToEmpty } from "./resetEmpty";

/** Counts the rows of one table in the target; the server quotes the name. */
async function countTable(client: Client, t: TableCount): Promise<TableCheck> {
  const { rows } = await client.query<{ q: string; present: boolean }>(
    "select format('%I.%I', $1::text, $2::text) as q, to_regclass(format('%I.%I', $1::text, $2::text)) is not null as present",
    [t.schema, t.name],
  );
  if (!rows[0].present) return { table: t.qualified, expected: t.rows };
  const { rows: c } = await client.query<{ n: string }>(
    `select count(*)::text as n from ${rows[0].q}`,
  );
  return { table: t.qualified, expected: t.rows, actual: Number(c[0].n) };
}

/**
 * Counts rows of `tables` in the target, one table at a time on each of `clients` (the restore's
 * --jobs), largest first so the last table to finish is a small one. Results keep `tables`' order.
 */
export async function countTables(
  clients: readonly Client[],
  tables: readonly TableCount[],
): Promise<TableCheck[]> {
  const out = new Array<TableCheck>(tables.length);
  const order = tables.map((_, i) => i).sort((a, b) => tables[b].rows - tables[a].rows);
  let next = 0;
  await Promise.all(
    clients.map(async (client) => {
      while (next < order.length) {
        const i = order[next++];
        out[i] = await countTable(client, tables[i]);
      }
    }),
  );
  return out;
}

export interface JobsRestore {
  readonly client: Client;
  /** Opens another connection to the target, for the parallel row counts. */
  readonly connect: () => Promise<Client>;
  readonly file: string;
  readonly target: DbTarget;
  readonly pgRestore: string;
  readonly jobs: number;
  readonly restoreArgs: readonly string[];
  /** Roles to create before pg_restore (dropped again if the restore fails). */
  readonly createRoles: readonly string[];
  readonly createRoleSql: string;
  readonly tables: readonly TableCount[];
}

/**
 * `pg_restore --jobs N` straight into a target that has no user objects (the caller checked),
 * then row counts on N connections. It cannot run in one transaction, so on any failure — an
 * error, counts that differ, SIGTERM — drctl stops pg_restore, waits for it, and puts the empty
 * target back (resetToEmpty). Returns the checks; throws with the target's state on failure.
 */
export async function restoreWithJobs(r: JobsRestore): Promise<TableCheck[]> {
  const before = await captureEmpty(r.client);
  const dbname = r.target.dbnameArg ? [`--dbname=${r.target.dbnameArg}`] : [];
  if (r.createRoleSql) await r.client.query(r.createRoleSql);
  let interrupted: NodeJS.Signals | undefined;
  const restore = runTool(
    "pg_restore",
    r.pgRestore,
    ["--exit-on-error", `--jobs=${r.jobs}`, ...r.restoreArgs, ...dbname, r.file],
    { env: r.target.env },
  );
  const dispose = onTermination((signal) => {
    interrupted = signal;
    restore.child.kill("SIGTERM");
  });
  let failure: string | undefined;
  let countsDiffer = false;
  let checks: TableCheck[] = [];
  try {
    failure = await restore.done.then(
      () => undefined,
      (err: Error) => err.message,
    );
    if (!failure && !interrupted) {
      const extra = await Promise.all(
        Array.from({ length: Math.max(0, Math.min(r.jobs, r.tables.length) - 1) }, r.connect),
      );
      try {
        checks = await countTables([r.client, ...extra], r.tables);
      } finally {
        await Promise.all(extra.map((c) => c.end().catch(() => undefined)));
      }
      const bad = checks.filter((c) => c.actual !== c.expected).length;
      if (bad > 0) {
        countsDiffer = true;
        failure =
          `${bad} of ${checks.length} table(s) differ from the manifest: ` +
          checks
            .filter((c) => c.actual !== c.expected)
            .slice(0, 5)
            .map((c) => `${c.table} expected ${c.expected}, restored ${c.actual ?? "missing"}`)
            .join("; ");
      }
    }
  } finally {
    dispose();
  }
  if (!failure && !interrupted) return checks;
  const why = interrupted ? `interrupted by ${interrupted}; pg_restore stopped` : failure;
  try {
    await resetToEmpty(r.client, before, r.createRoles);
  } catch (err) {
    throw new DrctlError(
      `${why}; putting the empty target back failed too (${err instanceof Error ? err.message : String(err)}): ` +
        `target ${r.target.label} is partly restored; drop and recreate it before retrying`,
    );
  }
  const message = `${why}; what it had restored was removed: target ${r.target.label} is empty again, as it was`;
  throw countsDiffer ? new VerificationError(message) : new DrctlError(message);
}
