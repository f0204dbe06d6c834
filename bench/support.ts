/** What the drctl benchmarks share: timing a program with its peak RSS, the dataset, the build. */
import { execFileSync, spawn } from "node:child_process";
import { createReadStream, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { Upload } from "@aws-sdk/lib-storage";
import { mapLimit } from "../drctl/src/parallel/pool";
import { LocalCluster } from "../drctl/src/postgres/localCluster";
import { DEFAULT_PART_SIZE, DEFAULT_QUEUE_SIZE } from "../drctl/src/store/s3";
import { sql } from "../test/support/postgres";
import { S3Server } from "../test/support/s3server";

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

/** What every drctl benchmark runs against, started by `startRig` and stopped by `stop`. */
export interface Rig {
  /** A scratch directory under bench/out, removed by `stop`. */
  readonly scratch: string;
  /** drctl compiled into the scratch directory. */
  readonly drctlMain: string;
  readonly cluster: LocalCluster;
  /** s3rver on loopback with the bucket `bench`. */
  readonly s3: S3Server;
  /** The environment drctl runs with: s3rver's endpoint and credentials. */
  readonly env: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

/**
 * drctl built as the image runs it (compiled, so ts-node's start-up is not measured), a
 * throwaway cluster tuned for loading (no fsync: the benchmark times drctl, not the source's
 * durability), and s3rver.
 */
export async function startRig(prefix: string): Promise<Rig> {
  const out = join(root, "bench", "out");
  mkdirSync(out, { recursive: true });
  const scratch = mkdtempSync(join(out, prefix));
  const drctlMain = buildDrctl(join(scratch, "dist"));
  const cluster = await LocalCluster.init({
    settings: {
      fsync: "off",
      synchronous_commit: "off",
      full_page_writes: "off",
      max_wal_size: "4GB",
    },
  });
  await cluster.start();
  const s3 = await S3Server.start();
  await s3.createBucket("bench");
  return {
    scratch,
    drctlMain,
    cluster,
    s3,
    env: { ...process.env, ...s3.env() },
    async stop() {
      await s3.stop();
      await cluster.destroy();
      rmSync(scratch, { recursive: true, force: true });
    },
  };
}

/**
 * Times `run` against a fresh empty database `restore_target`, after a checkpoint so that no dirty
 * buffers from the run before are written back during this one, and drops it afterwards. Without
 * that the later runs paid for the earlier ones' write-back and looked slower than they are.
 */
export async function restoreTimed(
  cluster: LocalCluster,
  run: (url: string) => Promise<Timed>,
): Promise<Timed> {
  await sql(cluster, "postgres", "create database restore_target");
  await sql(cluster, "postgres", "checkpoint");
  try {
    return await run(cluster.url("restore_target"));
  } finally {
    await sql(cluster, "postgres", "drop database restore_target");
  }
}

/**
 * Seconds s3rver takes to ingest `files` (key → local path), `concurrency` uploads at once, through
 * the multipart settings drctl uses: the ceiling of drctl's S3 rows.
 */
export async function s3Ingest(
  s3: S3Server,
  files: readonly { key: string; path: string }[],
  concurrency: number,
): Promise<number> {
  const client = s3.client();
  const started = process.hrtime.bigint();
  await mapLimit(files, concurrency, (f) =>
    new Upload({
      client,
      partSize: DEFAULT_PART_SIZE,
      queueSize: DEFAULT_QUEUE_SIZE,
      params: { Bucket: "bench", Key: f.key, Body: createReadStream(f.path) },
    }).done(),
  );
  client.destroy();
  return Number(process.hrtime.bigint() - started) / 1e9;
}
