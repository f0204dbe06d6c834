import { vi } from "vitest";
import { runProgramWith, type StackRun } from "./support/mockRun";
import { stackConfig, type StackName } from "./support/stackFiles";

/**
 * Runs the real program (index.ts) under Pulumi mocks and returns what it registered.
 *
 *   const run = await runStack("dr", { role: "promoting" });
 *   run.one("aws:rds/instance:Instance").inputs.replicateSourceDb
 *
 * Fails on duplicate URNs and on any invoke that is not mocked; unwraps secrets. The mocked-run
 * core lives in ./support/mockRun, shared with the offline policy check (policies/check.ts),
 * which runs without vitest.
 */

export { StackRun, type RegisteredResource } from "./support/mockRun";
export {
  stackConfig,
  stackFileConfig,
  toAllConfig,
  deepMerge,
  ROOT,
  type StackName,
} from "./support/stackFiles";

/** Each stack in each role it can hold: primary and fenced for use1, standby, promoting and primary for usw2. */
export const STACK_ROLES = [
  ["primary", "primary"],
  ["primary", "fenced"],
  ["dr", "standby"],
  ["dr", "promoting"],
  ["dr", "primary"],
] as const;

/**
 * Runs index.ts for `stack` with `overrides` applied to its stack file. A config error (or any
 * error the program throws while loading) rejects with the program's own error.
 */
export async function runStack(
  stack: StackName,
  overrides: Record<string, unknown> = {},
): Promise<StackRun> {
  return runProgram(stackConfig(stack, overrides), stack);
}

/** Runs index.ts with exactly `config` (full keys, e.g. `dr-stack:role`). */
export async function runProgram(
  config: Record<string, unknown>,
  stack: StackName = "primary",
): Promise<StackRun> {
  return runProgramWith(config, stack, () => vi.resetModules());
}
