import type {
  EnforcementLevel,
  Policies,
  PolicyResource,
  PolicyResourceOptions,
  ReportViolation,
  ResourceValidation,
  ResourceValidationArgs,
  StackValidationArgs,
} from "@pulumi/policy";

/**
 * Runs the pack's rules over a list of registered resources the way the Pulumi CLI's analyzer
 * does (@pulumi/policy server.js): each resource policy once per resource with
 * `{ type, props, urn, name, opts, isType, asType, getConfig, notApplicable }`, each stack policy
 * once with every resource linked to its parent and dependencies. It does not start the policy
 * server, so tests and the offline check (policies/check.ts) can use it.
 *
 * One difference from a real run: stack policies see resource inputs here, where the CLI hands
 * them outputs. The rules only read properties that are inputs too, which is why they work on both.
 */

/** A registered resource, as test/support/mockRun.ts records it. */
export interface EvaluatedResource {
  readonly type: string;
  readonly name: string;
  readonly urn: string;
  readonly parent?: string;
  readonly inputs: Record<string, unknown>;
  readonly protect?: boolean;
  readonly dependsOn?: string[];
  readonly propertyDependencies?: Record<string, string[]>;
}

export interface Violation {
  readonly policyName: string;
  readonly description: string;
  readonly enforcementLevel: EnforcementLevel;
  readonly severity?: string;
  /** The resource in violation; undefined when a stack policy blames the whole stack. */
  readonly urn?: string;
  readonly message: string;
}

/** Pack config as `pulumi preview --policy-pack-config` takes it: per policy, level and values. */
export type PackConfig = Record<
  string,
  { enforcementLevel?: EnforcementLevel } & Record<string, unknown>
>;

export interface EvaluateOptions {
  /** Per-policy config overrides (thresholds, enforcementLevel). */
  readonly config?: PackConfig;
  /** The pack's default level, as policies/index.ts sets it. */
  readonly enforcementLevel?: EnforcementLevel;
}

class NotApplicable extends Error {}

function isTypeOf(type: string, resourceClass: unknown): boolean {
  const cls = resourceClass as {
    __pulumiType?: string;
    isInstance?: (o: unknown) => boolean;
  };
  if (typeof cls.__pulumiType === "string" && cls.__pulumiType) return cls.__pulumiType === type;
  return cls.isInstance?.({ __pulumiType: type }) === true;
}

function options(r: EvaluatedResource): PolicyResourceOptions {
  return {
    protect: r.protect ?? false,
    ignoreChanges: [],
    aliases: [],
    customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
    additionalSecretOutputs: [],
    ...(r.parent ? { parent: r.parent } : {}),
  };
}

function notApplicable(reason?: string): never {
  throw new NotApplicable(reason);
}

/** The CLI fills schema defaults and the user's pack config in; so does this. */
function configFor(policy: Policies[number], config: PackConfig | undefined) {
  return <T extends object>(): T => {
    const values: Record<string, unknown> = { ...config?.[policy.name] };
    delete values.enforcementLevel;
    const defaults: Record<string, unknown> = {};
    for (const [k, p] of Object.entries(policy.configSchema?.properties ?? {})) {
      if (p.default !== undefined) defaults[k] = p.default;
    }
    return { ...defaults, ...values } as T;
  };
}

function stackResources(resources: EvaluatedResource[]): PolicyResource[] {
  const byUrn = new Map<string, PolicyResource>();
  const out = resources.map((r) => {
    const props = r.inputs;
    const resource: PolicyResource = {
      type: r.type,
      props,
      urn: r.urn,
      name: r.name,
      opts: options(r),
      dependencies: [],
      propertyDependencies: {},
      isType: (cls) => isTypeOf(r.type, cls),
      asType: ((cls: unknown) =>
        isTypeOf(r.type, cls) ? props : undefined) as PolicyResource["asType"],
    };
    byUrn.set(r.urn, resource);
    return resource;
  });
  resources.forEach((r, i) => {
    const res = out[i] as { parent?: PolicyResource } & PolicyResource;
    if (r.parent && byUrn.has(r.parent)) res.parent = byUrn.get(r.parent);
    res.dependencies = (r.dependsOn ?? []).flatMap((u) => byUrn.get(u) ?? []);
    for (const [k, urns] of Object.entries(r.propertyDependencies ?? {})) {
      res.propertyDependencies[k] = urns.flatMap((u) => byUrn.get(u) ?? []);
    }
  });
  return out;
}

/** Evaluates every enabled policy over `resources`; returns the violations in policy order. */
export async function evaluate(
  policies: Policies,
  resources: EvaluatedResource[],
  opts: EvaluateOptions = {},
): Promise<Violation[]> {
  const violations: Violation[] = [];
  const linked = stackResources(resources);
  const stackTags: ReadonlyMap<string, string> = new Map();

  for (const policy of policies) {
    let level =
      opts.config?.[policy.name]?.enforcementLevel ??
      policy.enforcementLevel ??
      opts.enforcementLevel ??
      "advisory";
    if (level === "disabled") continue;
    if (level === "remediate") level = "mandatory";
    const getConfig = configFor(policy, opts.config);
    const report =
      (fixedUrn?: string): ReportViolation =>
      (message, urn) =>
        violations.push({
          policyName: policy.name,
          description: policy.description,
          enforcementLevel: level,
          severity: policy.severity,
          urn: fixedUrn ?? urn,
          message,
        });

    if ("validateResource" in policy && policy.validateResource) {
      const validations: ResourceValidation[] = Array.isArray(policy.validateResource)
        ? policy.validateResource
        : [policy.validateResource];
      for (const r of resources) {
        const props = r.inputs;
        const args: ResourceValidationArgs = {
          type: r.type,
          props,
          urn: r.urn,
          name: r.name,
          opts: options(r),
          stackTags,
          isType: (cls) => isTypeOf(r.type, cls),
          asType: ((cls: unknown) =>
            isTypeOf(r.type, cls) ? props : undefined) as ResourceValidationArgs["asType"],
          getConfig,
          notApplicable,
        };
        for (const validate of validations) {
          try {
            await validate(args, report(r.urn));
          } catch (err) {
            if (!(err instanceof NotApplicable)) throw err;
          }
        }
      }
    }
    if ("validateStack" in policy) {
      const args: StackValidationArgs = { resources: linked, stackTags, getConfig, notApplicable };
      try {
        await policy.validateStack(args, report());
      } catch (err) {
        if (!(err instanceof NotApplicable)) throw err;
      }
    }
  }
  return violations;
}

/** `type::name` of a URN, as the CLI shows a resource. */
function shortUrn(urn: string): string {
  const parts = urn.split("::");
  const type = (parts[2] ?? "").split("$").pop() ?? "";
  return `${type}: ${parts[3] ?? urn}`;
}

/** Renders violations the way `pulumi preview` prints them, one block per violation. */
export function formatViolations(
  violations: Violation[],
  pack = "dr-stack-guard",
  version = "0.1.0",
): string {
  if (violations.length === 0) return "Policies:\n    ✅ dr-stack-guard: no violations\n";
  const lines = ["Policy Violations:"];
  for (const v of violations) {
    const where = v.urn ? ` (${shortUrn(v.urn)})` : "";
    lines.push(`    [${v.enforcementLevel}]  ${pack}@v${version}  ${v.policyName}${where}`);
    lines.push(`    ${v.description}`);
    lines.push(`    ${v.message}`);
    if (v.urn) lines.push(`    resource: ${v.urn}`);
  }
  return lines.join("\n") + "\n";
}
