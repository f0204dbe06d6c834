import { execFileSync } from "node:child_process";
import { join } from "node:path";
import type { Facts } from "./checks";
import type { Repo } from "./sources";

interface ZodLike {
  readonly _zod: { readonly def: Record<string, unknown> & { readonly type: string } };
}

/**
 * Every dotted path a zod schema accepts, a record's entries written `*`. Wrappers (optional,
 * default, pipe, union, …) are looked through; an array's elements are not keys.
 */
export function schemaPaths(schema: unknown, prefix = "", into = new Set<string>()): Set<string> {
  const def = (schema as ZodLike)._zod.def;
  const inner = (s: unknown): void => {
    schemaPaths(s, prefix, into);
  };
  switch (def.type) {
    case "object":
      for (const [key, child] of Object.entries(def.shape as Record<string, unknown>)) {
        const path = prefix ? `${prefix}.${key}` : key;
        into.add(path);
        schemaPaths(child, path, into);
      }
      break;
    case "record": {
      const path = prefix ? `${prefix}.*` : "*";
      into.add(path);
      schemaPaths(def.valueType, path, into);
      break;
    }
    case "optional":
    case "nullable":
    case "default":
    case "prefault":
    case "readonly":
    case "catch":
    case "nonoptional":
      inner(def.innerType);
      break;
    case "pipe":
      inner(def.in);
      inner(def.out);
      break;
    case "union":
      for (const option of def.options as unknown[]) inner(option);
      break;
    case "lazy":
      inner((def.getter as () => unknown)());
      break;
    default:
      break;
  }
  return into;
}

/** drctl's usage text, from drctl itself: the commands and flags it really has. */
export function drctlUsage(root: string): string {
  return execFileSync(process.execPath, [join(root, "drctl", "bin", "drctl"), "--help"], {
    cwd: root,
    encoding: "utf8",
    env: { ...process.env, DRCTL_STORE: "" },
  });
}

/** Commands are the words after `drctl` at the start of a usage line; flags every `--x`. */
export function parseUsage(usage: string): Pick<Facts, "drctlCommands" | "drctlFlags"> {
  const commands = new Set<string>();
  for (const m of usage.matchAll(/^\s*(?:usage:\s*)?drctl ([a-z][a-z-]*)(?: ([a-z][a-z-]*))?/gm)) {
    commands.add(m[1]);
    if (m[2]) commands.add(m[2]);
  }
  const flags = new Set([...usage.matchAll(/(?<![\w-])--[a-z][a-z0-9-]*/g)].map((m) => m[0]));
  flags.add("--help");
  flags.add("--version");
  return { drctlCommands: commands, drctlFlags: flags };
}

/** The names index.ts exports: the stack's outputs. */
export function stackOutputs(indexTs: string): string[] {
  return [...indexTs.matchAll(/^export const (\w+)\b/gm)].map((m) => m[1]);
}

/** Reads every fact from the code that owns it. */
export async function readFacts(repo: Repo): Promise<Facts> {
  const pkg = JSON.parse(repo.read("package.json")) as { scripts: Record<string, string> };
  const { configSchema } = await import("../../components/config");
  const { policies } = await import("../../policies/rules");
  const levels = policies.map((p) => p.enforcementLevel ?? "advisory");
  return {
    npmScripts: new Set(Object.keys(pkg.scripts)),
    ...parseUsage(drctlUsage(repo.root)),
    configPaths: schemaPaths(configSchema),
    policyCounts: {
      mandatory: levels.filter((l) => l === "mandatory").length,
      advisory: levels.filter((l) => l === "advisory").length,
    },
    stackOutputs: stackOutputs(repo.read("index.ts")),
  };
}
