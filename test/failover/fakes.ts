import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { parse } from "yaml";
import type { Role } from "../../components/config";
import { roleTransitionProblems } from "../../components/database/transition";
import { runFailover, type FailoverDeps } from "../../drctl/src/failover/command";
import type { FailoverReport } from "../../drctl/src/failover/report";
import type {
  BatchReplicationJob,
  ChangeSummary,
  Clock,
  Controls,
  Probes,
  ReplicaStatus,
  SetConfigOptions,
  SqlFenceResult,
  StackOps,
} from "../../drctl/src/failover/ports";

const ROOT = join(__dirname, "..", "..");

export const REGION: Record<string, string> = { use1: "us-east-1", usw2: "us-west-2" };
export const STACK_OF_SITE: Record<string, string> = { use1: "primary", usw2: "dr" };
const SITE_OF_STACK: Record<string, string> = { primary: "use1", dr: "usw2" };
const PEER: Record<string, string> = { use1: "usw2", usw2: "use1" };

/** A stack's config as the real Pulumi.<stack>.yaml declares it, one value per top-level key. */
function loadStackConfig(stack: string): Record<string, unknown> {
  const doc = parse(readFileSync(join(ROOT, `Pulumi.${stack}.yaml`), "utf8")) as {
    config: Record<string, unknown>;
  };
  return structuredClone(doc.config);
}

/** `pulumi config set --path` stores true/false and integers typed, as the CLI does. */
function typed(value: string): unknown {
  if (value === "true" || value === "false") return value === "true";
  return /^-?\d+$/.test(value) ? Number(value) : value;
}

/**
 * Starts at a fixed instant; sleeping moves it forward without waiting. A sleep ends on the next
 * turn of the event loop, after every call that answers at once: a deadline only fires on a call
 * that hangs, and then exactly the deadline's time passes.
 */
export class FakeClock implements Clock {
  t = Date.parse("2025-03-01T12:00:00.000Z");
  now(): number {
    return this.t;
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) =>
      setImmediate(() => {
        if (!signal?.aborted) this.t += ms;
        resolve();
      }),
    );
  }
}

/** How a region (or a stack's state) fails: no answer at all, or an answer that is an error. */
export type Fault = "hang" | "5xx";

/** The error an AWS SDK call throws on a 503, with the SDK's `$metadata`. */
export function serviceUnavailable(where: string): Error {
  return Object.assign(new Error(`ServiceUnavailable: ${where} answered 503`), {
    name: "ServiceUnavailable",
    $metadata: { httpStatusCode: 503 },
  });
}

/** Every call the fakes received, `<region> <service>: <action>`, and the faults they apply. */
export class FakeWorld {
  readonly calls: string[] = [];
  /** By region (`us-east-1`), or `stack:<name>` for a stack's state backend. */
  readonly faults = new Map<string, Fault>();
  /** A hung call that ignores its AbortSignal, as a stuck socket or CLI would. */
  hangIgnoresSignal = false;

  enter(where: string, service: string, action: string, signal?: AbortSignal): Promise<void> {
    this.calls.push(`${where} ${service}: ${action}`);
    const fault = this.faults.get(where);
    if (fault === "5xx") return Promise.reject(serviceUnavailable(`${where} ${service}`));
    if (fault === "hang") {
      return new Promise((_resolve, reject) => {
        if (this.hangIgnoresSignal || !signal) return;
        signal.addEventListener("abort", () => reject(new Error(`aborted: ${service}`)), {
          once: true,
        });
      });
    }
    return Promise.resolve();
  }

  /** Calls that went to `region` (or a stack's state, `stack:<name>`). */
  to(where: string): string[] {
    return this.calls.filter((c) => c.startsWith(`${where} `));
  }
}

/**
 * In-memory stacks: config per stack, the config last deployed by `up`, and every call in order.
 * `failOn` fails the first call whose description matches, once; `unreachable` stacks throw on
 * everything; a `stack:<name>` fault of the world applies to every call of that stack but config edits.
 */
export class FakeStackOps implements StackOps {
  readonly calls: string[] = [];
  /** What each `up` deployed: `<stack> role=<role> allowRebuild=<bool> peerLinks=<bool>`. */
  readonly deploys: string[] = [];
  readonly config: Record<string, Record<string, unknown>> = {
    primary: loadStackConfig("primary"),
    dr: loadStackConfig("dr"),
  };
  readonly deployed: Record<string, Record<string, unknown>> = structuredClone(this.config);
  failOn: string | undefined;
  readonly unreachable = new Set<string>();
  /** Seconds an `up` takes, by the role it deploys: promotion detaches a replica, which takes minutes. */
  upSeconds: Record<string, number> = { fenced: 60, standby: 600, promoting: 240, primary: 120 };

  constructor(
    private readonly clock: FakeClock,
    private readonly world: FakeWorld,
  ) {}

  private async record(call: string, stack: string, signal?: AbortSignal): Promise<void> {
    this.calls.push(call);
    if (this.unreachable.has(stack)) throw new Error(`backend for stack ${stack} did not answer`);
    if (this.failOn === call) {
      this.failOn = undefined;
      throw new Error(`injected failure at "${call}"`);
    }
    if (signal) await this.world.enter(`stack:${stack}`, "Pulumi", call, signal);
  }

  async select(stack: string, signal: AbortSignal): Promise<void> {
    await this.record(`select ${stack}`, stack, signal);
  }

  async getAllConfig(stack: string, signal: AbortSignal): Promise<Record<string, string>> {
    await this.record(`getAllConfig ${stack}`, stack, signal);
    const flat: Record<string, string> = {};
    for (const [k, v] of Object.entries(this.config[stack])) {
      flat[k] = typeof v === "string" ? v : JSON.stringify(v);
    }
    return flat;
  }

  async setConfig(
    stack: string,
    key: string,
    value: string,
    opts: SetConfigOptions,
  ): Promise<void> {
    await this.record(`set${opts.path ? " --path" : ""} ${stack} ${key}=${value}`, stack);
    if (!opts.path) {
      this.config[stack][key] = value;
      return;
    }
    const [top, ...rest] = key.split(".");
    if (rest.length === 0) {
      this.config[stack][top] = typed(value);
      return;
    }
    let node = (this.config[stack][top] ??= {}) as Record<string, unknown>;
    for (const part of rest.slice(0, -1)) node = (node[part] ??= {}) as Record<string, unknown>;
    node[rest[rest.length - 1]] = typed(value);
  }

  async removeConfig(stack: string, key: string, opts: SetConfigOptions): Promise<void> {
    await this.record(`rm${opts.path ? " --path" : ""} ${stack} ${key}`, stack);
    const [top, ...rest] = key.split(".");
    if (!opts.path || rest.length === 0) {
      delete this.config[stack][key];
      return;
    }
    let node = this.config[stack][top] as Record<string, unknown> | undefined;
    for (const part of rest.slice(0, -1))
      node = node?.[part] as Record<string, unknown> | undefined;
    if (node) delete node[rest[rest.length - 1]];
  }

  async outputs(stack: string, signal: AbortSignal): Promise<Record<string, unknown>> {
    await this.record(`outputs ${stack}`, stack, signal);
    const site = SITE_OF_STACK[stack];
    return { dbEndpoint: `acme-dr-${site}-pg.c1a2b3c4d5e6.${REGION[site]}.rds.amazonaws.com` };
  }

  async preview(stack: string, signal: AbortSignal): Promise<ChangeSummary> {
    await this.record(`preview ${stack}`, stack, signal);
    return { same: 42, update: 1 };
  }

  /**
   * `pulumi up`, with the program's own check of the declared move (components/database/transition.ts):
   * every role change must be declared with the role actually deployed, and be one the state
   * machine allows, or the update fails before anything changes, as the program makes it fail.
   */
  async up(stack: string, signal: AbortSignal): Promise<ChangeSummary> {
    await this.record(`up ${stack}`, stack, signal);
    const role = this.config[stack]["dr-stack:role"] as Role;
    const deployedRole = this.deployed[stack]["dr-stack:role"] as Role;
    const declared = (this.config[stack]["dr-stack:database"] ?? {}) as {
      previousRole?: Role;
      allowRebuild?: boolean;
    };
    if (role !== deployedRole && declared.previousRole === undefined) {
      throw new Error(`undeclared move of stack ${stack}: ${deployedRole} -> ${role}`);
    }
    if (declared.previousRole !== undefined && declared.previousRole !== deployedRole) {
      throw new Error(
        `stack ${stack} declares previousRole ${declared.previousRole}, but ${deployedRole} is deployed`,
      );
    }
    const problems = roleTransitionProblems({ role, ...declared });
    if (problems.length > 0) throw new Error(problems.join(" "));
    this.deployed[stack] = structuredClone(this.config[stack]);
    // A rebuild replaces the instance: the new replica carries no fence of the old one.
    if (role === "standby" && deployedRole !== "standby") this.onRebuild?.(SITE_OF_STACK[stack]);
    this.deploys.push(
      `${stack} role=${role} allowRebuild=${declared.allowRebuild ?? false} ` +
        `peerLinks=${this.config[stack]["dr-stack:peerLinks"] === false ? "false" : "true"}`,
    );
    this.clock.t += (this.upSeconds[role] ?? 30) * 1000;
    return { update: 1 };
  }

  onRebuild: ((site: string) => void) | undefined;

  role(stack: string): unknown {
    return this.config[stack]["dr-stack:role"];
  }

  deployedRole(site: string): unknown {
    return this.deployed[STACK_OF_SITE[site]]["dr-stack:role"];
  }
}

/**
 * The sites' data planes: databases, traffic controls, buckets, DNS. Each call goes through the
 * world in the region the real adapter (awsSites.ts) sends it to, and the sql fence makes the
 * same three calls it makes: the old primary's secret from its replica in the peer region, the
 * stack's dbEndpoint output, then the database itself.
 */
export class FakeSites implements Probes, Controls {
  /** What each replica reports; `now` is the fake clock. */
  replica: Record<string, Omit<ReplicaStatus, "now">> = {
    use1: { lastReplayAt: null, replayLsn: null, receiveLsn: null },
    usw2: {
      lastReplayAt: new Date("2025-03-01T11:59:56.000Z"),
      replayLsn: "0/3000148",
      receiveLsn: "0/3000148",
    },
  };
  /** Readings returned in turn before falling back to `replica` (a replica catching up). */
  replicaSeries: Record<string, Omit<ReplicaStatus, "now">[]> = {};
  /** `pg_current_wal_lsn()` of each site's database. */
  walLsn: Record<string, string> = { use1: "0/3000148", usw2: "0/5000000" };
  /** Per-site traffic control, as the alarms in the peer regions see it. */
  readonly traffic: Record<string, boolean> = { use1: true, usw2: true };
  /** Databases that took the SQL fence. */
  readonly sqlFenced = new Set<string>();
  /** Whether the site's endpoint health check passes. */
  healthy: Record<string, boolean> = { use1: true, usw2: true };
  backupAgeSeconds: number | undefined = 3600;
  writeBroken = false;
  jobs = 0;

  constructor(
    private readonly clock: FakeClock,
    private readonly world: FakeWorld,
    private readonly ops: FakeStackOps,
  ) {}

  async replicaStatus(site: string, signal: AbortSignal): Promise<ReplicaStatus> {
    await this.world.enter(REGION[site], "PostgreSQL", `replica status of ${site}`, signal);
    if (this.ops.deployedRole(site) !== "standby") {
      throw new Error(`the database is not a replica (pg_is_in_recovery() is false)`);
    }
    const next = this.replicaSeries[site]?.shift() ?? this.replica[site];
    return { now: new Date(this.clock.now()), ...next };
  }

  async newestBackupAgeSeconds(site: string, signal: AbortSignal): Promise<number | undefined> {
    await this.world.enter(REGION[site], "S3", `ListObjectsV2 ${site}`, signal);
    return this.backupAgeSeconds;
  }

  async writeCheck(site: string, signal: AbortSignal): Promise<void> {
    await this.world.enter(
      REGION[site],
      "Secrets Manager",
      `GetSecretValue acme-dr-${site}/db/master`,
      signal,
    );
    await this.ops.outputs(STACK_OF_SITE[site], signal);
    await this.world.enter(REGION[site], "PostgreSQL", `write check on ${site}`, signal);
    if (this.writeBroken || this.ops.deployedRole(site) !== "primary" || this.sqlFenced.has(site)) {
      throw new Error(`cannot execute CREATE TABLE in a read-only transaction`);
    }
  }

  /** Route 53 answers with the site whose combined check passes: endpoint healthy and control on. */
  async dnsAnswer(signal: AbortSignal): Promise<string | undefined> {
    await this.world.enter("global", "DNS", "resolve app.acme-dr.example.com", signal);
    const up = (s: string) => this.healthy[s] && this.traffic[s];
    // use1's record is the PRIMARY failover record, usw2's the SECONDARY: fixed, whatever the role.
    return up("use1") ? "use1" : up("usw2") ? "usw2" : undefined;
  }

  async bucketAnswers(site: string, signal: AbortSignal): Promise<void> {
    await this.world.enter(
      REGION[site],
      "S3",
      `HeadBucket acme-dr-${site}-backups-111122223333`,
      signal,
    );
  }

  async setTrafficEnabled(site: string, enabled: boolean, signal: AbortSignal): Promise<void> {
    await this.world.enter(
      REGION[PEER[site]],
      "CloudWatch",
      `PutMetricData DrStack/Traffic SiteEnabled=${enabled ? 1 : 0} Site=${site}`,
      signal,
    );
    this.traffic[site] = enabled;
  }

  async sqlFence(site: string, signal: AbortSignal): Promise<SqlFenceResult> {
    await this.world.enter(
      REGION[PEER[site]],
      "Secrets Manager",
      `GetSecretValue acme-dr-${site}/db/master`,
      signal,
    );
    await this.ops.outputs(STACK_OF_SITE[site], signal);
    await this.world.enter(REGION[site], "PostgreSQL", `fence ${site}`, signal);
    this.sqlFenced.add(site);
    // Once fenced no writes arrive: the replica applies the rest and reaches this position.
    const peer = PEER[site];
    this.replica[peer] = {
      ...this.replica[peer],
      replayLsn: this.walLsn[site],
      receiveLsn: this.walLsn[site],
    };
    return { terminated: 3, lsn: this.walLsn[site] };
  }

  async startBatchReplication(site: string, signal: AbortSignal): Promise<BatchReplicationJob> {
    await this.world.enter(
      REGION[site],
      "S3 Control",
      `CreateJob S3ReplicateObject ${site}`,
      signal,
    );
    // Batch Replication replicates by the bucket's live replication config: no links, no job.
    if (this.ops.deployed[STACK_OF_SITE[site]]["dr-stack:peerLinks"] !== true) {
      throw new Error(`InvalidRequest: the source bucket has no replication configuration`);
    }
    this.jobs += 1;
    return {
      jobId: `job-${this.jobs}`,
      region: REGION[site],
      bucket: `acme-dr-${site}-backups-111122223333`,
    };
  }
}

export interface Harness {
  readonly clock: FakeClock;
  readonly world: FakeWorld;
  readonly ops: FakeStackOps;
  readonly sites: FakeSites;
  readonly workDir: string;
  run(
    ...argv: string[]
  ): Promise<{ code: number; stdout: string; stderr: string; calls: string[]; world: string[] }>;
}

/** A fresh work directory and fakes; `run` passes `--work-dir` and returns only this run's calls. */
export function harness(): Harness {
  const clock = new FakeClock();
  const world = new FakeWorld();
  const ops = new FakeStackOps(clock, world);
  const sites = new FakeSites(clock, world, ops);
  ops.onRebuild = (site) => sites.sqlFenced.delete(site);
  const workDir = mkdtempSync(join(tmpdir(), "drctl-failover-"));
  const deps: FailoverDeps = { ops, probes: () => sites, controls: () => sites, clock };
  return {
    clock,
    world,
    ops,
    sites,
    workDir,
    async run(...argv) {
      const chunks = { out: [] as string[], err: [] as string[] };
      const sink = (into: string[]) =>
        new Writable({
          write(chunk: Buffer, _enc, done) {
            into.push(chunk.toString());
            done();
          },
        });
      const before = ops.calls.length;
      const worldBefore = world.calls.length;
      const code = await runFailover(
        [...argv, "--work-dir", workDir],
        { stdout: sink(chunks.out), stderr: sink(chunks.err), env: {} },
        () => deps,
      );
      return {
        code,
        stdout: chunks.out.join(""),
        stderr: chunks.err.join(""),
        calls: ops.calls.slice(before),
        world: world.calls.slice(worldBefore),
      };
    },
  };
}

/** Leaves the fakes as a completed failover to usw2 and its reconnect do: use1 fenced and off, usw2 primary. */
export function afterFailover(h: Harness): void {
  for (const [stack, role] of [
    ["primary", "fenced"],
    ["dr", "primary"],
  ] as const) {
    h.ops.config[stack]["dr-stack:role"] = role;
    h.ops.deployed[stack]["dr-stack:role"] = role;
  }
  h.sites.traffic.use1 = false;
  h.sites.sqlFenced.add("use1");
}

/**
 * The StackOps calls of one role change as drctl declares it: select, set the role and the role
 * being left (and any extra config), up, then clear the spent declaration.
 */
export function moveCalls(stack: string, to: Role, from: Role, extra: string[] = []): string[] {
  return [
    `select ${stack}`,
    `set ${stack} dr-stack:role=${to}`,
    `set --path ${stack} dr-stack:database.previousRole=${from}`,
    ...extra,
    `up ${stack}`,
    `rm --path ${stack} dr-stack:database.previousRole`,
  ];
}

/** The one report a run (of `direction`, when given) left in the work directory. */
export function readReport(workDir: string, direction = ""): FailoverReport {
  const dir = join(workDir, ".drctl", "reports");
  const files = readdirSync(dir).filter((f) => f.startsWith(direction));
  if (files.length !== 1)
    throw new Error(`expected one report in ${dir}, found ${files.join(", ")}`);
  return JSON.parse(readFileSync(join(dir, files[0]), "utf8")) as FailoverReport;
}
