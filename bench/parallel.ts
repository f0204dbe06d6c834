/**
 * drctl's parallel paths against the ceilings this machine allows (not a timed test):
 * `npm run bench:parallel -- --sizes 500,2000 --crossover 20,100`.
 *
 * For each size, a database of four similar tables (bench/support.ts), then: the ceiling
 * `pg_dump -Fd -j 2 -Z0` into a directory on the store's disk (pg_dump fsyncs it); single-stream
 * `drctl backup --format custom`; `drctl backup --jobs 2 --format directory` to file:// and to
 * s3:// (s3rver, whose own ingest of the same files is that row's ceiling); bare `pg_restore -j 2`
 * from the local directory against `drctl restore --jobs 2` from each store; and each drctl
 * process's peak RSS. Then, at the --crossover sizes, single-stream against parallel backup and
 * restore, to show where parallel starts to pay. Throughput is the uncompressed dump size (the
 * ceiling directory's bytes) over wall time, so every row compares like with like.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { findPgBinary } from "../drctl/src/postgres/binaries";
import { sql } from "../test/support/postgres";
import {
  MB,
  buildDataset,
  bytesUnder,
  loadAverage,
  restoreTimed,
  s3Ingest,
  startRig,
  timed,
  type Timed,
} from "./support";

const JOBS = 2;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      sizes: { type: "string", default: "500,2000" },
      crossover: { type: "string", default: "20,100" },
    },
  });
  const sizes = values.sizes.split(",").map(Number);
  const crossover = values.crossover.split(",").filter(Boolean).map(Number);
  const rig = await startRig("parallel-");
  const { scratch, drctlMain, cluster, s3, env } = rig;
  const pgDump = findPgBinary("pg_dump").path;
  const pgRestore = findPgBinary("pg_restore").path;
  const fileStore = pathToFileURL(join(scratch, "store")).href;
  const s3Store = "s3://bench/drctl";
  const say = (l: string): void => console.log(l);
  say(`load average at start: ${loadAverage()} (2 cores; other work distorts every figure)`);

  const drctl = (args: string[]): Promise<Timed> =>
    timed(process.execPath, [drctlMain, ...args], env);
  const backup = (db: string, store: string, parallel: boolean): Promise<Timed> =>
    drctl([
      "backup",
      "--tier",
      "daily",
      "--compress",
      "none",
      "--store",
      store,
      "--database-url",
      cluster.url(db),
      ...(parallel ? ["--jobs", String(JOBS), "--format", "directory"] : ["--format", "custom"]),
    ]);
  const restore = (store: string, id: string): Promise<Timed> =>
    restoreTimed(cluster, (url) =>
      drctl(["restore", id, "--jobs", String(JOBS), "--store", store, "--target-url", url]),
    );
  const bareRestore = (dir: string): Promise<Timed> =>
    restoreTimed(cluster, (url) =>
      timed(pgRestore, [`-j${JOBS}`, "--no-owner", "--exit-on-error", "-d", url, dir]),
    );
  const mib = (t: Timed): string => `${(t.peakRssKiB / 1024).toFixed(0)} MiB`;

  try {
    for (const sizeMb of sizes) {
      const db = `p${sizeMb}`;
      say(`\n== ${sizeMb} MB database (4 similar tables) ==`);
      await sql(cluster, "postgres", `create database ${db}`);
      await buildDataset(cluster, db, sizeMb);
      // Warm the page cache once, so the first measured row does not pay for it.
      await timed("/bin/sh", ["-c", `"${pgDump}" -Fc -Z0 -d "${cluster.url(db)}" > /dev/null`]);

      const ceilingDir = join(scratch, `ceiling-${sizeMb}`);
      const ceiling = await timed(pgDump, [
        "-Fd",
        `-j${JOBS}`,
        "-Z0",
        "-f",
        ceilingDir,
        "-d",
        cluster.url(db),
      ]);
      const dumpBytes = bytesUnder(ceilingDir);
      const rate = (t: Timed | number): number =>
        dumpBytes / MB / (typeof t === "number" ? t : t.seconds);
      say(`uncompressed dump ${(dumpBytes / MB).toFixed(0)} MB`);
      say(
        `ceiling: pg_dump -Fd -j${JOBS} -Z0 -f <dir on the store's disk> (fsyncs): ` +
          `${ceiling.seconds.toFixed(2)} s, ${rate(ceiling).toFixed(1)} MB/s`,
      );
      const single = await backup(db, fileStore, false);
      say(
        `drctl backup, single stream (custom, none, file): ${single.seconds.toFixed(2)} s, ` +
          `${rate(single).toFixed(1)} MB/s, peak RSS ${mib(single)}`,
      );
      const par = await backup(db, fileStore, true);
      say(
        `drctl backup --jobs ${JOBS} (directory, none, file): ${par.seconds.toFixed(2)} s, ` +
          `${rate(par).toFixed(1)} MB/s, ${(single.seconds / par.seconds).toFixed(2)}× single stream ` +
          `(target ≥ 1.5×), ${(ceiling.seconds / par.seconds).toFixed(2)}× the -Fd -j${JOBS} ceiling ` +
          `(target ≥ 0.9×), peak RSS ${mib(par)}`,
      );
      const ingest = await s3Ingest(
        s3,
        readdirSync(ceilingDir).map((name) => ({
          key: `ingest-${sizeMb}/${name}`,
          path: join(ceilingDir, name),
        })),
        4,
      );
      const parS3 = await backup(db, s3Store, true);
      say(
        `drctl backup --jobs ${JOBS} (directory, none, s3rver): ${parS3.seconds.toFixed(2)} s, ` +
          `${rate(parS3).toFixed(1)} MB/s; ceiling: s3rver's ingest of the ceiling's files ` +
          `(4 uploads at once): ${ingest.toFixed(2)} s, ${rate(ingest).toFixed(1)} MB/s; peak RSS ${mib(parS3)}`,
      );

      const bare = await bareRestore(ceilingDir);
      const fromFile = await restore(fileStore, par.stdout.trim());
      const fromS3 = await restore(s3Store, parS3.stdout.trim());
      say(`ceiling: pg_restore -j${JOBS} from a local directory: ${bare.seconds.toFixed(2)} s`);
      say(
        `drctl restore --jobs ${JOBS} (directory, file store): ${fromFile.seconds.toFixed(2)} s, ` +
          `${(bare.seconds / fromFile.seconds).toFixed(2)}× bare pg_restore (target ≥ 0.9×), ` +
          `peak RSS ${mib(fromFile)}`,
      );
      say(
        `drctl restore --jobs ${JOBS} (directory, s3rver): ${fromS3.seconds.toFixed(2)} s, ` +
          `${(bare.seconds / fromS3.seconds).toFixed(2)}× bare pg_restore, peak RSS ${mib(fromS3)}`,
      );
      await sql(cluster, "postgres", `drop database ${db}`);
      rmSync(ceilingDir, { recursive: true, force: true });
      rmSync(join(scratch, "store"), { recursive: true, force: true });
    }

    if (crossover.length > 0) say(`\n== where parallel starts to pay (file store, none) ==`);
    for (const sizeMb of crossover) {
      const db = `x${sizeMb}`;
      await sql(cluster, "postgres", `create database ${db}`);
      await buildDataset(cluster, db, sizeMb);
      await timed("/bin/sh", ["-c", `"${pgDump}" -Fc -Z0 -d "${cluster.url(db)}" > /dev/null`]);
      const single = await backup(db, fileStore, false);
      const par = await backup(db, fileStore, true);
      const singleRestore = await restore(fileStore, single.stdout.trim());
      const parRestore = await restore(fileStore, par.stdout.trim());
      say(
        `${sizeMb} MB: backup ${single.seconds.toFixed(2)} s single, ${par.seconds.toFixed(2)} s ` +
          `--jobs ${JOBS}; restore --jobs ${JOBS} ${singleRestore.seconds.toFixed(2)} s from custom, ` +
          `${parRestore.seconds.toFixed(2)} s from directory`,
      );
      await sql(cluster, "postgres", `drop database ${db}`);
      rmSync(join(scratch, "store"), { recursive: true, force: true });
    }
    say(`\nload average at end: ${loadAverage()}`);
  } finally {
    await rig.stop();
    execFileSync("sync");
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
