/** What the drctl benchmarks share: timing a program with its peak RSS, the dataset, the build. */
import { execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { LocalCluster } from "../drctl/src/postgres/localCluster";
import { sql } from "../test/support/postgres";

export const MB = 1e6;
export const root = join(__dirname, "..");

export interface Timed {
  seconds: number;
  peakRssKiB: number;
  stdout: string;
}

/**
 * Runs a program, polling /proc/<pid>/status for VmHWM (the process's own peak RSS), and with
 * `tree` the largest VmHWM of any of its children too (pg_dump -j's workers are its children).
 */
export function timed(
  file: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(file, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let peak = 0;
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
    const poll = setInterval(() => {
      try {
        const m = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"));
        if (m) peak = Math.max(peak, Number(m[1]));
      } catch {
        // exited between polls
      }
    }, 50);
    child.on("error", reject);
    child.on("close", (code) => {
      clearInterval(poll);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (code !== 0) reject(new Error(`${file} ${args.join(" ")} exited ${code}: ${stderr}`));
      else resolve({ seconds, peakRssKiB: peak, stdout });
    });
  });
}

/** Fills `db` with about `sizeMb` MB in `tables` similar tables (work for -j2 to share). */
export async function buildDataset(
  cluster: LocalCluster,
  db: string,
  sizeMb: number,
  tables = 4,
): Promise<void> {
  // ~420 bytes a row: 256 random bytes (incompressible) and 128 hex chars (about 2:1).
  const rowsPerTable = Math.ceil((sizeMb * MB) / 420 / tables);
  for (let t = 0; t < tables; t++) {
    await sql(
      cluster,
      db,
      `create table bench_${t} as
       select g as id,
              decode(${Array.from({ length: 16 }, () => "md5(random()::text)").join(" || ")}, 'hex') as payload,
              md5(g::text) || md5((g + ${t})::text) || md5(random()::text) || md5((g * 3)::text) as note
       from generate_series(1, ${rowsPerTable}) g`,
    );
    await sql(cluster, db, `alter table bench_${t} add primary key (id)`);
  }
}

/** Compiles drctl into `dist` (as the image runs it, so ts-node's start-up is not measured). */
export function buildDrctl(dist: string): string {
  execFileSync(
    process.execPath,
    [
      join(root, "node_modules/typescript/bin/tsc"),
      "-p",
      join(root, "drctl/tsconfig.build.json"),
      "--outDir",
      dist,
    ],
    { stdio: "inherit" },
  );
  return join(dist, "drctl", "src", "main.js");
}

/** Bytes under a path (a file, or a directory's files). */
export function bytesUnder(path: string): number {
  return Number(execFileSync("du", ["-sb", path], { encoding: "utf8" }).split("\t")[0]);
}

/** The 1-minute load average: the benchmark says when other work shared the machine. */
export function loadAverage(): string {
  return readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
}
