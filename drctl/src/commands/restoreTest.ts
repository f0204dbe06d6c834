import { Client } from "pg";
import { explain } from "../errors";
import { throwawayLogin, throwawayPassword } from "../pitr/throwawayLogin";
import { sslFor } from "../postgres/tls";
import type { EventSink } from "../progress";
import {
  runSmokeSql,
  smokeFailure,
  smokePassed,
  type SmokeResult as SmokeCheck,
} from "../restore/smokeSql";
import { putBytes, readText, type Store } from "../store";
import type { RestoreJob, RestoreTestAws } from "./restoreTestAws";

/**
 * `drctl restore-test`: the validation step of the stack's AWS Backup restore testing plans
 * (components/restoreTesting/plan.ts, docs/restore-testing.md). Run hourly by a CronJob in the site's
 * own cluster, it lists the restore jobs each plan created, and for every completed one nobody
 * has validated yet: connects to the restored instance, runs the smoke SQL, records a report under
 * `reports/restore-tests/` in the site's bucket and publishes the result to AWS Backup with
 * PutRestoreValidationResult (AWS then deletes the instance). A restore job AWS itself failed is
 * recorded as a failed test. Each run re-publishes the age of the newest passing test, which the
 * "no successful restore test in 35 days" alarm reads.
 * https://docs.aws.amazon.com/aws-backup/latest/devguide/restore-testing-validation.html
 */

export const DEFAULT_RESTORE_TEST_DIR = "reports/restore-tests";
/**
 * A plan that started no restore job in this many days has a selection that matches nothing (a
 * month of schedule, and a day's start window more): the check says so and fails, rather than
 * passing on no evidence.
 */
export const NOTHING_MATCHED_DAYS = 32;

/** Validation windows are at most 168 h; a day more covers the restore itself. */
export const DEFAULT_LOOKBACK_HOURS = 192;

/** Metric names: the contract with the alarms in components/restoreTesting/alarms.ts. */
export const RESTORE_TEST_METRICS = {
  /** 1 for a passing test, 0 for a failing one, once per restore job. */
  success: { name: "RestoreTestSuccess", unit: "Count" },
  /** Seconds since the newest passing test was validated, every run. */
  lastSuccessAge: { name: "RestoreTestLastSuccessAgeSeconds", unit: "Seconds" },
} as const;

export type { SmokeResult as SmokeCheck } from "../restore/smokeSql";

export interface RestoreTestReport {
  readonly kind: "restore-test";
  readonly restoreJobId: string;
  readonly planArn: string;
  readonly sourceResourceArn: string | null;
  readonly restoredResourceArn: string | null;
  readonly recoveryPointArn: string | null;
  readonly recoveryPointCreatedAt: string | null;
  readonly restoreCompletedAt: string | null;
  /** Seconds from job creation to completion: what AWS took to restore (RTO of this layer). */
  readonly restoreSeconds: number | null;
  readonly validatedAt: string;
  readonly passed: boolean;
  readonly reason: string;
  /** Ordinary tables the restored database holds, outside the system schemas. */
  readonly tables: number | null;
  readonly smoke: SmokeCheck[];
}

export interface RestoreTestOptions {
  readonly planArns: readonly string[];
  readonly store: Store;
  readonly aws: RestoreTestAws;
  /**
   * The login the checks run as (`backup`: the production dumps' privileges). A restored copy
   * holds the passwords of its recovery point, so none of today's secrets is sure to open it:
   * drctl sets the copy's master password (ModifyDBInstance) and, as that master, gives this
   * login a throwaway password on the copy (../pitr/throwawayLogin.ts).
   */
  readonly login: string;
  /** How long to wait for the new master password to be applied before leaving it to a later run. */
  readonly modifyTimeoutMs: number;
  readonly pollMs: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly database: string;
  readonly smokeSql: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly sink: EventSink;
  readonly reportDir?: string;
  readonly lookbackHours?: number;
  readonly now?: () => Date;
}

export interface RestoreTestRun {
  /** Tests finished in this run (validated, or failed by AWS). */
  readonly finished: RestoreTestReport[];
  /** Jobs left for a later run, with why. */
  readonly waiting: { restoreJobId: string; reason: string }[];
  readonly lastSuccess?: { key: string; validatedAt: Date };
}

/** `awsbackup-restore-test-…` out of `arn:aws:rds:<region>:<account>:db:<identifier>`. */
export function dbIdentifierOf(arn: string | undefined): string | undefined {
  const m = /^arn:[^:]+:rds:[a-z0-9-]+:\d{12}:db:([a-z][a-z0-9-]*)$/.exec(arn ?? "");
  return m ? m[1] : undefined;
}

const TABLES_SQL = `select count(*)::int as tables from pg_class c
  join pg_namespace n on n.oid = c.relnamespace
  where c.relkind in ('r', 'p') and n.nspname not in ('pg_catalog', 'information_schema')
    and n.nspname !~ '^pg_(toast|temp_)'`;

export const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** Connects to the restored instance and runs the checks; never throws for a failing check. */
async function validate(
  job: RestoreJob,
  o: RestoreTestOptions,
): Promise<
  | { state: "done"; passed: boolean; reason: string; tables: number | null; smoke: SmokeCheck[] }
  | { state: "wait"; reason: string }
> {
  const fail = (reason: string) => ({
    state: "done" as const,
    passed: false,
    reason,
    tables: null,
    smoke: [] as SmokeCheck[],
  });
  const identifier = dbIdentifierOf(job.createdResourceArn);
  if (!identifier) {
    return fail(
      `restored resource ${job.createdResourceArn ?? "(none)"} is not an RDS DB instance`,
    );
  }
  const instance = await o.aws.describeDbInstance(identifier);
  if (!instance) return fail(`restored instance ${identifier} no longer exists`);
  if (instance.status !== "available" || !instance.address) {
    return { state: "wait", reason: `instance ${identifier} is ${instance.status}` };
  }
  // "The password for the master user" of a restored copy is the one in force at its recovery
  // point; ModifyDBInstance sets a new one.
  // https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBInstance.html
  const password = throwawayPassword();
  try {
    await o.aws.setMasterPassword(identifier, password);
  } catch (err) {
    return fail(message(err));
  }
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const clock = () => (o.now ?? (() => new Date()))().getTime();
  const started = clock();
  let ready = await o.aws.describeDbInstance(identifier);
  while (ready && (ready.status !== "available" || ready.passwordPending || !ready.address)) {
    if (clock() - started >= o.modifyTimeoutMs) {
      return {
        state: "wait",
        reason:
          `the new master password of ${identifier} was not applied within ` +
          `${o.modifyTimeoutMs / 1000} s (status ${ready.status}); a later run sets another`,
      };
    }
    await sleep(o.pollMs);
    ready = await o.aws.describeDbInstance(identifier);
  }
  if (!ready?.address) return fail(`restored instance ${identifier} no longer exists`);
  const label = `restored instance ${ready.address}:${ready.port ?? 5432}/${o.database}`;
  const conn = {
    host: ready.address,
    port: ready.port ?? 5432,
    database: o.database,
    ssl: sslFor(o.env),
    connectionTimeoutMillis: 15_000,
    // A smoke query that hangs must not outlive the validation window.
    statement_timeout: 120_000,
    application_name: "drctl restore-test",
  };
  let login: { user: string; password: string };
  try {
    login = await throwawayLogin(conn, { user: ready.masterUsername ?? "", password }, o.login);
  } catch (err) {
    return fail(
      `${explain(err, label).message} (as the master ${ready.masterUsername ?? "?"}, giving ` +
        `${o.login} a throwaway password)`,
    );
  }
  const client = new Client({ ...conn, ...login });
  client.on("error", () => undefined);
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => undefined);
    return fail(explain(err, label).message);
  }
  try {
    const { rows } = await client.query<{ tables: number }>(TABLES_SQL);
    const tables = rows[0]?.tables ?? 0;
    const smoke = await runSmokeSql(client, o.smokeSql, message);
    const failed = smokeFailure(smoke);
    if (failed) return { state: "done", passed: false, reason: failed, tables, smoke };
    const reason = `connected as ${login.user}, ${tables} table(s), ${smokePassed(smoke)}`;
    return { state: "done", passed: true, reason, tables, smoke };
  } catch (err) {
    return fail(`${label}: ${message(err)}`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

const iso = (d: Date | undefined): string | null => (d ? d.toISOString() : null);

function report(
  job: RestoreJob,
  planArn: string,
  validatedAt: Date,
  r: { passed: boolean; reason: string; tables: number | null; smoke: SmokeCheck[] },
): RestoreTestReport {
  const seconds =
    job.creationDate && job.completionDate
      ? (job.completionDate.getTime() - job.creationDate.getTime()) / 1000
      : null;
  return {
    kind: "restore-test",
    restoreJobId: job.restoreJobId,
    planArn,
    sourceResourceArn: job.sourceResourceArn ?? null,
    restoredResourceArn: job.createdResourceArn ?? null,
    recoveryPointArn: job.recoveryPointArn ?? null,
    recoveryPointCreatedAt: iso(job.recoveryPointCreationDate),
    restoreCompletedAt: iso(job.completionDate),
    restoreSeconds: seconds,
    validatedAt: validatedAt.toISOString(),
    ...r,
  };
}

/** `<dir>/<job creation date>-<job id>.json`: sorted by key is sorted by test. */
export function reportKey(dir: string, job: RestoreJob, fallback: Date): string {
  const day = (job.creationDate ?? fallback).toISOString().slice(0, 10);
  return `${dir}/${day}-${job.restoreJobId}.json`;
}

async function readReport(store: Store, key: string): Promise<RestoreTestReport | undefined> {
  try {
    const parsed = JSON.parse(await readText(store, key)) as Partial<RestoreTestReport>;
    return parsed.kind === "restore-test" && typeof parsed.passed === "boolean"
      ? (parsed as RestoreTestReport)
      : undefined;
  } catch {
    return undefined; // not a report this drctl wrote; an unreadable report proves nothing
  }
}

/** The newest passing report under `dir`, by key (job date) then validation time. */
export async function lastPassingRestoreTest(
  store: Store,
  dir: string = DEFAULT_RESTORE_TEST_DIR,
): Promise<{ key: string; validatedAt: Date } | undefined> {
  const objects = (await store.list(`${dir}/`)).filter((o) => o.key.endsWith(".json"));
  for (const o of [...objects].reverse()) {
    const r = await readReport(store, o.key);
    const at = r?.passed ? new Date(r.validatedAt) : undefined;
    if (at && !Number.isNaN(at.getTime())) return { key: o.key, validatedAt: at };
  }
  return undefined;
}

/**
 * A failed report, once a month per plan, when the plan (older than NOTHING_MATCHED_DAYS) started no
 * restore job in that long: AWS Backup starts none when the selection matches no recovery point
 * in the included vaults, and says so nowhere else.
 */
async function nothingMatched(
  o: RestoreTestOptions,
  planArn: string,
  dir: string,
  existing: Map<string, string>,
  at: Date,
): Promise<RestoreTestReport | undefined> {
  const windowStart = new Date(at.getTime() - NOTHING_MATCHED_DAYS * 86400_000);
  const created = await o.aws.planCreatedAt(planArn);
  if (!created || created > windowStart) return undefined;
  if ((await o.aws.listRestoreJobs(planArn, windowStart)).length > 0) return undefined;
  const plan = /:restore-testing-plan:([0-9A-Za-z_]+)/.exec(planArn)?.[1] ?? "plan";
  const name = `${at.toISOString().slice(0, 7)}-${plan}-nothing-matched.json`;
  if (existing.has(name)) return undefined;
  const r: RestoreTestReport = {
    kind: "restore-test",
    restoreJobId: "none",
    planArn,
    sourceResourceArn: null,
    restoredResourceArn: null,
    recoveryPointArn: null,
    recoveryPointCreatedAt: null,
    restoreCompletedAt: null,
    restoreSeconds: null,
    validatedAt: at.toISOString(),
    passed: false,
    reason:
      `restore testing plan ${plan} started no restore job in ${NOTHING_MATCHED_DAYS} days: its ` +
      `selection matched no recovery point in the vaults it includes (no copies arrived, or the ` +
      `selection does not match them); see docs/restore-testing.md`,
    tables: null,
    smoke: [],
  };
  await putBytes(o.store, `${dir}/${name}`, Buffer.from(`${JSON.stringify(r, null, 2)}\n`));
  return r;
}

/** One pass over every plan's recent restore jobs; see the module comment. */
export async function checkRestoreTests(o: RestoreTestOptions): Promise<RestoreTestRun> {
  const now = o.now ?? (() => new Date());
  const dir = (o.reportDir ?? DEFAULT_RESTORE_TEST_DIR).replace(/^\/+|\/+$/g, "");
  const since = new Date(now().getTime() - (o.lookbackHours ?? DEFAULT_LOOKBACK_HOURS) * 3600_000);
  const existing = new Map(
    (await o.store.list(`${dir}/`)).map((s) => [s.key.slice(s.key.lastIndexOf("/") + 1), s.key]),
  );
  const finished: RestoreTestReport[] = [];
  const waiting: { restoreJobId: string; reason: string }[] = [];
  for (const planArn of o.planArns) {
    const jobs = await o.aws.listRestoreJobs(planArn, since);
    if (jobs.length === 0) {
      const r = await nothingMatched(o, planArn, dir, existing, now());
      if (r) finished.push(r);
    }
    for (const job of jobs) {
      const key = reportKey(dir, job, now());
      const known = existing.get(key.slice(dir.length + 1));
      const wait = (reason: string) => waiting.push({ restoreJobId: job.restoreJobId, reason });
      if (job.status === "PENDING" || job.status === "RUNNING") {
        wait(`restore ${job.status.toLowerCase()}`);
        continue;
      }
      // AWS could not restore the recovery point, or nobody validated it within the window (this
      // check did not run in time): either is the finding, once per job.
      const timedOut = job.validationStatus === "TIMED_OUT";
      if (job.status !== "COMPLETED" || timedOut) {
        if (known) continue;
        const r = report(job, planArn, now(), {
          passed: false,
          reason: timedOut
            ? "the validation window closed before drctl restore-test validated the restored copy"
            : `restore ${job.status}: ${job.statusMessage ?? "no status message"}`,
          tables: null,
          smoke: [],
        });
        await putBytes(o.store, key, Buffer.from(`${JSON.stringify(r, null, 2)}\n`));
        finished.push(r);
        continue;
      }
      // VALIDATING is not a result: it is the open validation window, the state in which AWS
      // Backup waits for PutRestoreValidationResult ("VALIDATING" beside SUCCESSFUL | FAILED |
      // TIMED_OUT in RestoreJobsListMember.ValidationStatus). Only a published result, or a
      // deletion under way, ends the check's work on a job.
      // https://docs.aws.amazon.com/aws-backup/latest/devguide/API_RestoreJobsListMember.html
      // https://docs.aws.amazon.com/aws-backup/latest/devguide/restore-testing-validation.html
      const decided = job.validationStatus !== undefined && job.validationStatus !== "VALIDATING";
      if (decided || job.deletionStatus !== undefined) continue;
      // A report without a published result: the last run stopped between the two; publish it.
      const earlier = known ? await readReport(o.store, known) : undefined;
      let r = earlier;
      if (!r) {
        o.sink({ event: "start", op: "restore-test", id: job.restoreJobId });
        const v = await validate(job, o);
        if (v.state === "wait") {
          wait(v.reason);
          continue;
        }
        r = report(job, planArn, now(), v);
        // The report first: it is the evidence the age alarm reads, and it makes a retry idempotent.
        await putBytes(o.store, key, Buffer.from(`${JSON.stringify(r, null, 2)}\n`));
      }
      await o.aws.putValidationResult(
        job.restoreJobId,
        r.passed ? "SUCCESSFUL" : "FAILED",
        `drctl restore-test: ${r.reason}`,
      );
      if (!earlier) finished.push(r);
    }
  }
  return { finished, waiting, lastSuccess: await lastPassingRestoreTest(o.store, dir) };
}
