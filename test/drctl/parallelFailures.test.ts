import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { LocalCluster } from "../../drctl/src/postgres/localCluster";
import { drctl, errorEvents, plainErrors } from "../support/cli";
import { createDatabase, sql, startCluster } from "../support/postgres";

/**
 * A parallel backup (`pg_dump -Fd --jobs 2`) that fails says why in one line plus the JSON error
 * event, and leaves nothing a listing could take for a backup: a full disk, a pg_dump worker
 * killed, a read-only store. The disk is a size-limited tmpfs, which needs root (CI runs as
 * root); elsewhere those cases are skipped and say so.
 */
const ROOT = process.getuid?.() === 0;
if (!ROOT) {
  console.warn(
    "parallelFailures: not root, so no tmpfs can be mounted; full-disk and read-only cases skipped",
  );
}

let cluster: LocalCluster;
let work: string;
let dbUrl: string;

beforeAll(async () => {
  cluster = await startCluster();
  const db = await createDatabase(cluster, "pfail");
  // About 30 MB over two tables, so that both workers write and a 4 MiB disk fills mid-dump.
  for (const t of ["orders", "events"]) {
    await sql(
      cluster,
      db,
      `create table ${t} (id int primary key, body text not null);
       insert into ${t} select g, md5(g::text) || md5((g + 1)::text) || md5((g + 2)::text)
       from generate_series(1, 150000) g`,
    );
  }
  dbUrl = cluster.url(db);
  work = mkdtempSync(join(tmpdir(), "drctl-pfail-"));
}, 120_000);

afterAll(async () => {
  await cluster?.destroy();
  rmSync(work, { recursive: true, force: true });
});

interface Event {
  event: string;
  id?: string;
  message?: string;
}

function events(stderr: string): Event[] {
  return stderr
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Event);
}

/** Every regular file under `dir`, relative. */
function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath, d.name).slice(dir.length + 1));
}

/**
 * Mounts a tmpfs of `size` at a new directory for the duration of `body`. The umount is not lazy:
 * it fails (EBUSY) if drctl left a descriptor open on the disk, such as a deleted scratch file.
 * It is retried for a few seconds: pg_dump's workers are told to exit by their leader and may
 * outlive it by a moment (pg_dump's parallel.c, ShutdownWorkersHard).
 */
async function withTmpfs(size: string, body: (mnt: string) => Promise<void>): Promise<void> {
  const mnt = mkdtempSync(join(work, "mnt-"));
  execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size},mode=0700`, "tmpfs", mnt]);
  try {
    await body(mnt);
  } finally {
    await unmount(mnt);
  }
}

async function unmount(mnt: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      execFileSync("umount", [mnt], { stdio: "pipe" });
      return;
    } catch (err) {
      if (attempt === 50) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

const PARALLEL = ["backup", "--tier", "daily", "--jobs", "2", "--format", "directory"];

describe("backup --jobs 2 that fails", () => {
  it.skipIf(!ROOT)(
    "on a full disk: one line naming the cause and the place, the JSON event, nothing listed",
    async () => {
      await withTmpfs("4m", async (mnt) => {
        const store = pathToFileURL(mnt).href;
        const r = await drctl([...PARALLEL, "--compress", "none", "--store", store], {
          DATABASE_URL: dbUrl,
        });
        const id = events(r.stderr).find((e) => e.event === "start")?.id;
        expect(id).toMatch(/^\d{8}T\d{6}Z-[0-9a-f]{6}$/);
        const message =
          `no space left on device writing the dump under ${mnt}/daily/${id} (pg_dump exited ` +
          `with status 1: pg_dump: error: could not write to output file: No space left on ` +
          `device); nothing was committed and the partial dump was removed: free space there, ` +
          `or give drctl a larger volume (--store for a file store, TMPDIR for an S3 one)`;
        expect(r.code).toBe(1);
        expect(r.stdout).toBe("");
        expect(plainErrors(r.stderr)).toEqual([`drctl backup: ${message}`]);
        expect(events(r.stderr).filter((e) => e.event === "error")).toEqual([
          { time: expect.any(String), event: "error", op: "backup", message },
        ]);
        // Not a byte of the partial dump is left, and nothing is listed, let alone restorable.
        expect(files(mnt)).toEqual([]);
        const list = await drctl(["list", "--json", "--store", store]);
        expect(list.code).toBe(0);
        expect(JSON.parse(list.stdout)).toEqual([]);
      });
    },
    120_000,
  );

  it("when a pg_dump worker is killed: pg_dump's own reason, one line, nothing listed", async () => {
    const dir = mkdtempSync(join(work, "killed-"));
    const store = pathToFileURL(dir).href;
    const running = drctl([...PARALLEL, "--compress", "gzip", "--store", store], {
      DATABASE_URL: dbUrl,
    });
    // pg_dump's workers are its forked children; the leader is this process's child.
    const childrenOf = (pid: number): number[] =>
      readdirSync("/proc")
        .filter((p) => /^\d+$/.test(p))
        .filter((p) => {
          try {
            const stat = readFileSync(`/proc/${p}/stat`, "utf8");
            return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === pid;
          } catch {
            return false;
          }
        })
        .map(Number);
    const comm = (pid: number): string => {
      try {
        return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
      } catch {
        return "";
      }
    };
    let killed: number | undefined;
    for (let i = 0; i < 2000 && killed === undefined; i++) {
      const leader = childrenOf(process.pid).find((p) => comm(p) === "pg_dump");
      const worker = leader === undefined ? undefined : childrenOf(leader)[0];
      if (worker !== undefined && comm(worker) === "pg_dump") {
        process.kill(worker, "SIGKILL");
        killed = worker;
      } else {
        await new Promise((r) => setTimeout(r, 5));
      }
    }
    const r = await running;
    expect(killed).toBeDefined();
    const message =
      "pg_dump exited with status 1: pg_dump: error: a worker process died unexpectedly";
    expect(r.code).toBe(1);
    expect(plainErrors(r.stderr)).toEqual([`drctl backup: ${message}`]);
    expect(errorEvents(r.stderr)).toEqual([message]);
    expect(files(dir)).toEqual([]);
    expect(JSON.parse((await drctl(["list", "--json", "--store", store])).stdout)).toEqual([]);
  }, 120_000);

  it.skipIf(!ROOT)(
    "into a read-only store: read-only file system, not ENOENT … mkdir, for both formats",
    async () => {
      await withTmpfs("1m", async (mnt) => {
        mkdirSync(join(mnt, "store"));
        execFileSync("mount", ["-o", "remount,ro", mnt]);
        const store = pathToFileURL(join(mnt, "store")).href;
        for (const format of ["directory", "custom"]) {
          const r = await drctl(
            [...PARALLEL.slice(0, 5), "--format", format, "--compress", "none", "--store", store],
            { DATABASE_URL: dbUrl },
          );
          const id = events(r.stderr).find((e) => e.event === "start")?.id;
          const message =
            `store ${store}: cannot write ${mnt}/store/daily/${id}: read-only file system ` +
            `(EROFS); point --store at a writable directory or remount it read-write`;
          expect(r.code, format).toBe(1);
          expect(plainErrors(r.stderr), format).toEqual([`drctl backup: ${message}`]);
          expect(errorEvents(r.stderr), format).toEqual([message]);
        }
        expect(files(mnt)).toEqual([]);
      });
    },
    120_000,
  );
});
