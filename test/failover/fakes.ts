import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { parse } from "yaml";
import type { Role } from "../../components/config";
import { roleTransitionProblems } from "../../components/dbTransition";
import { runFailover, type FailoverDeps } from "../../drctl/src/failover/command";
import type {
  ChangeSummary,
  Clock,
  DnsOps,
  FailoverRecordRef,
  Probes,
  SetConfigOptions,
  StackOps,
} from "../../drctl/src/failover/ports";

const ROOT = join(__dirname, "..", "..");

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

/** Starts at a fixed instant; sleeping and updating move it forward without waiting. */
export class FakeClock implements Clock {
  t = Date.parse("2025-03-01T12:00:00.000Z");
  now(): number {
    return this.t;
  }
  sleep(ms: number): Promise<void> {
    this.t += ms;
    return Promise.resolve();
  }
}

/**
 * In-memory stacks: config per stack, the config last deployed by `up`, and every call in order.
 * `failOn` fails the first call whose description matches, once; `unreachable` stacks throw on everything.
 */
export class FakeStackOps implements StackOps {
  readonly calls: string[] = [];
  /** What each `up` deployed: `<stack> role=<role> allowRebuild=<bool>`. */
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

  constructor(private readonly clock: FakeClock) {}

  private record(call: string, stack: string): void {
    this.calls.push(call);
    if (this.unreachable.has(stack)) throw new Error(`backend for stack ${stack} did not answer`);
    if (this.failOn === call) {
      this.failOn = undefined;
      throw new Error(`injected failure at "${call}"`);
    }
  }

  select(stack: string): Promise<void> {
    this.record(`select ${stack}`, stack);
    return Promise.resolve();
  }

  getAllConfig(stack: string): Promise<Record<string, string>> {
    this.record(`getAllConfig ${stack}`, stack);
    const flat: Record<string, string> = {};
    for (const [k, v] of Object.entries(this.config[stack])) {
      flat[k] = typeof v === "string" ? v : JSON.stringify(v);
    }
    return Promise.resolve(flat);
  }

  setConfig(stack: string, key: string, value: string, opts: SetConfigOptions): Promise<void> {
    this.record(`set${opts.path ? " --path" : ""} ${stack} ${key}=${value}`, stack);
    if (!opts.path) {
      this.config[stack][key] = value;
      return Promise.resolve();
    }
    const [top, ...rest] = key.split(".");
    let node = (this.config[stack][top] ??= {}) as Record<string, unknown>;
    for (const part of rest.slice(0, -1)) node = (node[part] ??= {}) as Record<string, unknown>;
    node[rest[rest.length - 1]] = typed(value);
    return Promise.resolve();
  }

  removeConfig(stack: string, key: string, opts: SetConfigOptions): Promise<void> {
    this.record(`rm${opts.path ? " --path" : ""} ${stack} ${key}`, stack);
    if (!opts.path) {
      delete this.config[stack][key];
      return Promise.resolve();
    }
    const [top, ...rest] = key.split(".");
    let node = this.config[stack][top] as Record<string, unknown> | undefined;
    for (const part of rest.slice(0, -1))
      node = node?.[part] as Record<string, unknown> | undefined;
    if (node) delete node[rest[rest.length - 1]];
    return Promise.resolve();
  }

  preview(stack: string): Promise<ChangeSummary> {
    this.record(`preview ${stack}`, stack);
    return Promise.resolve({ same: 42, update: 1 });
  }

  /** The Route 53 zone the stacks' DnsFailover records live in; `up` changes the stack's record. */
  zone: FakeZone | undefined;

  /**
   * `pulumi up`, with the program's own check of the declared move (components/dbTransition.ts):
   * every role change must be declared with the role actually deployed, and be one the state
   * machine allows, or the update fails before anything changes, as the program makes it fail.
   */
  up(stack: string): Promise<ChangeSummary> {
    try {
      return Promise.resolve(this.deploy(stack));
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  private deploy(stack: string): ChangeSummary {
    this.record(`up ${stack}`, stack);
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
    this.zone?.deploy(SITE_OF_STACK[stack], role);
    this.deployed[stack] = structuredClone(this.config[stack]);
    this.deploys.push(`${stack} role=${role} allowRebuild=${declared.allowRebuild ?? false}`);
    this.clock.t += (this.upSeconds[role] ?? 30) * 1000;
    return { update: 1 };
  }

  role(stack: string): unknown {
    return this.config[stack]["dr-stack:role"];
  }
}

const STACK_OF_SITE: Record<string, string> = { use1: "primary", usw2: "dr" };
const SITE_OF_STACK: Record<string, string> = { primary: "use1", dr: "usw2" };

/** naming.failoverSetIdentifier of the stack files' sites. */
export const setIdentifier = (site: string): string => `acme-dr-${site}`;

/**
 * The failover records of `dr-stack:dns.recordName` in its zone, by set identifier, with Route 53's
 * rule: one PRIMARY and one SECONDARY per name and type. `deploy` is what a stack's `up` does to its
 * site's record (components/dnsFailover.ts); it throws as Route 53 does when the slot is taken.
 */
export class FakeZone {
  readonly records = new Map<string, "PRIMARY" | "SECONDARY">([
    [setIdentifier("use1"), "PRIMARY"],
    [setIdentifier("usw2"), "SECONDARY"],
  ]);

  deploy(site: string, role: string): void {
    const id = setIdentifier(site);
    if (role === "fenced") {
      this.records.delete(id);
      return;
    }
    const type = role === "primary" ? "PRIMARY" : "SECONDARY";
    const holder = [...this.records].find(([other, t]) => other !== id && t === type)?.[0];
    if (holder) {
      throw new Error(
        `InvalidChangeBatch: [The ${type} resource record set ${holder} already exists for ` +
          `app.acme-dr.example.com. type A]`,
      );
    }
    this.records.set(id, type);
  }
}

/**
 * Route 53 as DnsOps over a FakeZone. Calls go into the stacks' call log, so a test sees the DNS
 * release in order among the updates. `failNext` fails the next call (before it changes anything).
 */
export class FakeDnsOps implements DnsOps {
  failNext: Error | undefined;

  constructor(
    private readonly calls: string[],
    readonly zone: FakeZone,
  ) {}

  deleteFailoverRecord(ref: FailoverRecordRef): Promise<"deleted" | "absent"> {
    this.calls.push(
      `dns delete ${ref.zoneId} ${ref.recordName} ${ref.recordType} ${ref.setIdentifier}`,
    );
    const err = this.failNext;
    if (err) {
      this.failNext = undefined;
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    if (this.zone.records.get(ref.setIdentifier) !== "PRIMARY") return Promise.resolve("absent");
    this.zone.records.delete(ref.setIdentifier);
    return Promise.resolve("deleted");
  }
}

/** Probes that read the fake's deployed state: DNS and writes follow whichever site was deployed primary. */
export class FakeProbes implements Probes {
  lag: Record<string, number | undefined> = { use1: 2, usw2: 4 };
  /** Lag readings returned in turn before falling back to `lag` (a replica catching up). */
  lagSeries: Record<string, (number | undefined)[]> = {};
  reachable: Record<string, boolean> = { use1: true, usw2: true };
  /** Whether the site's Route 53 health check passes. */
  healthy: Record<string, boolean> = { use1: true, usw2: true };
  backupAgeSeconds: number | undefined = 3600;
  failLagOnce = false;
  writeBroken = false;
  readonly sites: string[] = [];

  constructor(private readonly ops: FakeStackOps) {}

  replicaLagSeconds(site: string): Promise<number | undefined> {
    this.sites.push(`lag ${site}`);
    if (this.failLagOnce) {
      this.failLagOnce = false;
      return Promise.reject(new Error("CloudWatch throttled the request"));
    }
    const series = this.lagSeries[site];
    if (series && series.length > 0) return Promise.resolve(series.shift());
    return Promise.resolve(this.lag[site]);
  }

  regionReachable(site: string): Promise<boolean> {
    this.sites.push(`reachable ${site}`);
    return Promise.resolve(this.reachable[site]);
  }

  newestBackupAgeSeconds(site: string): Promise<number | undefined> {
    this.sites.push(`backup ${site}`);
    return Promise.resolve(this.backupAgeSeconds);
  }

  writeCheck(site: string): Promise<void> {
    this.sites.push(`write ${site}`);
    const role = this.ops.deployed[STACK_OF_SITE[site]]["dr-stack:role"];
    if (this.writeBroken || role !== "primary") {
      return Promise.reject(new Error(`cannot execute CREATE TABLE in a read-only transaction`));
    }
    return Promise.resolve();
  }

  /** Route 53 answers with the deployed primary whose health check passes. */
  dnsAnswer(): Promise<string | undefined> {
    this.sites.push("dns");
    return Promise.resolve(
      Object.keys(STACK_OF_SITE).find(
        (site) =>
          this.healthy[site] &&
          this.ops.deployed[STACK_OF_SITE[site]]["dr-stack:role"] === "primary",
      ),
    );
  }
}

export interface Harness {
  readonly clock: FakeClock;
  readonly ops: FakeStackOps;
  readonly probes: FakeProbes;
  readonly dns: FakeDnsOps;
  readonly zone: FakeZone;
  readonly workDir: string;
  run(
    ...argv: string[]
  ): Promise<{ code: number; stdout: string; stderr: string; calls: string[] }>;
}

/** A fresh work directory and fakes; `run` passes `--work-dir` and returns only this run's calls. */
export function harness(): Harness {
  const clock = new FakeClock();
  const ops = new FakeStackOps(clock);
  const probes = new FakeProbes(ops);
  const zone = new FakeZone();
  ops.zone = zone;
  const dns = new FakeDnsOps(ops.calls, zone);
  const workDir = mkdtempSync(join(tmpdir(), "drctl-failover-"));
  const deps: FailoverDeps = { ops, probes: () => probes, dns: () => dns, clock };
  return {
    clock,
    ops,
    probes,
    dns,
    zone,
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
      const stdout = sink(chunks.out);
      const stderr = sink(chunks.err);
      const before = ops.calls.length;
      const code = await runFailover(
        [...argv, "--work-dir", workDir],
        { stdout, stderr, env: {} },
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

/** Leaves the fake stacks as a completed failover to usw2 does: use1 fenced, usw2 primary. */
export function afterFailover(h: Harness): void {
  for (const [stack, role] of [
    ["primary", "fenced"],
    ["dr", "primary"],
  ] as const) {
    h.ops.config[stack]["dr-stack:role"] = role;
    h.ops.deployed[stack]["dr-stack:role"] = role;
  }
  h.zone.records.clear();
  h.zone.records.set(setIdentifier("usw2"), "PRIMARY");
}

/**
 * The StackOps calls of one role change as drctl declares it: select, set the role and the role
 * being left, up, then clear the spent declaration.
 */
export function moveCalls(stack: string, to: Role, from: Role): string[] {
  return [
    `select ${stack}`,
    `set ${stack} dr-stack:role=${to}`,
    `set --path ${stack} dr-stack:database.previousRole=${from}`,
    `up ${stack}`,
    `rm --path ${stack} dr-stack:database.previousRole`,
  ];
}
