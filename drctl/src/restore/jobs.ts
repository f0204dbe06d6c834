import type { Client } from "pg";
import { DrctlError, VerificationError } from "../errors";
import type { TableCount } from "../manifest";
import { archiveToc } from "../parallel/archiveToc";
import { tableKey } from "../parallel/streamCounts";
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
 * Counts each table on `client` as soon as pg_restore reports its data loaded (`--verbose`:
 * "finished item <dumpId> TABLE DATA <name>"), while pg_restore goes on with the other tables and
 * the indexes: the check's queries no longer wait for the last index to be built. Each item of a
 * parallel restore is its own transaction, committed before the worker reports it done
 * (https://www.postgresql.org/docs/current/app-pgrestore.html, --jobs; pg_backup_archiver.c).
 * A count waits at most 100 ms for its lock (an ALTER TABLE that adds the primary key holds an
 * ACCESS EXCLUSIVE lock while it builds it) and is otherwise left to the count after pg_restore.
 */
export function countAsLoaded(
  client: Client,
  tables: readonly TableCount[],
  file: string,
): { line(text: string): void; settle(): Promise<Map<TableCount, TableCheck>> } {
  const done = new Map<TableCount, TableCheck>();
  const byKey = new Map(tables.map((t) => [tableKey(t.schema, t.name), t]));
  // dumpId → table, from the archive's own TOC (the verbose line names the table without schema).
  const byId = archiveToc(file).then(
    (entries) =>
      new Map(
        entries
          .filter((e) => e.desc === "TABLE DATA")
          .map((e) => [e.dumpId, byKey.get(tableKey(e.namespace, e.tag))] as const)
          .filter((e): e is readonly [number, TableCount] => e[1] !== undefined),
      ),
    () => new Map<number, TableCount>(),
  );
  let queue = Promise.resolve();
  const count = async (t: TableCount): Promise<void> => {
    try {
      await client.query("begin");
      await client.query("set local lock_timeout = '100ms'");
      done.set(t, await countTable(client, t));
      await client.query("commit");
    } catch {
      await client.query("rollback").catch(() => undefined);
    }
  };
  return {
    line(text) {
      const m = /finished item (\d+) TABLE DATA /.exec(text);
      if (!m) return;
      const id = Number(m[1]);
      queue = queue.then(async () => {
        const t = (await byId).get(id);
        if (t) await count(t);
      });
    },
    async settle() {
      await queue;
      return done;
    },
  };
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
    ["--exit-on-error", "--verbose", `--jobs=${r.jobs}`, ...r.restoreArgs, ...dbname, r.file],
    { env: r.target.env },
  );
  const early = countAsLoaded(r.client, r.tables, r.file);
  let partial = "";
  restore.child.stderr?.on("data", (d: Buffer) => {
    const lines = (partial + d.toString()).split("\n");
    partial = lines.pop() ?? "";
    for (const l of lines) early.line(l);
  });
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
    const counted = await early.settle();
    if (!failure && !interrupted) {
      const rest = r.tables.filter((t) => !counted.has(t));
      const extra = await Promise.all(
        Array.from({ length: Math.max(0, Math.min(r.jobs, rest.length) - 1) }, r.connect),
      );
      try {
        const late = await countTables([r.client, ...extra], rest);
        const byTable = new Map(rest.map((t, i) => [t, late[i]]));
        checks = r.tables.map((t) => counted.get(t) ?? byTable.get(t)!);
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
