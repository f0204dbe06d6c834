import { randomBytes } from "node:crypto";
import type { Readable } from "node:stream";
import type { Client } from "pg";
import { DrctlError } from "../errors";
import type { TableCount } from "../manifest";
import type { DbTarget } from "../postgres/target";
import { onTermination, runTool, type Tool } from "../postgres/tools";
import { TailHold, parseTxidLine, prologue, withoutFinalCommit } from "./script";
import { transactionOutcome, type TxOutcome } from "./txStatus";

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
  /** pg_restore flags besides `--single-transaction -f -` and the file: --clean, -x, -O, -L. */
  readonly restoreArgs: readonly string[];
  /** SQL run first in the same transaction (CREATE ROLE of the missing roles). */
  readonly preamble: string;
  /** SQL run after the preamble, before the archive: constraints of other tables set aside. */
  readonly setAside?: string;
  /** SQL run after the archive, before the row-count gate: those constraints put back. */
  readonly epilogue?: string;
  /** Row counts that must match before the transaction commits. */
  readonly tables: readonly TableCount[];
  /** A new connection to the target, to ask whether the transaction committed. */
  readonly connect: () => Promise<Client>;
}

export interface AtomicOutcome {
  /** True when the transaction committed: the target now holds the backup. */
  readonly committed: boolean;
  /** What the server said of the transaction (txid_status), or "rolled back" when none began. */
  readonly outcome: TxOutcome;
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
 * Restores in one transaction that ends in exactly one COMMIT, sent by drctl after the row-count
 * gate: `pg_restore --single-transaction -f -` writes the archive as one BEGIN … COMMIT script
 * (large-object data included, see ./script.ts); psql runs drctl's prologue (its own BEGIN, the
 * transaction id, `prologue`), the script without its COMMIT, then `epilogue`, the gate and
 * COMMIT, with ON_ERROR_STOP: on the first error psql exits and its session, with the
 * transaction still open, is rolled back by the server
 * (https://www.postgresql.org/docs/current/app-psql.html, ON_ERROR_STOP: "exit immediately with
 * exit code 3"). When psql exits early drctl stops feeding it and ends pg_restore, so nothing
 * waits on a dead pipe; when pg_restore fails or a signal arrives, drctl ends psql. Whatever
 * happened, the outcome is then asked of the server (txid_status of the recorded transaction,
 * ./txStatus.ts), never assumed.
 */
export async function restoreAtomically(r: AtomicRestore): Promise<AtomicOutcome> {
  const dbname = r.target.dbnameArg ? [`--dbname=${r.target.dbnameArg}`] : [];
  const psql = runTool(
    "psql",
    r.psql,
    ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-f", "-", ...dbname],
    { env: r.target.env, stdio: ["pipe", "pipe", "pipe"] },
  );
  const notices = new Map<number, number | undefined>();
  let errorLine: string | undefined;
  let tx: { txid: string; pid: number } | undefined;
  lines(psql.child.stdout!, (line) => (tx ??= parseTxidLine(line)));
  lines(psql.child.stderr!, (line) => {
    const m = /NOTICE:\s+drctl-rows (\d+) (\d+|missing)/.exec(line);
    if (m) notices.set(Number(m[1]), m[2] === "missing" ? undefined : Number(m[2]));
    else if (errorLine === undefined && /\b(ERROR|FATAL):|connection to server/.test(line)) {
      errorLine = line.replace(/^psql:[^:]*:\d+:\s*/, "").replace(/\s+/g, " ");
    }
  });
  const stdin = psql.child.stdin!;
  stdin.on("error", () => undefined);
  stdin.write(prologue(`${r.preamble}${r.setAside ?? ""}`));
  const restore = runTool(
    "pg_restore",
    r.pgRestore,
    ["--single-transaction", "-f", "-", ...r.restoreArgs, r.file],
    { env: r.target.env, stdio: ["ignore", "pipe", "pipe"] },
  );
  const hold = new TailHold(stdin);
  restore.child.stdout!.pipe(hold);
  const tools: Tool[] = [psql, restore];
  let interrupted: NodeJS.Signals | undefined;
  // Its pipes closed too: a child of pg_restore's (a wrapper's) must not keep them open, which
  // would delay the 'close' its exit status waits for.
  const stopRestore = (): void => {
    restore.child.stdout?.unpipe(hold);
    if (restore.child.exitCode === null && restore.child.signalCode === null) {
      restore.child.kill("SIGTERM");
    }
    restore.child.stdout?.destroy();
    restore.child.stderr?.destroy();
  };
  let psqlStopped = false;
  const stopAll = (): void => {
    stopRestore();
    if (psql.child.exitCode === null && psql.child.signalCode === null) {
      psqlStopped = true;
      psql.child.kill("SIGTERM");
    }
  };
  const dispose = onTermination((signal) => {
    interrupted = signal;
    stopAll();
  });
  // psql gone (an SQL error, killed, the server gone): nothing more can run, stop pg_restore.
  psql.child.once("exit", stopRestore);
  let failure: string | undefined;
  try {
    const restored = await restore.done.then(
      () => undefined,
      (err: Error) => err.message,
    );
    if (
      restored !== undefined ||
      interrupted ||
      psql.child.exitCode !== null ||
      psql.child.signalCode !== null
    ) {
      failure = restored;
      stopAll();
    } else {
      await hold.flushed;
      const end = withoutFinalCommit(hold.tail());
      if (end === undefined) {
        failure = "pg_restore's script did not end with the COMMIT of --single-transaction";
        stopAll();
      } else {
        stdin.end(`${end}${r.epilogue ?? ""}${countGateSql(r.tables)}commit;\n`);
      }
    }
    const psqlFailed = await psql.done.then(
      () => undefined,
      (err: Error) => err.message,
    );
    // psql that died on its own (killed, the server gone) is the cause, not the pg_restore
    // drctl stopped because of it.
    if (psqlFailed && !psqlStopped) failure = psqlFailed;
  } finally {
    dispose();
    await Promise.allSettled(tools.map((t) => t.done));
  }
  const why = errorLine ?? failure;
  if (!tx) {
    // psql ended before its first statement returned: no transaction id, nothing written.
    if (interrupted) throw interruptedError(interrupted, r.target.label);
    return { committed: false, outcome: "rolled back", checks: [], error: why ?? "psql failed" };
  }
  const { outcome, why: unknownWhy } = await transactionOutcome({ ...tx, connect: r.connect });
  if (outcome === "unknown") {
    throw new DrctlError(
      `restore into ${r.target.label} ended (${why ?? interrupted ?? "psql ended"}) and drctl could ` +
        `not find out whether its transaction ${tx.txid} committed (${unknownWhy}); ask the ` +
        `server with: select txid_status(${tx.txid});`,
    );
  }
  if (interrupted && outcome === "rolled back") throw interruptedError(interrupted, r.target.label);
  // The gate reports every table before it decides; fewer reports mean it never ran.
  const gateRan = notices.size === r.tables.length;
  const checks = gateRan
    ? r.tables.map((t, i) => ({
        table: t.qualified,
        expected: t.rows,
        ...(notices.get(i) !== undefined ? { actual: notices.get(i) } : {}),
      }))
    : [];
  return outcome === "committed"
    ? {
        committed: true,
        outcome,
        checks,
        ...(interrupted ? { error: `${interrupted} arrived after the COMMIT landed` } : {}),
      }
    : { committed: false, outcome, checks, error: why ?? "psql failed" };
}

/** Calls `each` for every complete line of a child's output. */
function lines(stream: Readable, each: (line: string) => void): void {
  let partial = "";
  stream.on("data", (d: Buffer) => {
    const all = (partial + d.toString()).split("\n");
    partial = all.pop() ?? "";
    for (const line of all) each(line);
  });
}

export function interruptedError(signal: NodeJS.Signals, label: string): DrctlError {
  return new DrctlError(
    `interrupted by ${signal}; pg_restore and psql stopped and the server reports the ` +
      `transaction rolled back: target ${label} is as it was before the restore`,
  );
}
