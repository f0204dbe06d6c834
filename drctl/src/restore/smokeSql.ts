import type { Client } from "pg";

/** One smoke query's outcome, as the drill and restore-test reports record it. */
export interface SmokeResult {
  readonly sql: string;
  readonly rows?: number;
  readonly passed: boolean;
  readonly reason?: string;
}

/**
 * Runs each smoke query on `client`; one passes when it returns at least one row. A string of
 * several statements gives one result per statement and the last one counts. A query that fails
 * is a failed check with the server's message (`describe`), not a thrown error: every query runs.
 */
export async function runSmokeSql(
  client: Pick<Client, "query">,
  queries: readonly string[],
  describe: (err: unknown) => string,
): Promise<SmokeResult[]> {
  const out: SmokeResult[] = [];
  for (const sql of queries) {
    try {
      const result: unknown = await client.query(sql);
      const last = (Array.isArray(result) ? result.at(-1) : result) as
        { rows?: unknown[] } | undefined;
      const n = last?.rows?.length ?? 0;
      out.push(
        n >= 1
          ? { sql, rows: n, passed: true }
          : { sql, rows: n, passed: false, reason: "returned no rows" },
      );
    } catch (err) {
      out.push({ sql, passed: false, reason: describe(err) });
    }
  }
  return out;
}

/** `2 of 3 smoke queries failed: "…" returned no rows; …`, or undefined when every one passed. */
export function smokeFailure(smoke: readonly SmokeResult[]): string | undefined {
  const bad = smoke.filter((s) => !s.passed);
  if (bad.length === 0) return undefined;
  return (
    `${bad.length} of ${smoke.length} smoke quer${smoke.length === 1 ? "y" : "ies"} failed: ` +
    bad.map((s) => `"${s.sql}" ${s.reason ?? ""}`).join("; ")
  );
}

/** `3 smoke queries returned rows`. */
export function smokePassed(smoke: readonly SmokeResult[]): string {
  return `${smoke.length} smoke quer${smoke.length === 1 ? "y" : "ies"} returned rows`;
}
