import type { RegisteredResource, StackRun } from "../support/mockRun";
import { appliedDiff } from "../support/diff";
import { FORCE_NEW } from "./forceNew";

/**
 * The diff of one `pulumi up` on a live stack, as the engine plans it from the last run's
 * registrations: per resource, the input keys that change (minus ignoreChanges), and whether
 * they replace it (a ForceNew input, or one the program lists in replaceOnChanges), in which
 * region. What the day-2 walk (day2Walk.test.ts) asserts each step against.
 */

export interface Change {
  /** `<type> <logical name>`. */
  readonly resource: string;
  readonly region: string | undefined;
  readonly action: "create" | "update" | "replace" | "delete";
  /** Changed input keys, sorted; empty for create and delete. */
  readonly keys: string[];
}

const label = (r: RegisteredResource) => `${r.type} ${r.name}`;

/** Custom resources only: components hold no inputs AWS sees. */
const custom = (run: StackRun) => run.resources.filter((r) => r.custom);

export function stepDiff(before: StackRun, after: StackRun): Change[] {
  const old = new Map(custom(before).map((r) => [r.urn, r]));
  const changes: Change[] = [];
  for (const r of custom(after)) {
    const prev = old.get(r.urn);
    const region = r.inputs.region as string | undefined;
    if (!prev) {
      changes.push({ resource: label(r), region, action: "create", keys: [] });
      continue;
    }
    const keys = appliedDiff(prev, r).map((c) => c.key);
    if (!keys.length) continue;
    const replacing = [...(FORCE_NEW[r.type] ?? []), ...r.replaceOnChanges];
    const action = keys.some((k) => replacing.includes(k)) ? "replace" : "update";
    changes.push({ resource: label(r), region, action, keys });
  }
  const now = new Set(custom(after).map((r) => r.urn));
  for (const r of custom(before))
    if (!now.has(r.urn))
      changes.push({
        resource: label(r),
        region: r.inputs.region as string | undefined,
        action: "delete",
        keys: [],
      });
  return changes.sort((a, b) => a.resource.localeCompare(b.resource));
}
