import { execFileSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { delimiter, join } from "node:path";

/** A PostgreSQL client or server program, found on this machine. */
export interface PgBinary {
  readonly path: string;
  /** Major version, e.g. 16. */
  readonly major: number;
  /** Full version string, e.g. "16.4". */
  readonly version: string;
}

export class MissingBinaryError extends Error {
  constructor(tool: string, searched: string[]) {
    super(
      `${tool} not found (looked in: ${searched.join(", ") || "nothing"}); ` +
        `install the PostgreSQL client (Debian: apt-get install postgresql-client) or set PG_BIN to its bin directory`,
    );
    this.name = "MissingBinaryError";
  }
}

/** Parses `pg_dump (PostgreSQL) 16.4 (Debian 16.4-1)` into its version. */
export function parseVersion(output: string): { major: number; version: string } | undefined {
  const m = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?/.exec(output);
  if (!m) return undefined;
  return { major: Number(m[1]), version: m[2] === undefined ? m[1] : `${m[1]}.${m[2]}` };
}

/** Debian keeps server programs in /usr/lib/postgresql/<major>/bin, off PATH; newest first. */
function debianBinDirs(root = "/usr/lib/postgresql"): string[] {
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((d) => /^\d+$/.test(d))
    .sort((a, b) => Number(b) - Number(a))
    .map((d) => join(root, d, "bin"));
}

function pgConfigBinDir(env: NodeJS.ProcessEnv): string | undefined {
  try {
    return execFileSync("pg_config", ["--bindir"], { env, encoding: "utf8", stdio: "pipe" }).trim();
  } catch {
    return undefined;
  }
}

/**
 * The directories searched for a PostgreSQL program, in order: `PG_BIN`, `PATH`,
 * `pg_config --bindir`, then `/usr/lib/postgresql/<major>/bin`, newest major first.
 */
export function searchDirs(env: NodeJS.ProcessEnv = process.env): string[] {
  const dirs: string[] = [];
  if (env.PG_BIN) return [env.PG_BIN];
  dirs.push(...(env.PATH ?? "").split(delimiter).filter(Boolean));
  const fromConfig = pgConfigBinDir(env);
  if (fromConfig) dirs.push(fromConfig);
  dirs.push(...debianBinDirs());
  return [...new Set(dirs)];
}

const cache = new Map<string, PgBinary>();

/** Finds `tool` (pg_dump, pg_restore, psql, initdb, postgres, …) and reads its version. */
export function findPgBinary(tool: string, env: NodeJS.ProcessEnv = process.env): PgBinary {
  const key = `${tool}\0${env.PG_BIN ?? ""}\0${env.PATH ?? ""}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const dirs = searchDirs(env);
  for (const dir of dirs) {
    const candidate = join(dir, tool);
    if (!existsSync(candidate)) continue;
    let out: string;
    try {
      out = execFileSync(candidate, ["--version"], { encoding: "utf8", stdio: "pipe", env });
    } catch {
      // Debian's pg_wrapper on PATH fails for server programs it does not wrap; try the next dir.
      continue;
    }
    const parsed = parseVersion(out);
    if (!parsed) continue;
    const found = { path: candidate, ...parsed };
    cache.set(key, found);
    return found;
  }
  throw new MissingBinaryError(tool, dirs);
}
