/**
 * The seams the failover state machine is built against. Production implements them with the
 * Pulumi Automation API and the AWS SDK (automationOps.ts, awsProbes.ts, route53Dns.ts); tests use
 * in-memory fakes, because neither the Pulumi CLI nor AWS is reachable from a test run.
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
  select(stack: string): Promise<void>;
  /** Every config value of the stack, keys fully qualified (`dr-stack:role`), structured values as JSON text. */
  getAllConfig(stack: string): Promise<Record<string, string>>;
  setConfig(stack: string, key: string, value: string, opts: SetConfigOptions): Promise<void>;
  removeConfig(stack: string, key: string, opts: SetConfigOptions): Promise<void>;
  /** Read-only: what an update would change now. */
  preview(stack: string): Promise<ChangeSummary>;
  /** `pulumi up`: applies the stack's current config. */
  up(stack: string): Promise<ChangeSummary>;
}

/** Read-only checks against the running sites. */
export interface Probes {
  /** Newest CloudWatch `ReplicaLag` of the site's database, in seconds; undefined when there is no datapoint. */
  replicaLagSeconds(site: string): Promise<number | undefined>;
  /** Whether the site's region answers API calls at all. */
  regionReachable(site: string): Promise<boolean>;
  /** Age of the newest complete logical backup the site holds; omit the probe to skip this check. */
  newestBackupAgeSeconds?(site: string): Promise<number | undefined>;
  /** Resolves when the site's database accepts a write; throws saying why it did not. */
  writeCheck(site: string): Promise<void>;
  /** The site the service's DNS name currently answers with, or undefined when it matches neither. */
  dnsAnswer(): Promise<string | undefined>;
}

/**
 * One site's Route 53 failover record, named from shared config alone (zone, name and type from
 * `dr-stack:dns`, identifier from naming.failoverSetIdentifier): no state of the failed region.
 */
export interface FailoverRecordRef {
  readonly zoneId: string;
  /** As configured (`app.acme-dr.example.com`); Route 53 lists it with a trailing dot. */
  readonly recordName: string;
  readonly recordType: "A" | "CNAME";
  readonly setIdentifier: string;
}

/** The one DNS change the orchestrator makes itself; everything else DNS is the stacks' own records. */
export interface DnsOps {
  /**
   * Deletes the PRIMARY failover record with `setIdentifier` exactly as Route 53 holds it.
   * "absent" when there is no such PRIMARY record (already deleted, or never there), so a resumed
   * run passes; anything it cannot decide (API errors, throttling) throws.
   */
  deleteFailoverRecord(ref: FailoverRecordRef): Promise<"deleted" | "absent">;
}

/** Time, injectable so tests can measure durations without waiting. */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};
