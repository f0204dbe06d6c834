import { Client } from "pg";
import { explain } from "../errors";
import { sslFor } from "../postgres/tls";
import type { EventSink } from "../progress";
import { runSmokeSql, smokeFailure, smokePassed, type SmokeResult } from "../restore/smokeSql";
import { putBytes, readText, type Store } from "../store";
import type { AutomatedBackup, PitrAws, PitrInstance } from "./aws";
import { throwawayLogin, throwawayPassword } from "./throwawayLogin";

/**
 * `drctl pitr-test`: proves the point-in-time layer (RDS automated backups) restores, in each
 * site, in every role (docs/restore-testing.md). Where the site's own instance keeps automated
 * backups (the primary) it restores from that instance; anywhere else (a standby's read replica
 * keeps none) from the automated backups RDS replicates into this region, whose ARN is looked up
 * now because it changes whenever the source instance is re-created. The copy lands in the site's
 * private subnets behind the restore-test security group, keeps the source's KMS key (the site key:
 * RestoreDBInstanceToPointInTime takes no KmsKeyId), gets a fresh master password (an old point in
 * time holds old passwords) and the smoke SQL; the report goes under `reports/pitr-tests/`, and the
 * copy is deleted through the cleanup function. Every wait is bounded.
 * https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_PIT.html
 * https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ReplicateBackups.html
 */

export const DEFAULT_PITR_REPORT_DIR = "reports/pitr-tests";

export const PITR_TARGETS = ["random", "latest"] as const;
export type PitrTarget = (typeof PITR_TARGETS)[number];

/** "latest" restores to this long before the latest restorable time (what the issue asks). */
export const LATEST_MARGIN_MS = 5 * 60_000;

/** Metric names: the contract with components/backups/rpoAlarms.ts. */
export const PITR_METRICS = {
  success: { name: "PitrTestSuccess", unit: "Count" },
  lastSuccessAge: { name: "PitrTestLastSuccessAgeSeconds", unit: "Seconds" },
} as const;

/** The tag the cleanup function checks before it deletes anything. */
export const PITR_TAG = { key: "dr-stack:purpose", value: "pitr-test" } as const;

export interface PitrTestOptions {
  readonly aws: PitrAws;
  readonly store: Store;
  readonly sink: EventSink;
  readonly env: NodeJS.ProcessEnv;
  /** This site's DB instance identifier. */
  readonly instance: string;
  /** The peer site's DB instance ARN: the source of the backups replicated here. */
  readonly peerInstanceArn: string;
  readonly region: string;
  /** Restored instances are `<prefix>-<yyyymmddhhmm>`; leftovers with it are deleted first. */
  readonly identifierPrefix: string;
  readonly subnetGroup: string;
  readonly securityGroupId: string;
  readonly instanceClass?: string;
  readonly target: PitrTarget;
  readonly database: string;
  /** The login the checks run as (its password on the copy is reset through the master). */
  readonly login: string;
  readonly smokeSql: readonly string[];
  /** Bound on RestoreDBInstanceToPointInTime reaching `available`. */
  readonly restoreTimeoutMs: number;
  /** Bound on the master password change being applied. */
  readonly modifyTimeoutMs: number;
  readonly pollMs: number;
  readonly reportDir?: string;
  readonly now?: () => Date;
  readonly random?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

export interface PitrReport {
  readonly kind: "pitr-test";
  readonly passed: boolean;
  readonly reason: string;
  readonly target: PitrTarget;
  readonly source:
    | { readonly kind: "instance"; readonly instance: string }
    | { readonly kind: "replicated"; readonly automatedBackupsArn: string; readonly of: string }
    | null;
  readonly window: { readonly earliest: string; readonly latest: string } | null;
  readonly restoreTime: string | null;
  /** How old the chosen point was when the restore started. */
  readonly restoreTimeAgeSeconds: number | null;
  readonly restoredInstance: string | null;
  /** RestoreDBInstanceToPointInTime until `available`. */
  readonly restoreSeconds: number | null;
  readonly totalSeconds: number;
  /** The newest drstack.heartbeat row in the restored copy: the data's own clock at that point. */
  readonly heartbeatAt: string | null;
  readonly tables: number | null;
  readonly smoke: SmokeResult[];
  readonly leftoversDeleted: string[];
  readonly cleanup: string;
  readonly startedAt: string;
  readonly finishedAt: string;
}

const TABLES_SQL = `select count(*)::int as tables from pg_class c
  join pg_namespace n on n.oid = c.relnamespace
  where c.relkind in ('r', 'p') and n.nspname not in ('pg_catalog', 'information_schema')
    and n.nspname !~ '^pg_(toast|temp_)'`;

const HEARTBEAT_SQL = `select max(beat_at) as beat_at from drstack.heartbeat`;

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** `<prefix>-202612051402`: RDS identifiers are 1-63 letters, digits and hyphens. */
export function restoredIdentifier(prefix: string, at: Date): string {
  const stamp = at.toISOString().replace(/[-:T]/g, "").slice(0, 12);
  return `${prefix}-${stamp}`;
}

/**
 * The point to restore to: a uniformly random one in [earliest, latest − 5 min], or latest − 5 min.
 * Whole seconds (RestoreTime is a timestamp; a fraction adds nothing to the proof).
 */
export function chooseRestoreTime(
  target: PitrTarget,
  earliest: Date,
  latest: Date,
  random: () => number,
): Date {
  const hi = Math.max(earliest.getTime(), latest.getTime() - LATEST_MARGIN_MS);
  const lo = earliest.getTime();
  const at = target === "latest" ? hi : lo + random() * (hi - lo);
  return new Date(Math.floor(at / 1000) * 1000);
}

/** The newest usable backup record: a restore window, newest LatestTime first. */
export function pickBackup(backups: readonly AutomatedBackup[]): AutomatedBackup | undefined {
  return [...backups]
    .filter((b) => b.earliest !== undefined && b.latest !== undefined)
    .sort((a, b) => (b.latest as Date).getTime() - (a.latest as Date).getTime())[0];
}

/**
 * Where this site's point-in-time history is: its own instance's automated backups when it keeps
 * them (a primary: not a replica, retention above 0), else the peer's automated backups replicated
 * into this region (a standby's read replica keeps none of its own).
 */
export async function pitrSource(
  aws: Pick<PitrAws, "describeInstance" | "automatedBackups">,
  instance: string,
  peerInstanceArn: string,
): Promise<{ fromOwn: boolean; backup: AutomatedBackup | undefined }> {
  const own = await aws.describeInstance(instance);
  const fromOwn =
    own !== undefined && own.replicaSource === undefined && (own.backupRetentionDays ?? 0) > 0;
  const backupsOf = fromOwn ? (own.arn ?? instance) : peerInstanceArn;
  return { fromOwn, backup: pickBackup(await aws.automatedBackups(backupsOf)) };
}

/** Polls until `done` or `timeoutMs`; returns the last instance state seen. */
async function waitFor(
  o: PitrTestOptions,
  identifier: string,
  timeoutMs: number,
  done: (i: PitrInstance) => boolean,
): Promise<{ ok: boolean; last?: PitrInstance }> {
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const started = Date.now();
  let last: PitrInstance | undefined;
  for (;;) {
    last = await o.aws.describeInstance(identifier);
    if (last && done(last)) return { ok: true, last };
    if (Date.now() - started >= timeoutMs) return { ok: false, last };
    await sleep(o.pollMs);
  }
}

/** Connects as the restored copy's master with the password just set and runs the checks. */
async function check(
  o: PitrTestOptions,
  db: PitrInstance,
  password: string,
): Promise<{
  passed: boolean;
  reason: string;
  tables: number | null;
  smoke: SmokeResult[];
  heartbeatAt: string | null;
}> {
  const label = `restored instance ${db.address ?? "?"}:${db.port ?? 5432}/${o.database}`;
  const conn = {
    host: db.address,
    port: db.port ?? 5432,
    database: o.database,
    ssl: sslFor(o.env),
    connectionTimeoutMillis: 15_000,
    statement_timeout: 120_000,
    application_name: "drctl pitr-test",
  };
  let login: { user: string; password: string };
  try {
    login = await throwawayLogin(conn, { user: db.masterUsername ?? "", password }, o.login);
  } catch (err) {
    return {
      passed: false,
      reason: `${explain(err, label).message} (as the master ${db.masterUsername ?? "?"}, giving ${o.login} a throwaway password)`,
      tables: null,
      smoke: [],
      heartbeatAt: null,
    };
  }
  const client = new Client({ ...conn, ...login });
  client.on("error", () => undefined);
  try {
    await client.connect();
    const { rows } = await client.query<{ tables: number }>(TABLES_SQL);
    let heartbeatAt: string | null = null;
    try {
      const hb = await client.query<{ beat_at: Date | null }>(HEARTBEAT_SQL);
      heartbeatAt = hb.rows[0]?.beat_at?.toISOString() ?? null;
    } catch {
      // No heartbeat table in this copy (set up after the restore point): nothing to record.
    }
    const smoke = await runSmokeSql(client, o.smokeSql, message);
    const tables = rows[0]?.tables ?? 0;
    const failed = smokeFailure(smoke);
    if (failed) return { passed: false, reason: failed, tables, smoke, heartbeatAt };
    const reason = `connected as ${login.user}, ${tables} table(s), ${smokePassed(smoke)}`;
    return { passed: true, reason, tables, smoke, heartbeatAt };
  } catch (err) {
    return {
      passed: false,
      reason: explain(err, label).message,
      tables: null,
      smoke: [],
      heartbeatAt: null,
    };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Runs one point-in-time restore test and writes its report; never throws for a failed test. */
export async function pitrTest(o: PitrTestOptions): Promise<{ report: PitrReport; key: string }> {
  const now = o.now ?? (() => new Date());
  const started = now();
  const dir = (o.reportDir ?? DEFAULT_PITR_REPORT_DIR).replace(/^\/+|\/+$/g, "");
  let r: Omit<PitrReport, "cleanup" | "finishedAt" | "totalSeconds" | "leftoversDeleted"> = {
    kind: "pitr-test",
    passed: false,
    reason: "",
    target: o.target,
    source: null,
    window: null,
    restoreTime: null,
    restoreTimeAgeSeconds: null,
    restoredInstance: null,
    restoreSeconds: null,
    heartbeatAt: null,
    tables: null,
    smoke: [],
    startedAt: started.toISOString(),
  };
  const leftoversDeleted: string[] = [];
  let cleanup = "nothing to delete";
  let created: string | undefined;
  try {
    // A run the job's deadline killed leaves its copy behind: delete it before making another.
    for (const old of await o.aws.listInstances(`${o.identifierPrefix}-`)) {
      await o.aws.requestDelete(old.identifier);
      leftoversDeleted.push(old.identifier);
    }
    const { fromOwn, backup } = await pitrSource(o.aws, o.instance, o.peerInstanceArn);
    if (!backup) {
      r = {
        ...r,
        reason: fromOwn
          ? `instance ${o.instance} reports no automated backups with a restore window in ${o.region}`
          : `no automated backups of ${o.peerInstanceArn} are replicated into ${o.region} ` +
            `(DescribeDBInstanceAutomatedBackups found none with a restore window): the ` +
            `replication is off or was not reconnected after the source was re-created; see ` +
            `docs/restore-testing.md`,
      };
      return write();
    }
    const earliest = backup.earliest as Date;
    const latest = backup.latest as Date;
    const restoreTime = chooseRestoreTime(o.target, earliest, latest, o.random ?? Math.random);
    const identifier = restoredIdentifier(o.identifierPrefix, started);
    r = {
      ...r,
      source: fromOwn
        ? { kind: "instance", instance: o.instance }
        : { kind: "replicated", automatedBackupsArn: backup.arn, of: o.peerInstanceArn },
      window: { earliest: earliest.toISOString(), latest: latest.toISOString() },
      restoreTime: restoreTime.toISOString(),
      restoreTimeAgeSeconds: Math.round((started.getTime() - restoreTime.getTime()) / 1000),
      restoredInstance: identifier,
    };
    o.sink({ event: "start", op: "pitr-test", id: identifier });
    const restoreStart = Date.now();
    await o.aws.restore({
      identifier,
      restoreTime,
      sourceInstance: fromOwn ? o.instance : undefined,
      sourceAutomatedBackupsArn: fromOwn ? undefined : backup.arn,
      subnetGroup: o.subnetGroup,
      securityGroupId: o.securityGroupId,
      instanceClass: o.instanceClass,
      tags: { [PITR_TAG.key]: PITR_TAG.value },
    });
    created = identifier;
    const up = await waitFor(o, identifier, o.restoreTimeoutMs, (i) => i.status === "available");
    if (!up.ok) {
      r = {
        ...r,
        reason:
          `restored instance ${identifier} was not available within ` +
          `${o.restoreTimeoutMs / 1000} s (last status: ${up.last?.status ?? "not found"})`,
      };
      return write();
    }
    r = { ...r, restoreSeconds: Math.round((Date.now() - restoreStart) / 1000) };
    // "The password for the master user" of a restored copy is the one in force at RestoreTime.
    // https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBInstance.html
    const password = throwawayPassword();
    await o.aws.setMasterPassword(identifier, password);
    const applied = await waitFor(
      o,
      identifier,
      o.modifyTimeoutMs,
      (i) => i.status === "available" && !i.passwordPending,
    );
    if (!applied.ok || !applied.last) {
      r = {
        ...r,
        reason: `the new master password of ${identifier} was not applied within ${o.modifyTimeoutMs / 1000} s`,
      };
      return write();
    }
    const c = await check(o, applied.last, password);
    r = { ...r, ...c };
    return write();
  } catch (err) {
    r = { ...r, passed: false, reason: message(err) };
    return write();
  }

  function finish(): PitrReport {
    return {
      ...r,
      leftoversDeleted,
      cleanup,
      totalSeconds: Math.round((now().getTime() - started.getTime()) / 1000),
      finishedAt: now().toISOString(),
    };
  }

  /** Deletes the copy (bounded: one Lambda call), then writes the report with the outcome. */
  async function write(): Promise<{ report: PitrReport; key: string }> {
    if (created) {
      try {
        await o.aws.requestDelete(created);
        cleanup = `deletion of ${created} requested`;
      } catch (err) {
        cleanup = `deleting ${created} failed: ${message(err)}; the next run deletes it`;
        r = { ...r, passed: false, reason: `${r.reason}; ${cleanup}` };
      }
      created = undefined;
    }
    const report = finish();
    const key = `${dir}/${started.toISOString().slice(0, 10)}-${o.target}.json`;
    await putBytes(o.store, key, Buffer.from(`${JSON.stringify(report, null, 2)}\n`));
    return { report, key };
  }
}

/** The newest passing report under `dir` (keys sort by date), for the age metric `drctl status` publishes. */
export async function lastPassingPitrTest(
  store: Store,
  dir: string = DEFAULT_PITR_REPORT_DIR,
): Promise<{ key: string; finishedAt: Date } | undefined> {
  const objects = (await store.list(`${dir}/`)).filter((s) => s.key.endsWith(".json"));
  for (const s of [...objects].sort((a, b) => (a.key < b.key ? 1 : -1))) {
    try {
      const r = JSON.parse(await readText(store, s.key)) as Partial<PitrReport>;
      const at = new Date(r.finishedAt ?? "");
      if (r.kind === "pitr-test" && r.passed === true && !Number.isNaN(at.getTime())) {
        return { key: s.key, finishedAt: at };
      }
    } catch {
      // A report that does not parse proves nothing; look further back.
    }
  }
  return undefined;
}
