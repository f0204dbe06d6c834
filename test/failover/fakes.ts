import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { mockClient } from "aws-sdk-client-mock";
import { parse } from "yaml";
import type { Role } from "../../components/config";
import { roleTransitionProblems } from "../../components/database/transition";
import { runFailover, type FailoverDeps } from "../../drctl/src/failover/command";
import type {
  BatchReplicationJob,
  ChangeSummary,
  Clock,
  Controls,
  MasterSecretFields,
  Probes,
  ReplicaStatus,
  SetConfigOptions,
  StackOps,
} from "../../drctl/src/failover/ports";
import { RegionSwitchClient } from "../../drctl/src/failover/regionSwitch/client";
import type { FailoverReport } from "../../drctl/src/failover/report";
import { NotAReplica } from "../../drctl/src/failover/sql";
import { FakeRegionSwitch, FakeRoute53 } from "./awsFakes";

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

const flatten = (config: Record<string, unknown>): Record<string, string> =>
  Object.fromEntries(
    Object.entries(config).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]),
  );

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

/** The region that is black-holed: every call into it hangs until its deadline aborts it. */
export class FakeWorld {
  readonly calls: string[] = [];
  readonly down = new Set<string>();

  enter(where: string, service: string, action: string, signal?: AbortSignal): Promise<void> {
    this.calls.push(`${where} ${service}: ${action}`);
    if (!this.down.has(where)) return Promise.resolve();
    return new Promise((_resolve, reject) => {
      signal?.addEventListener("abort", () => reject(new Error(`aborted: ${service}`)), {
        once: true,
      });
    });
  }

  to(where: string): string[] {
    return this.calls.filter((c) => c.startsWith(`${where} `));
  }
}

/**
 * What AWS holds, independent of any stack's state: whether each site's database is a replica,
 * as RDS reports it (DescribeDBInstances' ReadReplicaSourceDBInstanceIdentifier).
 */
export interface FakeAws {
  readonly replicaOf: Record<string, string | undefined>;
}

/**
 * In-memory stacks: config per stack, what the last `up` deployed, and the instance's
 * `replicateSourceDb` as the stack's *state* holds it (refresh reads it back from FakeAws).
 */
export class FakeStackOps implements StackOps {
  readonly calls: string[] = [];
  readonly config: Record<string, Record<string, unknown>> = {
    primary: loadStackConfig("primary"),
    dr: loadStackConfig("dr"),
  };
  readonly deployed: Record<string, Record<string, unknown>> = structuredClone(this.config);
  /** The instance's replicate_source_db in each stack's state. */
  readonly stateReplicaOf: Record<string, string | undefined> = { primary: undefined, dr: "use1" };
  upSeconds: Record<string, number> = { fenced: 60, standby: 600, promoting: 240, primary: 120 };

  constructor(
    private readonly clock: FakeClock,
    private readonly world: FakeWorld,
    private readonly aws: FakeAws,
  ) {}

  private async record(call: string, stack: string, signal?: AbortSignal): Promise<void> {
    this.calls.push(call);
    // The state backend is outside both regions (stateLocation.ts checks it): only the stack's
    // own resources are in its region, and `up`/`refresh` reach them.
    if (signal && /^(up|refresh) /.test(call)) {
      await this.world.enter(REGION[SITE_OF_STACK[stack]], "Pulumi", call, signal);
    }
  }

  async select(stack: string, signal: AbortSignal): Promise<void> {
    await this.record(`select ${stack}`, stack, signal);
  }

  async getAllConfig(stack: string, signal: AbortSignal): Promise<Record<string, string>> {
    await this.record(`getAllConfig ${stack}`, stack, signal);
    return flatten(this.config[stack]);
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

  /**
   * terraform-provider-aws resourceInstanceRead: `d.Set("replicate_source_db",
   * v.ReadReplicaSourceDBInstanceIdentifier)`, empty once the replica is promoted.
   */
  async refresh(
    stack: string,
    targets: readonly string[],
    signal: AbortSignal,
  ): Promise<ChangeSummary> {
    await this.record(`refresh ${stack} ${targets.join(" ")}`, stack, signal);
    const changed = this.stateReplicaOf[stack] !== this.aws.replicaOf[SITE_OF_STACK[stack]];
    this.stateReplicaOf[stack] = this.aws.replicaOf[SITE_OF_STACK[stack]];
    return changed ? { update: 1 } : { same: 1 };
  }

  /**
   * Config differs from what the last `up` deployed: the next update changes something.
   * `database.previousRole` only feeds the program's transition check (index.ts,
   * components/database/transition.ts): no resource input depends on it.
   */
  async preview(stack: string, signal: AbortSignal): Promise<ChangeSummary> {
    await this.record(`preview ${stack}`, stack, signal);
    const resources = (c: Record<string, unknown>) => {
      const copy = structuredClone(c);
      delete (copy["dr-stack:database"] as Record<string, unknown> | undefined)?.previousRole;
      return JSON.stringify(copy);
    };
    const same = resources(this.config[stack]) === resources(this.deployed[stack]);
    return same ? { same: 42 } : { same: 41, update: 1 };
  }

  /**
   * `pulumi up`, with the program's own check of the declared move (components/database/transition.ts)
   * and the provider's: an update that drops replicate_source_db calls PromoteReadReplica
   * (terraform-provider-aws resourceInstanceUpdate), which RDS refuses for an instance that is
   * no longer a replica.
   */
  async up(stack: string, signal: AbortSignal): Promise<ChangeSummary> {
    await this.record(`up ${stack}`, stack, signal);
    const site = SITE_OF_STACK[stack];
    const role = this.config[stack]["dr-stack:role"] as Role;
    const deployedRole = this.deployed[stack]["dr-stack:role"] as Role;
    const declared = (this.config[stack]["dr-stack:database"] ?? {}) as {
      previousRole?: Role;
      allowRebuild?: boolean;
    };
    if (role !== deployedRole && declared.previousRole === undefined) {
      throw new Error(`undeclared move of stack ${stack}: ${deployedRole} -> ${role}`);
    }
    const problems = roleTransitionProblems({ role, ...declared });
    if (problems.length > 0) throw new Error(problems.join(" "));
    const wantsReplica = role === "standby";
    if (!wantsReplica && this.stateReplicaOf[stack] !== undefined) {
      if (this.aws.replicaOf[site] === undefined) {
        throw new Error(
          `promoting RDS DB Instance (acme-dr-${site}-pg): InvalidDBInstanceState: not a read replica`,
        );
      }
      this.aws.replicaOf[site] = undefined;
    }
    if (wantsReplica && this.stateReplicaOf[stack] === undefined)
      this.aws.replicaOf[site] = PEER[site];
    this.stateReplicaOf[stack] = wantsReplica ? PEER[site] : undefined;
    this.deployed[stack] = structuredClone(this.config[stack]);
    this.clock.t += (this.upSeconds[role] ?? 30) * 1000;
    return { update: 1 };
  }

  deployedRole(site: string): unknown {
    return this.deployed[STACK_OF_SITE[site]]["dr-stack:role"];
  }
}

/** Databases, secrets, buckets and DNS of both sites; each call enters the world in its region. */
export class FakeSites implements Probes, Controls {
  replica: Record<string, Omit<ReplicaStatus, "now">> = {
    use1: { lastReplayAt: null, replayLsn: null, receiveLsn: null },
    usw2: {
      lastReplayAt: new Date("2025-03-01T11:59:56.000Z"),
      replayLsn: "0/3000148",
      receiveLsn: "0/3000148",
    },
  };
  /** Master secrets: AWS's RDS secret JSON fields, as the stacks write them. */
  secrets: Record<string, MasterSecretFields> = {
    use1: {
      host: "acme-dr-use1-pg.c1a2b3c4d5e6.us-east-1.rds.amazonaws.com",
      port: 5432,
      username: "dradmin",
      dbname: "app",
      engine: "postgres",
    },
    usw2: {
      host: "acme-dr-usw2-pg.c7d8e9f0a1b2.us-west-2.rds.amazonaws.com",
      port: 5432,
      username: "dradmin",
      dbname: "app",
      engine: "postgres",
    },
  };
  backupAgeSeconds: number | undefined = 3600;
  /** Every DNS answer drctl's check saw, in order. */
  readonly dnsAnswers: string[] = [];
  jobs = 0;

  constructor(
    private readonly clock: FakeClock,
    private readonly world: FakeWorld,
    private readonly aws: FakeAws,
    private readonly route53: FakeRoute53,
    private readonly ops: FakeStackOps,
  ) {}

  async replicaStatus(site: string, signal: AbortSignal): Promise<ReplicaStatus> {
    await this.world.enter(REGION[site], "PostgreSQL", `replica status of ${site}`, signal);
    if (this.aws.replicaOf[site] === undefined) {
      throw new NotAReplica(`the database is not a replica (pg_is_in_recovery() is false)`);
    }
    return { now: new Date(this.clock.now()), ...this.replica[site] };
  }

  async newestBackupAgeSeconds(site: string, signal: AbortSignal): Promise<number | undefined> {
    await this.world.enter(REGION[site], "S3", `ListObjectsV2 ${site}`, signal);
    return this.backupAgeSeconds;
  }

  async masterSecret(
    site: string,
    region: string,
    signal: AbortSignal,
  ): Promise<MasterSecretFields> {
    await this.world.enter(
      region,
      "Secrets Manager",
      `GetSecretValue acme-dr-${site}/db/master`,
      signal,
    );
    return this.secrets[site];
  }

  async writeCheck(site: string, signal: AbortSignal): Promise<void> {
    await this.world.enter(REGION[site], "PostgreSQL", `write check on ${site}`, signal);
    if (this.aws.replicaOf[site] !== undefined || this.route53.fenced.has(site)) {
      throw new Error(`cannot execute CREATE TABLE in a read-only transaction`);
    }
  }

  async dnsAnswer(signal: AbortSignal): Promise<string | undefined> {
    await this.world.enter("global", "DNS", "resolve app.acme-dr.example.com", signal);
    const answer = this.route53.answer();
    this.dnsAnswers.push(answer);
    return answer;
  }

  async bucketAnswers(site: string, signal: AbortSignal): Promise<void> {
    await this.world.enter(
      REGION[site],
      "S3",
      `HeadBucket acme-dr-${site}-backups-111122223333`,
      signal,
    );
  }

  async startBatchReplication(site: string, signal: AbortSignal): Promise<BatchReplicationJob> {
    await this.world.enter(
      REGION[site],
      "S3 Control",
      `CreateJob S3ReplicateObject ${site}`,
      signal,
    );
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
  readonly aws: FakeAws;
  readonly ops: FakeStackOps;
  readonly sites: FakeSites;
  readonly route53: FakeRoute53;
  readonly regionSwitch: FakeRegionSwitch;
  readonly workDir: string;
  run(
    ...argv: string[]
  ): Promise<{ code: number; stdout: string; stderr: string; calls: string[] }>;
  restore(): void;
}

/** A fresh work directory and fakes; `run` passes `--work-dir` and returns only this run's calls. */
export function harness(): Harness {
  const clock = new FakeClock();
  const world = new FakeWorld();
  const aws: FakeAws = { replicaOf: { use1: undefined, usw2: "use1" } };
  const ops = new FakeStackOps(clock, world, aws);
  const route53 = new FakeRoute53();
  const sites = new FakeSites(clock, world, aws, route53, ops);
  const regionSwitch = new FakeRegionSwitch(world, aws, route53);
  const mock = mockClient(RegionSwitchClient);
  regionSwitch.install(mock);
  const workDir = mkdtempSync(join(tmpdir(), "drctl-failover-"));
  const deps: FailoverDeps = {
    ops,
    stackFile: (stack) => Promise.resolve(flatten(ops.config[stack])),
    stateLocations: {
      backend: { url: "https://api.pulumi.com", from: "test" },
      secretsProviders: {},
    },
    probes: () => sites,
    controls: () => sites,
    regionSwitch: (region) => new RegionSwitchClient({ region }),
    clock,
  };
  return {
    clock,
    world,
    aws,
    ops,
    sites,
    route53,
    regionSwitch,
    workDir,
    restore: () => mock.restore(),
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
      };
    },
  };
}

/** The one report a run (of `direction`, when given) left in the work directory. */
export function readReport(workDir: string, direction = ""): FailoverReport {
  const dir = join(workDir, ".drctl", "reports");
  const files = readdirSync(dir).filter((f) => f.startsWith(direction));
  if (files.length !== 1)
    throw new Error(`expected one report in ${dir}, found ${files.join(", ")}`);
  return JSON.parse(readFileSync(join(dir, files[0]), "utf8")) as FailoverReport;
}
