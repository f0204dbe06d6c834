import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";

/** Reading the stack files into the flat config map Pulumi hands a program. */

export const ROOT = join(__dirname, "..", "..");
export type StackName = "primary" | "dr";

/** Reads Pulumi.<stack>.yaml into the flat map Pulumi hands a program (objects as JSON). */
export function stackFileConfig(stack: StackName): Record<string, unknown> {
  const doc = parse(readFileSync(join(ROOT, `Pulumi.${stack}.yaml`), "utf8")) as {
    config: Record<string, unknown>;
  };
  return doc.config;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Deep-merges `override` into `base`; `undefined` in the override deletes the key. */
export function deepMerge(
  base: Record<string, unknown>,
  override: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(override)) {
    if (v === undefined) delete out[k];
    else if (isPlainObject(v) && isPlainObject(out[k])) out[k] = deepMerge(out[k], v);
    else out[k] = v;
  }
  return out;
}

/** Serializes config values the way the Pulumi CLI hands them to a program. */
export function toAllConfig(config: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(config).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]),
  );
}

/**
 * The config of `stack` with `overrides` (keys without the `dr-stack:` prefix) deep-merged in.
 */
export function stackConfig(
  stack: StackName,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  const base = stackFileConfig(stack);
  const prefixed = Object.fromEntries(
    Object.entries(overrides).map(([k, v]) => [`dr-stack:${k}`, v]),
  );
  return deepMerge(base, prefixed);
}
