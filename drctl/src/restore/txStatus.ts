import { setTimeout as sleep } from "node:timers/promises";
import type { Client } from "pg";

/**
 * Whether a restore's transaction committed, asked of the server after psql ended, on a new
 * connection: `txid_status(txid)` answers `committed`, `aborted` or `in progress` for a recent
 * transaction, "to determine whether their transaction committed or aborted after the application
 * and database server become disconnected while a COMMIT is in progress"
 * (https://www.postgresql.org/docs/current/functions-info.html, Transaction ID and Snapshot
 * Information Functions). `in progress` after psql exited means the server has not yet noticed
 * the client is gone (a statement still running): drctl ends that backend with
 * pg_terminate_backend (https://www.postgresql.org/docs/current/functions-admin.html, allowed on
 * one's own role's backends) and asks again. A server that does not answer (restarting) is asked
 * again until `deadlineMs`; after that the outcome is `unknown`, never a guess.
 */
export type TxOutcome = "committed" | "rolled back" | "unknown";

export interface TxStatusQuery {
  readonly connect: () => Promise<Client>;
  /** txid_current() of the restore's transaction. */
  readonly txid: string;
  /** pg_backend_pid() of the restore's session. */
  readonly pid: number;
  /** @default 20000 */
  readonly deadlineMs?: number;
}

export async function transactionOutcome(
  q: TxStatusQuery,
): Promise<{ outcome: TxOutcome; why?: string }> {
  const deadline = Date.now() + (q.deadlineMs ?? 20_000);
  let why = "no answer";
  for (;;) {
    let client: Client | undefined;
    try {
      client = await q.connect();
      const { rows } = await client.query<{ s: string | null }>(
        "select txid_status($1::bigint) as s",
        [q.txid],
      );
      const s = rows[0].s;
      if (s === "committed") return { outcome: "committed" };
      if (s === "aborted") return { outcome: "rolled back" };
      if (s === null) return { outcome: "unknown", why: `txid_status(${q.txid}) is null` };
      // The backend's 32-bit xid is the low half of the 64-bit txid: end only that session.
      await client.query(
        `select pg_terminate_backend(pid) from pg_stat_activity
         where pid = $1 and backend_xid::text::bigint = ($2::bigint % 4294967296)`,
        [q.pid, q.txid],
      );
      why = `transaction ${q.txid} still in progress`;
    } catch (err) {
      why = err instanceof Error ? err.message : String(err);
    } finally {
      await client?.end().catch(() => undefined);
    }
    if (Date.now() > deadline) return { outcome: "unknown", why };
    await sleep(250);
  }
}
