/**
 * The seams the failover state machine is built against. Production implements them with the
 * Pulumi Automation API, the AWS SDK and pg (automationOps.ts, awsSites.ts); tests use in-memory
 * fakes (test/failover/fakes.ts), because neither the Pulumi CLI nor AWS is reachable from a test.
 *
 * Every method that leaves this process takes an AbortSignal: the machine gives each call a
 * deadline (deadlines.ts) and aborts it when the deadline passes (docs/architecture.md §2b).
 */

/** Resource changes of one preview or update, keyed by operation (`create`, `update`, `same`, …). */
export type ChangeSummary = Readonly<Record<string, number>>;

export interface SetConfigOptions {
  /** Treat the key as a path into a structured value (`pulumi config set --path`). */
  readonly path: boolean;
}

/** What the orchestrator does to a stack. Stack names are `primary` and `dr` (the Pulumi.<stack>.yaml files). */
export interface StackOps {
  /** Selects the stack; throws when its state backend or secrets provider cannot be reached. */
  select(stack: string, signal: AbortSignal): Promise<void>;
  /** Every config value of the stack, keys fully qualified (`dr-stack:role`), structured values as JSON text. */
  getAllConfig(stack: string, signal: AbortSignal): Promise<Record<string, string>>;
  setConfig(
    stack: string,
    key: string,
    value: string,
    opts: SetConfigOptions,
    signal: AbortSignal,
  ): Promise<void>;
  removeConfig(
    stack: string,
    key: string,
    opts: SetConfigOptions,
    signal: AbortSignal,
  ): Promise<void>;
  /** `pulumi refresh --target <urn>…`: reads only the named resources back from AWS into the state. */
  refresh(stack: string, targets: readonly string[], signal: AbortSignal): Promise<ChangeSummary>;
  /** Read-only: what an update would change now. */
  preview(stack: string, signal: AbortSignal): Promise<ChangeSummary>;
  /** `pulumi up`: applies the stack's current config. */
  up(stack: string, signal: AbortSignal): Promise<ChangeSummary>;
}

/**
 * What a replica says about its own replay, read from the replica itself (never from its source):
 * the server's clock and the commit time of the last transaction it replayed.
 */
export interface ReplicaStatus {
  /** `now()` on the replica. */
  readonly now: Date;
  /** `pg_last_xact_replay_timestamp()`: null when it has replayed no transaction since it started. */
  readonly lastReplayAt: Date | null;
  /** `pg_last_wal_replay_lsn()`, e.g. `0/3000148`. */
  readonly replayLsn: string | null;
  /** `pg_last_wal_receive_lsn()`; equal to replayLsn when everything received is applied. */
  readonly receiveLsn: string | null;
}

/**
 * The fields of a site's master secret the failover compares: AWS's RDS secret JSON structure
 * (https://docs.aws.amazon.com/secretsmanager/latest/userguide/reference_secret_json_structure.html#reference_secret_json_structure_rds-postgres).
 */
export interface MasterSecretFields {
  readonly host?: string;
  readonly port?: number;
  readonly username?: string;
  readonly dbname?: string;
  readonly engine?: string;
}

/** Read-only checks against the running sites; each goes to the region named in the plan. */
export interface Probes {
  /** The site's database as a replica sees itself. Throws when it is not a replica. */
  replicaStatus(site: string, signal: AbortSignal): Promise<ReplicaStatus>;
  /** Age of the newest complete logical backup the site holds; omit the probe to skip this check. */
  newestBackupAgeSeconds?(site: string, signal: AbortSignal): Promise<number | undefined>;
  /** Resolves when the site's database accepts a write (its own master secret, in its own region). */
  writeCheck(site: string, signal: AbortSignal): Promise<void>;
  /** The site's master secret, read in `region` (its own, or its replica in the peer's region). */
  masterSecret(site: string, region: string, signal: AbortSignal): Promise<MasterSecretFields>;
  /** The site the service's DNS name currently answers with, or undefined when it matches neither. */
  dnsAnswer(signal: AbortSignal): Promise<string | undefined>;
  /** Resolves when the site's backup bucket answers (S3 HeadBucket in the site's region). */
  bucketAnswers(site: string, signal: AbortSignal): Promise<void>;
}

/** A Batch Replication job that copies what a bucket holds and its live replication has not. */
export interface BatchReplicationJob {
  readonly jobId: string;
  readonly region: string;
  readonly bucket: string;
}

/** What the orchestrator changes outside `pulumi up` and the Region switch plan. */
export interface Controls {
  /** Starts S3 Batch Replication on the site's bucket for objects live replication never copied. */
  startBatchReplication(site: string, signal: AbortSignal): Promise<BatchReplicationJob>;
}

/** Time, injectable so tests can measure durations without waiting. */
export interface Clock {
  now(): number;
  /** Resolves after `ms`, or at once (without the time passing) when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        resolve();
      }
      signal?.addEventListener("abort", done, { once: true });
    }),
};
