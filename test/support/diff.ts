import { isDeepStrictEqual } from "node:util";

/** One top-level property that differs between two sets of registered inputs. */
export interface PropertyChange {
  readonly key: string;
  /** `undefined` when the property is absent before. */
  readonly from: unknown;
  /** `undefined` when the property is absent after. */
  readonly to: unknown;
}

/**
 * The top-level input properties that differ between `before` and `after` (added, removed or
 * changed, compared deeply), sorted by key: what `pulumi preview` would list as the diff of an
 * update, before the provider decides which of them it sends to AWS.
 */
export function diffInputs(
  before: Record<string, unknown>,
  after: Record<string, unknown>,
): PropertyChange[] {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...keys]
    .filter((key) => !isDeepStrictEqual(before[key], after[key]))
    .sort()
    .map((key) => ({ key, from: before[key], to: after[key] }));
}

/** Just the keys of `diffInputs`, for asserting exactly which properties change. */
export function changedKeys(
  before: Record<string, unknown>,
  after: Record<string, unknown>,
): string[] {
  return diffInputs(before, after).map((c) => c.key);
}

/**
 * The changes the engine applies: `diffInputs` minus the properties listed in the new
 * registration's `ignoreChanges` (the engine keeps their old values).
 */
export function appliedDiff(
  before: { inputs: Record<string, unknown> },
  after: { inputs: Record<string, unknown>; ignoreChanges: string[] },
): PropertyChange[] {
  return diffInputs(before.inputs, after.inputs).filter(
    (c) => !after.ignoreChanges.includes(c.key),
  );
}
