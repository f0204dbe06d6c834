import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { Client } from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { LocalCluster, makeServerDir } from "../../drctl/src/postgres/localCluster";
import { Cleanup, processesUnder, reapOnCleanup } from "../../rehearsal/cleanup";
import { accepts } from "./run";

/** Whether `pid` still runs: gone from /proc, or a zombie (exited, waiting to be reaped), is not. */
function running(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.[0] !== "Z";
  } catch {
    return false;
  }
}

/**
 * The rehearsal's own clean-up, on a real server crashed as the rehearsal crashes its primary
 * (SIGKILL to the postmaster): the backends it leaves exit only when they notice, so without the
 * wait `npm run drill` would return while they still run.
 */
describe("the rehearsal's clean-up", () => {
  const runDir = makeServerDir("drstack-cleanup-test-");
  afterAll(() => rmSync(runDir, { recursive: true, force: true }));

  it("returns only when every server process under the run directory has exited", async () => {
    const cluster = await LocalCluster.init({ baseDir: join(runDir, "primary") });
    await cluster.start();
    const clients = [0, 1].map(() => new Client({ connectionString: cluster.url() }));
    for (const c of clients) {
      c.on("error", () => undefined);
      await c.connect();
    }
    const { rows } = await clients[0].query<{ pid: number }>(
      "select pid from pg_stat_activity where backend_type in ('client backend', 'checkpointer', 'walwriter')",
    );
    const pids = [cluster.pid as number, ...rows.map((r) => r.pid)];
    expect(pids.length).toBeGreaterThanOrEqual(4);

    const cleanup = new Cleanup();
    reapOnCleanup(cleanup, runDir);
    cleanup.add("stop primary", () => cluster.kill());
    const problems = await cleanup.run();

    // Right as it returns: nothing of the server runs, and its port is free for the next one.
    expect(pids.filter(running)).toEqual([]);
    expect(processesUnder(runDir)).toEqual([]);
    expect(problems).toEqual([]);
    expect(await accepts(cluster.port)).toBe(false);
    for (const c of clients) await c.end().catch(() => undefined);
  }, 60_000);
});
