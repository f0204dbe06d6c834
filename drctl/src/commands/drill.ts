import type { Client } from "pg";
import { findBackup, type CompleteBackup } from "../catalog";
import {
  parse,
  parsePositiveInt,
  parseTier,
  pick,
  STORE_OPTIONS,
  storeFrom,
  str,
  type Ctx,
} from "../cli";
import { formatAge } from "../duration";
import { DrctlError, EXIT, UsageError, explain } from "../errors";
import { newBackupId, type Tier } from "../manifest";
import { metricsTarget, publishMetrics, warn, type Datum } from "../metrics";
import { resolveTarget, type DbTarget } from "../postgres/target";
import { silentSink, type EventSink } from "../progress";
import { parseScratchBytes, scratchFit } from "../restore/scratchFit";
import { runSmokeSql, smokeFailure, smokePassed, type SmokeResult } from "../restore/smokeSql";
import { checkStore, putBytes, readText, type Store } from "../store";
import { DRCTL_VERSION } from "../version";
import { connect, warnArgvPassword } from "./backup";
import { restoreBackup, type TableCheck } from "./restore";
import { writeTimeline } from "./drillTimeline";
import { verifyBackup } from "./verify";

export const REPORT_FORMAT_VERSION = 1;
export const DEFAULT_REPORT_DIR = "reports";

/** Steps in the order they run; a drill stops at the first failure (cleanup always runs). */
export const DRILL_STEPS = [
  "find-backup",
  "verify",
  "create-scratch",
  "restore",
  "row-counts",
  "smoke-sql",
  "drop-scratch",
] as const;
export type DrillStepName = (typeof DRILL_STEPS)[number];

export interface DrillStep {
  readonly name: DrillStepName;
  readonly startedAt: string;
  readonly durationSeconds: number;
  readonly passed: boolean;
  /** Why it failed, or a short note on what it found. */
  readonly reason?: string;
}

export type { SmokeResult } from "../restore/smokeSql";

export interface DrillReport {
  readonly formatVersion: typeof REPORT_FORMAT_VERSION;
  readonly drillId: string;
  /** Key of this report in the store, e.g. `reports/2026-12-02-20261202T060000Z-a1b2c3.json`. */
  readonly reportKey: string;
  readonly store: string;
  readonly drctlVersion: string;
  /** The newest complete backup (of `tier` when one was asked for); null when there is none. */
  readonly backupId: string | null;
  readonly tier: Tier | null;
  readonly requestedTier: Tier | null;
  /** When the backup's snapshot was taken (the manifest's startedAt): the data is as of then. */
  readonly backupSnapshotAt: string | null;
  readonly backupFinishedAt: string | null;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly durationSeconds: number;
  readonly steps: DrillStep[];
  /** Drill start − the backup's snapshot time: the recovery point this drill proves (RPO). */
  readonly backupAgeSeconds: number | null;
  /** Download, checksum, pg_restore and row count of the whole backup: the restore path's RTO. */
  readonly restoreDurationSeconds: number | null;
  /**
   * The drill's RTO: every step from finding the backup to the last check (download, verify, the
   * target's creation, restore, row counts, smoke SQL), summed; null unless every step passed.
   */
  readonly rtoSeconds: number | null;
  /** The RPO this drill proves, in seconds: the same figure as backupAgeSeconds. */
  readonly rpoSeconds: number | null;
  /** Scratch server and database the backup was restored into (dropped unless kept). */
  readonly scratch: { readonly server: string; readonly database: string; readonly kept: boolean };
  readonly integrity: {
    readonly tables: number;
    readonly tablesMatching: number;
    /** tablesMatching / tables (1 for a backup with no tables); null when nothing was restored. */
    readonly passRate: number | null;
    readonly mismatches: TableCheck[];
  };
  readonly smoke: SmokeResult[];
  /** Steps a person had to do by hand for the restore to succeed; an automated drill has none. */
  readonly manualInterventions: 0;
  readonly passed: boolean;
  /** The first failing step and why; absent when the drill passed. */
  readonly failure?: { readonly step: DrillStepName; readonly reason: string };
}

export interface DrillOptions {
  readonly store: Store;
  /** A PostgreSQL server the drill may create and drop a database on (the URL's database is only used to connect). */
  readonly scratch: DbTarget;
  readonly scratchUrl: string;
  readonly tier?: Tier;
  /** Each must return at least one row in the restored database. */
  readonly smokeSql?: readonly string[];
  /** @default "reports" */
  readonly reportDir?: string;
  /** Keep the scratch database for inspection. @default false */
  readonly keep?: boolean;
  readonly env?: NodeJS.ProcessEnv;
  readonly sink?: EventSink;
  /** @default () => new Date() */
  readonly now?: () => Date;
  /** pg_restore --jobs for the restore step (a directory dump restores in parallel). @default 1 */
  readonly jobs?: number;
  /**
   * Bytes of each of the drill's scratch volumes (DRCTL_SCRATCH_BYTES): a backup whose manifest
   * says it needs more is refused before anything is downloaded. @default unchecked
   */
  readonly scratchBytes?: number;
  /** Told what the drill could not check (an old manifest). @default ignored */
  readonly onWarning?: (message: string) => void;
}

/** `reports/<YYYY-MM-DD>-<drill-id>.json`, the date in UTC so keys sort by time. */
export function reportKey(reportDir: string, drillId: string, started: Date): string {
  const dir = reportDir.replace(/^\/+|\/+$/g, "");
  return `${dir ? `${dir}/` : ""}${started.toISOString().slice(0, 10)}-${drillId}.json`;
}

/** `drill_<id>` lower-cased, a valid unquoted identifier under PostgreSQL's 63-byte limit. */
export function scratchDatabaseName(drillId: string): string {
  return `drill_${drillId.toLowerCase().replace(/[^a-z0-9]/g, "_")}`;
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

/** A step's failing reason: the error in one line, without a prefix (the step names itself). */
function message(err: unknown): string {
  const e = explain(err, "");
  return e.message;
}

class StepFailed extends Error {}

/**
 * Restores the newest complete backup into a fresh scratch database and proves it: deep verify,
 * row counts against the manifest, smoke SQL. Never throws for a failing drill: the failure is
 * the finding, and it goes into the returned report. Does not write the report (see runDrill).
 */
export async function drill(options: DrillOptions): Promise<DrillReport> {
  const now = options.now ?? (() => new Date());
  const env = options.env ?? process.env;
  const sink = options.sink ?? silentSink;
  const { store, scratch } = options;
  const started = now();
  const drillId = newBackupId(started);
  const key = reportKey(options.reportDir ?? DEFAULT_REPORT_DIR, drillId, started);
  const database = scratchDatabaseName(drillId);
  const steps: DrillStep[] = [];
  let failure: { step: DrillStepName; reason: string } | undefined;
  let backup: CompleteBackup | undefined;
  let restoreDurationSeconds: number | null = null;
  let checks: TableCheck[] | undefined;
  const smoke: SmokeResult[] = [];
  let created = false;
  let admin: Client | undefined;

  sink({ event: "start", op: "drill", id: drillId, store: store.url, scratch: scratch.label });

  /** Runs one step; a thrown error or a StepFailed becomes its failing reason. */
  async function step(name: DrillStepName, body: () => Promise<string | undefined>): Promise<void> {
    const at = now();
    let passed = true;
    let reason: string | undefined;
    try {
      reason = await body();
    } catch (err) {
      passed = false;
      reason = err instanceof StepFailed ? err.message : message(err);
    }
    const durationSeconds = (now().getTime() - at.getTime()) / 1000;
    steps.push({ name, startedAt: at.toISOString(), durationSeconds, passed, reason });
    sink({ event: "done", op: `drill:${name}`, seconds: durationSeconds, passed });
    if (!passed && !failure && name !== "drop-scratch") failure = { step: name, reason: reason! };
  }
  const go = () => failure === undefined;

  try {
    await step("find-backup", async () => {
      backup = await findBackup(store, "latest", { tier: options.tier });
      if (options.scratchBytes === undefined) return `${backup.tier}/${backup.id}`;
      const fit = scratchFit(backup.manifest, options.scratchBytes);
      if (fit.refusal) throw new StepFailed(fit.refusal);
      if (fit.warning) options.onWarning?.(fit.warning);
      return `${backup.tier}/${backup.id}${fit.warning ? " (restore sizes not recorded)" : ""}`;
    });
    if (go()) {
      await step("verify", async () => {
        const r = await verifyBackup({ store, backup: backup!, deep: true, env, sink });
        if (!r.ok) throw new StepFailed(`verify --deep failed: ${r.problem ?? "unknown problem"}`);
        return `sha256 and archive ok (${r.size} bytes)`;
      });
    }
    if (go()) {
      await step("create-scratch", async () => {
        admin = await connect(scratch, "scratch server");
        // template0: a pg_dump restore expects a pristine database, not whatever template1 holds
        // (https://www.postgresql.org/docs/current/app-pgdump.html, "Notes").
        await admin.query(`create database ${database} template template0`);
        created = true;
        return database;
      });
    }
    if (go()) {
      await step("restore", async () => {
        const target = resolveTarget(
          withDatabase(options.scratchUrl, database),
          env,
          "--scratch-url",
        );
        const r = await restoreBackup({
          store,
          backup: backup!,
          target,
          env,
          sink,
          jobs: options.jobs,
        });
        checks = r.checks;
        return `${r.checks.length} table(s) into ${target.label}`;
      });
      const restored = steps.at(-1);
      if (restored?.passed) restoreDurationSeconds = restored.durationSeconds;
    }
    if (go()) {
      await step("row-counts", () => {
        const bad = (checks ?? []).filter((c) => c.actual !== c.expected);
        if (bad.length > 0) {
          throw new StepFailed(
            `${bad.length} of ${checks!.length} table(s) differ from the manifest: ` +
              bad
                .slice(0, 5)
                .map((c) => `${c.table} expected ${c.expected}, restored ${c.actual ?? "missing"}`)
                .join("; "),
          );
        }
        return Promise.resolve(`${checks!.length} table(s) match the manifest`);
      });
    }
    if (go()) {
      await step("smoke-sql", async () => {
        const queries = options.smokeSql ?? [];
        if (queries.length === 0) return "no smoke SQL configured";
        const target = resolveTarget(
          withDatabase(options.scratchUrl, database),
          env,
          "--scratch-url",
        );
        const client = await connect(target, "scratch database");
        try {
          smoke.push(...(await runSmokeSql(client, queries, message)));
        } finally {
          await client.end().catch(() => undefined);
        }
        const failed = smokeFailure(smoke);
        if (failed) throw new StepFailed(failed);
        return smokePassed(smoke);
      });
    }
  } finally {
    if (created && !options.keep) {
      await step("drop-scratch", async () => {
        // force (PostgreSQL 13+) ends sessions a smoke query or pg_restore job may have left.
        await admin!.query(`drop database if exists ${database} with (force)`);
        return database;
      });
    }
    await admin?.end().catch(() => undefined);
  }

  const finished = now();
  const matching = checks?.filter((c) => c.actual === c.expected).length ?? 0;
  const b = backup;
  const snapshotAt = b ? new Date(b.manifest.startedAt) : undefined;
  const report: DrillReport = {
    formatVersion: REPORT_FORMAT_VERSION,
    drillId,
    reportKey: key,
    store: store.url,
    drctlVersion: DRCTL_VERSION,
    backupId: b?.id ?? null,
    tier: b?.tier ?? null,
    requestedTier: options.tier ?? null,
    backupSnapshotAt: b?.manifest.startedAt ?? null,
    backupFinishedAt: b?.manifest.finishedAt ?? null,
    startedAt: started.toISOString(),
    finishedAt: finished.toISOString(),
    durationSeconds: (finished.getTime() - started.getTime()) / 1000,
    steps,
    backupAgeSeconds: snapshotAt
      ? Math.round((started.getTime() - snapshotAt.getTime()) / 1000)
      : null,
    restoreDurationSeconds,
    rtoSeconds:
      steps.length > 0 && steps.every((st) => st.passed)
        ? Math.round(steps.reduce((sum, st) => sum + st.durationSeconds, 0) * 1000) / 1000
        : null,
    rpoSeconds: snapshotAt ? Math.round((started.getTime() - snapshotAt.getTime()) / 1000) : null,
    scratch: { server: scratch.label, database, kept: created && options.keep === true },
    integrity: {
      tables: checks?.length ?? 0,
      tablesMatching: matching,
      passRate: checks === undefined ? null : checks.length === 0 ? 1 : matching / checks.length,
      mismatches: checks?.filter((c) => c.actual !== c.expected) ?? [],
    },
    smoke,
    manualInterventions: 0,
    passed: failure === undefined,
    ...(failure ? { failure } : {}),
  };
  return report;
}

/** The drill's metrics: DrillSuccess always, the durations only when the drill got that far. */
export function drillData(report: DrillReport, reportWritten: boolean): Datum[] {
  const data: Datum[] = [{ metric: "drillSuccess", value: report.passed && reportWritten ? 1 : 0 }];
  if (report.restoreDurationSeconds !== null) {
    data.push({ metric: "drillRestoreDuration", value: report.restoreDurationSeconds });
  }
  if (report.backupAgeSeconds !== null) {
    data.push({ metric: "drillBackupAge", value: report.backupAgeSeconds });
  }
  return data;
}

/** Writes the report to the store (SSE-KMS like backups when the store was opened with a key). */
export async function writeReport(store: Store, report: DrillReport): Promise<void> {
  await putBytes(store, report.reportKey, Buffer.from(`${JSON.stringify(report, null, 2)}\n`));
}

/**
 * End time of the newest report under `reportDir` that passed, or undefined. Lists only that
 * prefix (the jobs' IAM policy scopes ListBucket to the tier and reports prefixes) and reads
 * reports newest first until one passed.
 */
export async function lastPassingDrill(
  store: Store,
  reportDir: string = DEFAULT_REPORT_DIR,
): Promise<{ key: string; finishedAt: Date } | undefined> {
  const dir = reportDir.replace(/^\/+|\/+$/g, "");
  const objects = (await store.list(`${dir}/`)).filter((o) => o.key.endsWith(".json"));
  for (const o of [...objects].reverse()) {
    let parsed: { passed?: unknown; finishedAt?: unknown };
    try {
      parsed = JSON.parse(await readText(store, o.key)) as typeof parsed;
    } catch {
      continue; // not a report this drctl wrote; an unreadable report proves nothing
    }
    if (parsed.passed === true && typeof parsed.finishedAt === "string") {
      const finishedAt = new Date(parsed.finishedAt);
      if (!Number.isNaN(finishedAt.getTime())) return { key: o.key, finishedAt };
    }
  }
  return undefined;
}

export function formatReport(r: DrillReport): string[] {
  const lines = [
    `drill ${r.drillId}: ${r.passed ? "PASSED" : "FAILED"}`,
    `backup:     ${r.backupId ? `${r.tier}/${r.backupId} (snapshot ${r.backupSnapshotAt})` : "none"}`,
  ];
  for (const s of r.steps) {
    lines.push(
      `  ${(s.passed ? "ok" : "FAILED").padEnd(7)} ${s.name.padEnd(15)} ${s.durationSeconds.toFixed(1).padStart(7)}s  ${s.reason ?? ""}`,
    );
  }
  if (r.backupAgeSeconds !== null) {
    lines.push(`RPO proven: ${formatAge(r.backupAgeSeconds * 1000)} (backup age at drill time)`);
  }
  if (r.restoreDurationSeconds !== null) {
    lines.push(`RTO (restore path): ${r.restoreDurationSeconds.toFixed(1)}s`);
  }
  if (r.integrity.passRate !== null) {
    lines.push(
      `integrity: ${r.integrity.tablesMatching}/${r.integrity.tables} table(s) match (${(r.integrity.passRate * 100).toFixed(1)}%)`,
    );
  }
  if (r.failure) lines.push(`reason: ${r.failure.step}: ${r.failure.reason}`);
  lines.push(`report: ${r.store.replace(/\/+$/, "")}/${r.reportKey}`);
  return lines;
}

export const DRILL_USAGE = `drctl drill --scratch-url URL [--store URL] [--tier T] [--smoke-sql SQL ...] [--report-dir DIR]
            [--keep] [--jobs N] [--sse-kms-key-id ID] [--no-metrics] [--json]
Restores the newest complete backup into a new database on the scratch server, verifies it
(verify --deep, row counts, smoke SQL), writes <report-dir>/<date>-<drill-id>.json to the store.
Exit 2 when the drill failed (the report says why), 1 when the report could not be written.`;

function parseSmokeSql(text: string | undefined): string[] {
  if (text === undefined) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new UsageError(
      `DRCTL_SMOKE_SQL is not valid JSON; expected an array of SQL strings, e.g. ["select 1 from users limit 1"]`,
    );
  }
  if (!Array.isArray(parsed) || !parsed.every((q) => typeof q === "string")) {
    throw new UsageError(
      `DRCTL_SMOKE_SQL must be a JSON array of SQL strings, e.g. ["select 1 from users limit 1"]`,
    );
  }
  return parsed;
}

/** `drctl drill`: the report on stdout (--json) or a summary; exit 2 when the drill failed. */
export async function drillCli(argv: string[], ctx: Ctx): Promise<number> {
  const { values } = parse(
    "drill",
    argv,
    {
      ...STORE_OPTIONS,
      "scratch-url": { type: "string" },
      tier: { type: "string" },
      "smoke-sql": { type: "string", multiple: true },
      "report-dir": { type: "string" },
      keep: { type: "boolean" },
      jobs: { type: "string" },
      "sse-kms-key-id": { type: "string" },
      "no-metrics": { type: "boolean" },
      json: { type: "boolean" },
    },
    false,
  );
  if (values.help) {
    ctx.out(DRILL_USAGE);
    return EXIT.ok;
  }
  const env = ctx.env;
  const scratchUrl = pick(values, "scratch-url", env, "DRCTL_SCRATCH_URL");
  if (!scratchUrl) {
    throw new UsageError(
      "drctl drill needs --scratch-url postgresql://user@host/postgres (or DRCTL_SCRATCH_URL): " +
        "a server it may create and drop a database on, never the production database",
    );
  }
  warnArgvPassword(ctx, "drill", values, "scratch-url");
  const scratch = resolveTarget(scratchUrl, env, "--scratch-url");
  const tier = parseTier(pick(values, "tier", env, "DRCTL_TIER"));
  const flagSql = (values as Record<string, unknown>)["smoke-sql"];
  const smokeSql =
    Array.isArray(flagSql) && flagSql.length > 0
      ? (flagSql as string[])
      : parseSmokeSql(env.DRCTL_SMOKE_SQL === "" ? undefined : env.DRCTL_SMOKE_SQL);
  const reportDir = str(values, "report-dir") ?? env.DRCTL_REPORT_DIR ?? DEFAULT_REPORT_DIR;
  const store = storeFrom(values, env, pick(values, "sse-kms-key-id", env, "DRCTL_SSE_KMS_KEY_ID"));
  const target = metricsTarget(env, { noMetrics: values["no-metrics"] === true });
  // Before anything else: a report written to a store that is not there would create it.
  await checkStore(store);

  const report = await drill({
    store,
    scratch,
    scratchUrl,
    tier,
    smokeSql,
    reportDir,
    keep: values.keep === true,
    jobs: parsePositiveInt(pick(values, "jobs", env, "DRCTL_JOBS") ?? "1", "--jobs"),
    scratchBytes: parseScratchBytes(env.DRCTL_SCRATCH_BYTES),
    onWarning: (m) => warn(ctx.io.stderr, "drill", m),
    env,
    sink: ctx.sink,
  });
  let writeError: DrctlError | undefined;
  try {
    await writeReport(store, report);
    // The picture beside it is for people; the report is the record, so a failure only warns.
    await writeTimeline(store, report).catch((err: unknown) =>
      warn(
        ctx.io.stderr,
        "drill",
        `the timeline picture could not be written beside ${report.reportKey}: ${explain(err, `store ${store.url}`).message}`,
      ),
    );
  } catch (err) {
    const e = explain(err, `store ${store.url}`);
    writeError = new DrctlError(
      `the drill ${report.passed ? "passed" : "failed"}, but its report could not be written to ` +
        `${store.url} as ${report.reportKey}: ${e.message}; check s3:PutObject on the ` +
        `${reportDir}/ prefix (and --sse-kms-key-id if the bucket requires it)`,
    );
  }
  await publishMetrics(target, drillData(report, writeError === undefined), ctx.io.stderr, "drill");
  if (values.json) {
    ctx.out(JSON.stringify(report, null, 2));
  } else {
    for (const line of formatReport(report)) ctx.out(line);
  }
  if (writeError) throw writeError;
  ctx.sink({ event: "done", op: "drill", id: report.drillId, seconds: report.durationSeconds });
  if (report.failure) {
    const message =
      `drill ${report.drillId} failed at ${report.failure.step}: ${report.failure.reason}; ` +
      `the report is ${report.reportKey} in ${store.url}`;
    ctx.sink({ event: "error", op: "drill", message });
    ctx.io.stderr.write(`drctl drill: ${message}\n`);
    return EXIT.breached;
  }
  return EXIT.ok;
}
