import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { Client } from "pg";
import { findPgBinary } from "../drctl/src/postgres/binaries";
import { LocalCluster, freePort, serverSpawnOptions } from "../drctl/src/postgres/localCluster";

export const SLOT = "rehearsal_standby";
export const STANDBY_NAME = "rehearsal_standby";

/** Runs a PostgreSQL program as the server's OS user; rejects with its output on failure. */
export function runAsServer(
  tool: string,
  args: string[],
  track?: (child: ChildProcess) => void,
): Promise<string> {
  const bin = findPgBinary(tool);
  return new Promise((resolve, reject) => {
    const child = spawn(bin.path, args, {
      ...serverSpawnOptions(),
      stdio: ["ignore", "pipe", "pipe"],
    });
    track?.(child);
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("error", reject);
    child.on("exit", (code, signal) =>
      code === 0
        ? resolve(out)
        : reject(
            new Error(`${tool} failed (${signal ?? `exit ${code}`}): ${err.trim() || out.trim()}`),
          ),
    );
  });
}

/**
 * Clones `primary` with `pg_basebackup -R -X stream -C -S <slot>` into `baseDir` and wraps it as a
 * hot standby (not started). The slot makes the primary keep WAL the standby has not received.
 */
export async function cloneStandby(
  primary: LocalCluster,
  baseDir: string,
  options: { stuck?: boolean; track?: (child: ChildProcess) => void } = {},
): Promise<LocalCluster> {
  const dataDir = join(baseDir, "data");
  await runAsServer(
    "pg_basebackup",
    [
      "-D",
      dataDir,
      "-R",
      "-X",
      "stream",
      "-C",
      "-S",
      SLOT,
      "-c",
      "fast",
      "--no-sync",
      "-d",
      `host=127.0.0.1 port=${primary.port} user=postgres`,
    ],
    options.track,
  );
  const port = await freePort();
  // A port nothing listens on: the walreceiver retries forever and never streams (DRILL_FAULT).
  const badPort = options.stuck ? await freePort() : undefined;
  const conninfo = `host=127.0.0.1 port=${badPort ?? primary.port} user=postgres application_name=${STANDBY_NAME}`;
  return LocalCluster.fromDataDir(baseDir, dataDir, port, {
    hot_standby: "on",
    primary_conninfo: conninfo,
    primary_slot_name: SLOT,
    // The standby must not wait for a standby of its own once promoted, whatever it inherited.
    synchronous_standby_names: "",
    wal_receiver_status_interval: "1s",
  });
}

/** Polls the primary's pg_stat_replication until our standby is `streaming` (and `sync`, if asked). */
export async function waitForStreaming(
  primaryUrl: string,
  timeoutMs: number,
  syncState?: "sync",
): Promise<{ state: string; syncState: string }> {
  const deadline = Date.now() + timeoutMs;
  const client = new Client({ connectionString: primaryUrl });
  await client.connect();
  try {
    let last = "not connected";
    for (;;) {
      const { rows } = await client.query<{ state: string; sync_state: string }>(
        "select state, sync_state from pg_stat_replication where application_name = $1",
        [STANDBY_NAME],
      );
      const row = rows[0];
      if (row) last = `state ${row.state}, sync_state ${row.sync_state}`;
      if (row?.state === "streaming" && (!syncState || row.sync_state === syncState)) {
        return { state: row.state, syncState: row.sync_state };
      }
      if (Date.now() > deadline) {
        throw new Error(
          `the standby did not reach state streaming${syncState ? ` with sync_state ${syncState}` : ""} ` +
            `within ${timeoutMs / 1000} s (pg_stat_replication: ${last}); check the standby's ` +
            `primary_conninfo and its log`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Turns synchronous replication on. Only after the standby streams: with synchronous_standby_names
 * set and no synchronous standby connected, every COMMIT waits forever (the measured trap).
 */
export async function enableSync(primaryUrl: string, timeoutMs: number): Promise<void> {
  const client = new Client({ connectionString: primaryUrl });
  await client.connect();
  try {
    await client.query(`alter system set synchronous_standby_names = '"${STANDBY_NAME}"'`);
    await client.query("select pg_reload_conf()");
  } finally {
    await client.end();
  }
  await waitForStreaming(primaryUrl, timeoutMs, "sync");
}
