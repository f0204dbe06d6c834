import type { ChildProcess } from "node:child_process";
import { chownSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { Readable } from "node:stream";
import { pathToFileURL } from "node:url";
import { Client } from "pg";
import {
  findBackup,
  openStore,
  resolveTarget,
  restoreBackup,
  runBackup,
  verifyBackup,
} from "../drctl/src/api";
import {
  LocalCluster,
  makeServerDir,
  serverSpawnIdentity,
} from "../drctl/src/postgres/localCluster";
import type { Cleanup } from "./cleanup";
import { reapOnCleanup } from "./cleanup";
import { databaseSize, loadDataset } from "./dataset";
import type { Fault, RehearsalOptions } from "./options";
import { round, STEPS, type DrReport, type StepName } from "./report";
import { rpoFromAcks } from "./rpo";
import { cloneStandby, enableSync, waitForStreaming } from "./standby";
import { walGap } from "./wal";
import { WORKLOAD_TABLE, Workload } from "./workload";

const DB = "drill";

/** A step failed: the rehearsal stops, cleans up and writes a failing report with this reason. */
export class StepFailed extends Error {
  constructor(
    readonly step: StepName,
    message: string,
  ) {
    super(message);
  }
}

/** Counts the checks a step makes; a failed check fails the step with `what` as the reason. */
class Checks {
  passed = 0;
  total = 0;
  detail = "";
  check(ok: boolean, what: string): void {
    this.total++;
    if (ok) this.passed++;
    else throw new Error(what);
  }
  /** Records a partial result without failing (the RPO step: loss is an objective, not a crash). */
  rate(passed: number, total: number): void {
    this.passed += passed;
    this.total += total;
  }
}

export interface RunContext {
  readonly options: RehearsalOptions;
  readonly fault?: Fault;
  readonly cleanup: Cleanup;
  readonly report: DrReport;
  /** A live line for people (stdout, or stderr with --json). */
  readonly log: (line: string) => void;
}

function fmtSeconds(s: number): string {
  return s < 10 ? `${s.toFixed(2)} s` : `${s.toFixed(1)} s`;
}

/** Runs the eight steps in order, filling `ctx.report`. Throws StepFailed at the first failure. */
export async function rehearse(ctx: RunContext): Promise<void> {
  const { options, report, cleanup, log, fault } = ctx;
  const started = performance.now();

  async function step<T>(name: StepName, fn: (c: Checks) => Promise<T>): Promise<T> {
    const index = STEPS.findIndex((s) => s.name === name);
    const comp = report.components[index];
    const label = `${index + 1}/${STEPS.length} ${comp.title}`;
    log(`  … ${label}`);
    const checks = new Checks();
    const t0 = performance.now();
    comp.started_at = new Date().toISOString();
    comp.start_offset_seconds = round((t0 - started) / 1000);
    try {
      const result = await fn(checks);
      comp.status = "ok";
      comp.success = true;
      return result;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      comp.status = "failed";
      comp.error = message;
      throw new StepFailed(name, message);
    } finally {
      comp.duration_seconds = round((performance.now() - t0) / 1000);
      comp.integrity_pass_rate = checks.total === 0 ? 0 : round(checks.passed / checks.total, 6);
      if (checks.detail) comp.detail = checks.detail;
      report.total_seconds = round((performance.now() - started) / 1000);
      const mark = comp.success ? "✓" : "✗";
      const why = comp.success ? (comp.detail ? `  ${comp.detail}` : "") : `  ${comp.error}`;
      log(`  ${mark} ${label}  ${fmtSeconds(comp.duration_seconds)}${why}`);
    }
  }

  // The run directory: the server's OS user must own what initdb and pg_basebackup write into.
  const runDir = makeServerDir("drstack-rehearsal-");
  report.run_dir = runDir;
  cleanup.add("remove run directory", () => {
    if (!options.keep) rmSync(runDir, { recursive: true, force: true });
  });
  reapOnCleanup(cleanup, runDir);
  const sub = (name: string): string => {
    const dir = join(runDir, name);
    mkdirSync(dir);
    const who = serverSpawnIdentity();
    if (who) chownSync(dir, who.uid, who.gid);
    return dir;
  };

  // 1. Primary and dataset.
  const primary = await step("primary", async (c) => {
    const cluster = await LocalCluster.init({
      baseDir: sub("primary"),
      settings: {
        wal_level: "replica",
        max_wal_senders: "4",
        max_replication_slots: "4",
        hot_standby: "on",
        // No checkpoint in the middle of the load or the rehearsal: they only add noise here.
        max_wal_size: "4GB",
        checkpoint_timeout: "30min",
      },
    });
    cleanup.add("stop primary", () => halt(cluster, options.keep));
    await cluster.start();
    const admin = new Client({ connectionString: cluster.url() });
    await admin.connect();
    await admin.query(`create database ${DB}`);
    await admin.end();
    const rows = await loadDataset(cluster.url(DB), options.sizeBytes);
    await Workload.prepare(cluster.url(DB));
    const size = await databaseSize(cluster.url(), DB);
    report.sizes.dataset_bytes = size;
    c.check(
      size >= options.sizeBytes * 0.8,
      `dataset is ${size} bytes, expected about ${options.sizeBytes}`,
    );
    c.detail = `${mb(size)} in ${rows.toLocaleString("en-US")} rows, port ${cluster.port}`;
    return cluster;
  });

  // 2. Streaming standby.
  const standby = await step("standby", async (c) => {
    let basebackup: ChildProcess | undefined;
    cleanup.add("stop pg_basebackup", () => {
      if (basebackup && basebackup.exitCode === null) basebackup.kill("SIGKILL");
    });
    const cluster = await cloneStandby(primary, sub("standby"), {
      stuck: fault === "standby-stuck",
      track: (child) => (basebackup = child),
    });
    cleanup.add("stop standby", () => halt(cluster, options.keep));
    await cluster.start();
    const state = await waitForStreaming(primary.url(), options.standbyTimeoutMs);
    c.check(state.state === "streaming", `standby state ${state.state}`);
    if (options.sync) {
      // Only now, with the standby connected: earlier, every COMMIT would wait for it forever.
      await enableSync(primary.url(), options.standbyTimeoutMs);
      c.check(true, "sync");
      c.detail = `streaming, sync_state sync, port ${cluster.port}`;
    } else {
      c.detail = `streaming (async), port ${cluster.port}`;
    }
    return cluster;
  });

  // 3. Workload.
  const workload = await step("workload", async (c) => {
    const w = new Workload(primary.url(DB), "primary");
    w.start(options.writers);
    cleanup.add("stop workload", () => w.stop());
    const first = await w.waitForAck("primary", 0, 10_000);
    c.check(first.id > 0, "no acknowledged write");
    c.detail = `${options.writers} writers, small autocommit INSERTs`;
    return w;
  });

  // 4. Backup with drctl, then verify --deep.
  const storeUrl = options.store ?? pathToFileURL(join(runDir, "store")).href;
  const store = openStore(storeUrl, { endpoint: options.s3Endpoint });
  await step("backup", async (c) => {
    const t0 = performance.now();
    const manifest = await runBackup({
      store,
      tier: "daily",
      source: resolveTarget(primary.url(DB), process.env),
    });
    const seconds = (performance.now() - t0) / 1000;
    report.sizes.backup_bytes = manifest.dump.size;
    report.backup = {
      id: manifest.id,
      store: storeUrl,
      seconds: round(seconds),
      throughput_mb_per_s: round((report.sizes.dataset_bytes ?? 0) / 1024 ** 2 / seconds, 1),
    };
    const dumpKey = `${manifest.tier}/${manifest.id}/dump`;
    if (fault === "backup-missing") await store.delete(dumpKey);
    if (fault === "backup-corrupt") await corrupt(store, dumpKey);
    const backup = await findBackup(store, "latest");
    c.check(
      backup.id === manifest.id,
      `the newest complete backup is ${backup.id}, not ${manifest.id}`,
    );
    const verified = await verifyBackup({ store, backup, deep: true });
    c.check(verified.ok, `verify --deep failed for ${backup.id}: ${verified.problem ?? "unknown"}`);
    c.detail = `${manifest.id}, ${mb(manifest.dump.size)} stored, ${round(seconds, 1)} s backup, verified deep`;
  });

  // 5. Crash the primary while the workload writes. The probe starts first so it sees the fall.
  const acksBeforeCrash = workload.acks.length;
  const probe = new Probe(primary.url());
  cleanup.add("stop probe", () => probe.stop());
  await probe.waitUp();
  let crashedAt = 0;
  await step("crash", async (c) => {
    // Crash mid-stream: wait for a fresh acknowledgement so writes are in flight at the kill.
    await workload.waitForAck("primary", performance.now(), 5_000);
    c.check(workload.acks.length > acksBeforeCrash, "the workload is not writing");
    crashedAt = performance.now();
    await primary.kill();
    c.check(!primary.running, "postmaster still running");
    c.detail = `SIGKILL to postmaster, ${workload.acks.length.toLocaleString("en-US")} writes acknowledged so far`;
  });

  // 6. Detect, promote, first acknowledged write on the promoted node.
  await step("failover", async (c) => {
    const detectedAt = await probe.waitDown(5_000);
    void probe.stop();
    const lsn = await standbyLsn(standby.url());
    report.wal.standby_receive_lsn = lsn.receive;
    report.wal.standby_replay_lsn = lsn.replay;
    workload.retarget(standby.url(DB), "standby");
    const promoteAt = performance.now();
    const conn = new Client({ connectionString: standby.url() });
    await conn.connect();
    try {
      await conn.query("select pg_promote(wait => false)");
    } finally {
      await conn.end();
    }
    const ack = await workload.waitForAck("standby", crashedAt, 10_000);
    report.rto_seconds = round((ack.at - crashedAt) / 1000, 3);
    const since = (t: number) => round((t - started) / 1000);
    report.failover_timeline = {
      crash: since(crashedAt),
      detected: since(detectedAt),
      promote_requested: since(promoteAt),
      first_write: since(ack.at),
    };
    c.check(true, "first write");
    c.detail =
      `detected ${ms(detectedAt - crashedAt)}, promote requested ${ms(promoteAt - crashedAt)}, ` +
      `first write ${ms(ack.at - crashedAt)} after the crash`;
  });

  // 7. RPO: acknowledged ids missing on the promoted node; what WAL the standby never received.
  await step("rpo", async (c) => {
    await workload.stop();
    const acked = workload.acks;
    const have = new Set<number>();
    const conn = new Client({ connectionString: standby.url(DB) });
    await conn.connect();
    try {
      const { rows } = await conn.query<{ id: string }>(`select id::text from ${WORKLOAD_TABLE}`);
      for (const r of rows) have.add(Number(r.id));
    } finally {
      await conn.end();
    }
    const rpo = rpoFromAcks(acked, have, crashedAt);
    const lost = rpo.commitsLost;
    report.rpo_commits_lost = lost;
    report.rpo_seconds = rpo.seconds;
    report.rpo_lost_window = rpo.lostWindow;
    report.acknowledged_commits = acked.length;
    report.in_doubt_commits = workload.inDoubt;
    c.rate(acked.length - lost, acked.length);
    if (report.wal.standby_receive_lsn) {
      const gap = await walGap(primary.dataDir, report.wal.standby_receive_lsn);
      if (gap) {
        report.wal.primary_end_lsn = gap.primaryEndLsn;
        report.wal.records_not_received = gap.recordsNotReceived;
        report.wal.commits_not_received = gap.commitsNotReceived;
      } else {
        report.wal.note = "pg_waldump not available: WAL gap not measured";
      }
    }
    const walText =
      report.wal.records_not_received === undefined
        ? ""
        : `; WAL not received: ${report.wal.records_not_received} records, ${report.wal.commits_not_received} commits`;
    c.detail = `${lost} of ${acked.length.toLocaleString("en-US")} acknowledged commits lost (RPO ${report.rpo_seconds} s), ${workload.inDoubt} in doubt${walText}`;
  });

  // 8. Restore the newest backup into a scratch instance; row counts against the manifest.
  await step("restore", async (c) => {
    // Throwaway: no durability needed, so the restore measures pg_restore, not fsync.
    const scratch = await LocalCluster.init({
      baseDir: sub("scratch"),
      settings: { fsync: "off", synchronous_commit: "off", full_page_writes: "off" },
    });
    cleanup.add("stop scratch instance", () => halt(scratch, options.keep));
    await scratch.start();
    const admin = new Client({ connectionString: scratch.url() });
    await admin.connect();
    await admin.query(`create database ${DB}`);
    await admin.end();
    const backup = await findBackup(store, "latest");
    const result = await restoreBackup({
      store,
      backup,
      target: resolveTarget(scratch.url(DB), process.env, "--target-url"),
      jobs: 2,
    });
    for (const check of result.checks) {
      c.rate(check.actual === check.expected ? 1 : 0, 1);
    }
    const bad = result.checks.filter((x) => x.actual !== x.expected);
    c.check(
      bad.length === 0 && result.checks.length > 0,
      bad.length > 0
        ? `row counts differ from the manifest: ${bad.map((b) => `${b.table} ${b.actual ?? "missing"}/${b.expected}`).join(", ")}`
        : "the backup has no tables",
    );
    // The check above counted once more; keep the rate about tables.
    c.passed--;
    c.total--;
    const rows = result.checks.reduce((n, x) => n + x.expected, 0);
    c.detail = `${result.checks.length} tables, ${rows.toLocaleString("en-US")} rows match the manifest`;
  });
  report.total_seconds = round((performance.now() - started) / 1000);
}

/** Connects every ~50 ms; records when the server stops accepting. */
class Probe {
  private downAt: number | undefined;
  private upSeen = false;
  private stopped = false;
  private readonly loop: Promise<void>;

  constructor(private readonly url: string) {
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    while (!this.stopped && this.downAt === undefined) {
      const t = performance.now();
      const c = new Client({ connectionString: this.url, connectionTimeoutMillis: 200 });
      c.on("error", () => undefined);
      try {
        await c.connect();
        await c.query("select 1");
        this.upSeen = true;
      } catch {
        if (this.upSeen) this.downAt = performance.now();
      } finally {
        await c.end().catch(() => undefined);
      }
      const wait = 50 - (performance.now() - t);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  }

  async waitUp(): Promise<void> {
    while (!this.upSeen && !this.stopped) await new Promise((r) => setTimeout(r, 5));
  }

  async waitDown(timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (this.downAt === undefined) {
      if (Date.now() > deadline)
        throw new Error(`the probe still reaches the primary after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 2));
    }
    return this.downAt;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }
}

async function standbyLsn(url: string): Promise<{ receive: string; replay: string }> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    const { rows } = await c.query<{ receive: string; replay: string }>(
      "select pg_last_wal_receive_lsn()::text as receive, pg_last_wal_replay_lsn()::text as replay",
    );
    return rows[0];
  } finally {
    await c.end();
  }
}

/** DRILL_FAULT=backup-corrupt: flips bytes in the middle of the stored dump, as bit rot would. */
async function corrupt(store: ReturnType<typeof openStore>, key: string): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of await store.get(key)) chunks.push(chunk as Buffer);
  const bytes = Buffer.concat(chunks);
  const mid = Math.floor(bytes.length / 2);
  for (let i = mid; i < Math.min(bytes.length, mid + 64); i++) bytes[i] ^= 0xff;
  // Stores are create-only (drctl never replaces an object): bit rot is a delete and a rewrite here.
  await store.delete(key);
  await store.put(key, Readable.from([bytes]), { size: bytes.length });
}

/**
 * Stops a cluster at the end. Without --keep its directory is deleted next, so a SIGKILL is enough
 * and saves the shutdown checkpoint (seconds on a slow disk); with --keep it shuts down cleanly.
 */
function halt(cluster: LocalCluster, keep: boolean): Promise<void> {
  return keep ? cluster.stop(5_000) : cluster.kill();
}

function mb(bytes: number): string {
  return `${(bytes / 1024 ** 2).toFixed(1)} MB`;
}

function ms(v: number): string {
  return `${Math.round(v)} ms`;
}
