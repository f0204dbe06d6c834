import { ROLES, type Role } from "../components/config";
import { policies } from "./rules";
import {
  evaluate,
  formatViolations,
  type EvaluatedResource,
  type PackConfig,
  type Violation,
} from "./evaluate";

/**
 * The offline check's matrix: every stack file in every role. Shared by `npm run policy:check`
 * (policies/check.ts, plain Node) and test/policies/offlineCheck.test.ts (vitest), which differ
 * only in how they run a stack under mocks.
 */

export const STACKS = ["primary", "dr"] as const;
export type Stack = (typeof STACKS)[number];
export { ROLES, type Role };

/**
 * Config overrides (keys without `dr-stack:`) that put a stack file in `role`. Only the role
 * changes: a failover changes only that key (docs/architecture.md §3).
 */
export function roleOverrides(role: Role): Record<string, unknown> {
  return { role };
}

/** Runs one stack with overrides under mocks; returns what it registered. */
export type StackRunner = (
  stack: Stack,
  overrides: Record<string, unknown>,
) => Promise<{ resources: EvaluatedResource[] }>;

export interface CaseResult {
  readonly stack: Stack;
  readonly role: Role;
  readonly violations: Violation[];
  /** Set when the stack did not run (config error, unmocked invoke…): a failure in itself. */
  readonly error?: string;
}

export async function checkCase(
  run: StackRunner,
  stack: Stack,
  role: Role,
  config?: PackConfig,
): Promise<CaseResult> {
  let resources: EvaluatedResource[];
  try {
    resources = (await run(stack, roleOverrides(role))).resources;
  } catch (err) {
    return { stack, role, violations: [], error: (err as Error).message };
  }
  return { stack, role, violations: await evaluate(policies, resources, { config }) };
}

export const isMandatory = (v: Violation): boolean => v.enforcementLevel === "mandatory";

export interface CheckOptions {
  readonly stacks?: readonly Stack[];
  readonly roles?: readonly Role[];
  /** Pack config, as `pulumi preview --policy-pack-config` takes it. */
  readonly config?: PackConfig;
}

/**
 * The whole offline check: every case run, printed as the CLI prints violations, and the exit
 * code — 0 clean (advisory violations allowed), 1 a mandatory violation, 2 a stack that did not run.
 */
export async function runCheck(
  run: StackRunner,
  opts: CheckOptions = {},
  log: (line: string) => void = console.log,
): Promise<number> {
  let mandatory = 0;
  let broken = 0;
  for (const stack of opts.stacks ?? STACKS) {
    for (const role of opts.roles ?? ROLES) {
      const result = await checkCase(run, stack, role, opts.config);
      const title = `== Pulumi.${stack}.yaml as ${role}`;
      if (result.error) {
        broken++;
        log(`${title}: the stack did not run\n${result.error}\n`);
        continue;
      }
      const count = result.violations.filter(isMandatory).length;
      mandatory += count;
      log(`${title}: ${result.violations.length} violation(s), ${count} mandatory`);
      log(formatViolations(result.violations));
    }
  }
  if (broken) return 2;
  return mandatory > 0 ? 1 : 0;
}
