import { buildSync } from "esbuild";
import { join } from "node:path";

/** The repository root: bundles name their sources relative to it, so they match on every machine. */
const ROOT = join(__dirname, "..", "..");

/** The plan's function handlers under ./lambdas, by name. */
export const HANDLERS = {
  fence: join(__dirname, "lambdas", "fence.ts"),
  check: join(__dirname, "lambdas", "check.ts"),
} as const;

/**
 * Per process, not per module: a build takes seconds, and the tests load the program afresh for
 * every mocked run. The sources do not change while a process runs.
 */
const cache: Map<string, string> = ((globalThis as Record<symbol, unknown>)[
  Symbol.for("dr-stack.regionSwitch.bundles")
] ??= new Map<string, string>()) as Map<string, string>;

/**
 * One handler and everything it imports (pg, the Secrets Manager client, drctl's failover SQL)
 * as one CommonJS file, built at program time. The same sources and the same esbuild give the
 * same bytes (paths relative to the repository, no timestamps, no source map), so the archive's
 * hash, which is what Pulumi compares, is unchanged and a second `pulumi up` is empty.
 * `pg-native` is pg's optional native binding, required only when asked for; it is left out.
 */
export function bundleHandler(entry: string): string {
  const hit = cache.get(entry);
  if (hit !== undefined) return hit;
  const code = buildHandler(entry);
  cache.set(entry, code);
  return code;
}

/** One build, uncached. */
export function buildHandler(entry: string): string {
  const result = buildSync({
    entryPoints: [entry],
    absWorkingDir: ROOT,
    bundle: true,
    platform: "node",
    target: "node22",
    format: "cjs",
    write: false,
    sourcemap: false,
    legalComments: "none",
    external: ["pg-native"],
    logLevel: "silent",
  });
  return result.outputFiles[0].text;
}
