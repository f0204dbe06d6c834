/**
 * The two seams the failover state machine is built against. Production implements them with the
 * Pulumi Automation API and the AWS SDK (automationOps.ts, awsProbes.ts); tests use in-memory fakes,
 * because neither the Pulumi CLI nor AWS is reachable from a test run.
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

/** Time, injectable so tests can measure durations without waiting. */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};
