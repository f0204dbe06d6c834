import { isDeepStrictEqual } from "node:util";
import type { RegisteredResource, StackRun } from "./mockRun";

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

/**
 * A generated password is written once and kept: its SecretVersion ignores changes to
 * secretString (components/database/credential.ts), so a real update keeps the stored value and
 * everything that reads it (the applications' Secret) sees the old one. Each mocked run draws a
 * new one; this puts `before`'s values back wherever `after` carries its own.
 */
export function keepGeneratedPasswords(before: StackRun, after: StackRun): RegisteredResource[] {
  const kept = new Map<string, string>();
  const password = (r: RegisteredResource) =>
    (JSON.parse(String(r.inputs.secretString ?? "{}")) as { password?: string }).password;
  for (const r of after.ofType("aws:secretsmanager/secretVersion:SecretVersion")) {
    const prev = before.resources.find((b) => b.urn === r.urn);
    const [was, is] = [prev && password(prev), password(r)];
    if (r.ignoreChanges.includes("secretString") && was && is && was !== is) kept.set(is, was);
  }
  const swap = (v: unknown): unknown => {
    if (typeof v === "string") {
      let out = v;
      for (const [is, was] of kept) out = out.split(is).join(was);
      return out;
    }
    if (Array.isArray(v)) return v.map(swap);
    if (v && typeof v === "object")
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, swap(x)]));
    return v;
  };
  return after.resources.map((r) => ({ ...r, inputs: swap(r.inputs) as Record<string, any> }));
}
