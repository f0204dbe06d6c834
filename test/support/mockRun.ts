import * as pulumi from "@pulumi/pulumi";
import { deserializeProperties } from "@pulumi/pulumi/runtime/rpc";
import { computedState, mockCall } from "./mocks";
import { ROOT, toAllConfig, type StackName } from "./stackFiles";

/**
 * The core of a mocked run of the real program (index.ts), free of any test runner so that both
 * the vitest harness (test/harness.ts) and the offline policy check (policies/check.ts) use it.
 * Each caller says how to forget the program's modules between runs (`resetModules`): vitest's
 * `vi.resetModules`, or `resetRequireCache` under plain Node.
 *
 * Fails on duplicate URNs and on any invoke that is not mocked; unwraps secrets.
 */

export interface RegisteredResource {
  readonly type: string;
  readonly name: string;
  readonly urn: string;
  /** URN of the parent, or undefined for children of the stack. */
  readonly parent: string | undefined;
  /** Inputs as the provider would receive them, secrets unwrapped. */
  readonly inputs: Record<string, any>;
  /** False for component resources. */
  readonly custom: boolean;
  readonly id: string;
  readonly protect: boolean;
  readonly retainOnDelete: boolean;
  readonly dependsOn: string[];
  readonly deleteBeforeReplace: boolean;
  readonly replaceOnChanges: string[];
  readonly ignoreChanges: string[];
  /** Explicit provider reference (`<provider urn>::<id>`), or undefined for the default provider. */
  readonly provider: string | undefined;
  /** URNs each input property depends on (how the CLI links split S3 resources to their bucket). */
  readonly propertyDependencies: Record<string, string[]>;
  /**
   * What the (mocked) provider returned as the resource's state, as it travels on the wire (JSON:
   * undefined values dropped) with secrets unwrapped: what the next `up` diffs against, and the
   * outputs the CLI hands stack policies. Empty for component resources, whose state the mock
   * monitor keeps in its own encoding.
   */
  readonly state: Record<string, any>;
}

/** A provider function the program called (`aws.kms.getAlias`, …), with its arguments. */
export interface Invoke {
  readonly token: string;
  readonly inputs: Record<string, any>;
}

export class StackRun {
  constructor(
    readonly resources: RegisteredResource[],
    readonly outputs: Record<string, any>,
    readonly invokes: Invoke[] = [],
  ) {}

  ofType(type: string): RegisteredResource[] {
    return this.resources.filter((r) => r.type === type);
  }

  /** The single resource of `type` (optionally with logical `name`); throws listing what exists. */
  one(type: string, name?: string): RegisteredResource {
    const hits = this.ofType(type).filter((r) => name === undefined || r.name === name);
    if (hits.length !== 1) {
      const names = this.ofType(type).map((r) => r.name);
      throw new Error(
        `expected one ${type}${name ? ` named ${name}` : ""}, found ${hits.length} (${names.join(", ") || "none"})`,
      );
    }
    return hits[0];
  }

  named(name: string): RegisteredResource {
    const hit = this.resources.find((r) => r.name === name);
    if (!hit)
      throw new Error(
        `no resource named ${name}; have ${this.resources.map((r) => r.name).join(", ")}`,
      );
    return hit;
  }

  /** Children of a resource, by parent URN. */
  childrenOf(parent: RegisteredResource): RegisteredResource[] {
    return this.resources.filter((r) => r.parent === parent.urn);
  }
}

const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const SECRET_VALUE = "1b47061264138c4ac30d75fd1eb44270";

function unwrapSecrets(v: unknown): any {
  if (Array.isArray(v)) return v.map(unwrapSecrets);
  if (v && typeof v === "object") {
    const o = v as Record<string, unknown>;
    if (o[SECRET_SIG] === SECRET_VALUE) return unwrapSecrets(o.value);
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, unwrapSecrets(x)]));
  }
  return v;
}

async function settle(value: unknown): Promise<unknown> {
  if (pulumi.Output.isInstance(value)) {
    return new Promise((resolve) => value.apply((v) => resolve(v)));
  }
  return value;
}

type MonitorRequest = {
  getObject(): unknown;
  getType(): string;
  getName(): string;
  getParent(): string;
  getCustom(): boolean;
  getProtect(): boolean;
  getRetainondelete?(): boolean;
  getDependenciesList(): string[];
  getDeletebeforereplace?(): boolean;
  getReplaceonchangesList?(): string[];
  getIgnorechangesList?(): string[];
  getProvider?(): string;
  getPropertydependenciesMap?(): {
    forEach(cb: (deps: { getUrnsList(): string[] }, key: string) => void): void;
  };
};

/** Forgets every module of this repository (not node_modules) so the program loads afresh. */
export function resetRequireCache(): void {
  for (const key of Object.keys(require.cache)) {
    if (key.startsWith(ROOT) && !key.includes("/node_modules/")) delete require.cache[key];
  }
}

function propertyDependencies(req: MonitorRequest): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  req.getPropertydependenciesMap?.().forEach((deps, key) => (out[key] = deps.getUrnsList()));
  return out;
}

/**
 * Runs index.ts with exactly `config` (full keys, e.g. `dr-stack:role`) after `resetModules`, so
 * that the program reads this run's config rather than a cached module's.
 */
export async function runProgramWith(
  config: Record<string, unknown>,
  stack: StackName,
  resetModules: () => void,
): Promise<StackRun> {
  resetModules();
  const region = typeof config["aws:region"] === "string" ? config["aws:region"] : "us-east-1";
  const meta = new Map<string, Omit<RegisteredResource, "id" | "state">>();
  const failures: string[] = [];
  const invokes: Invoke[] = [];

  pulumi.runtime.setAllConfig(toAllConfig(config));
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        const { id, state } = computedState(args.type, args.name, args.inputs, region);
        return { id, state };
      },
      call(args) {
        invokes.push({
          token: args.token,
          inputs: unwrapSecrets(args.inputs) as Record<string, any>,
        });
        try {
          return mockCall(args, region);
        } catch (err) {
          failures.push((err as Error).message);
          throw err;
        }
      },
    },
    "dr-stack",
    stack,
  );

  // Wrap the mock monitor so that each registration's URN, parent and options are recorded.
  const monitor = pulumi.runtime.getMonitor() as unknown as {
    registerResource(req: MonitorRequest, cb: (err: unknown, res: unknown) => void): Promise<void>;
    newUrn(parent: string, type: string, name: string): string;
    resources: Map<string, { id: string | null; state: Record<string, unknown> }>;
  };
  const original = monitor.registerResource.bind(monitor);
  monitor.registerResource = async (req, cb) => {
    const urn = monitor.newUrn(req.getParent(), req.getType(), req.getName());
    if (meta.has(urn)) failures.push(`duplicate URN ${urn}`);
    meta.set(urn, {
      type: req.getType(),
      name: req.getName(),
      urn,
      custom: req.getCustom(),
      parent: req.getParent() || undefined,
      protect: req.getProtect(),
      retainOnDelete: req.getRetainondelete?.() ?? false,
      dependsOn: req.getDependenciesList(),
      deleteBeforeReplace: req.getDeletebeforereplace?.() ?? false,
      replaceOnChanges: req.getReplaceonchangesList?.() ?? [],
      ignoreChanges: req.getIgnorechangesList?.() ?? [],
      provider: req.getProvider?.() || undefined,
      propertyDependencies: propertyDependencies(req),
      inputs: unwrapSecrets(deserializeProperties(req.getObject() as never)) as Record<string, any>,
    });
    return original(req, cb);
  };

  const program = (await import("../../index")) as Record<string, unknown>;
  const outputs: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(program)) outputs[k] = unwrapSecrets(await settle(v));
  await pulumi.runtime.disconnect();

  const registered = [...meta.values()].map((m) => ({
    ...m,
    id: monitor.resources.get(m.urn)?.id ?? "",
    state: m.custom
      ? (unwrapSecrets(
          JSON.parse(JSON.stringify(monitor.resources.get(m.urn)?.state ?? {})),
        ) as Record<string, any>)
      : {},
  }));
  if (failures.length)
    throw new Error(`mocked run of ${stack} failed:\n  ${failures.join("\n  ")}`);
  return new StackRun(registered, outputs, invokes);
}
