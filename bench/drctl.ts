/**
 * drctl throughput and memory benchmark (not a timed test): `npm run bench:drctl -- --size-mb 500`.
 *
 * Builds a dataset that does not compress 50:1 (random bytea plus hex text, roughly 2:1 under
 * zstd), then prints one run of: baseline `pg_dump -Fc -Z0 > /dev/null`; what writing the dump
 * durably, compressing it and s3rver's ingest cost on their own (the ceilings of the rows below);
 * `drctl backup` to file:// and s3:// (s3rver) with each compression; bare `pg_restore -j2` vs
 * `drctl restore --jobs 2`; and the peak RSS of the drctl backup process at two database sizes.
 * Throughputs are the uncompressed dump size divided by wall time, so ratios compare like with like.
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { findPgBinary } from "../drctl/src/postgres/binaries";
import { DEFAULT_PART_SIZE, DEFAULT_QUEUE_SIZE } from "../drctl/src/store/s3";
import { sql } from "../test/support/postgres";
import {
  MB,
  buildDataset,
  restoreTimed as restoreTimedIn,
  s3Ingest,
  startRig,
  timed,
  type Timed,
} from "./support";

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { "size-mb": { type: "string", default: "500" } },
  });
  const sizeMb = Number(values["size-mb"]);
  const smallMb = Math.max(10, Math.round(sizeMb / 5));
  const rig = await startRig("run-");
  const { scratch, drctlMain, cluster, s3, env } = rig;
  const pgDump = findPgBinary("pg_dump");
  const pgRestore = findPgBinary("pg_restore");
  try {
    console.log(`building ${smallMb} MB and ${sizeMb} MB datasets…`);
    await sql(cluster, "postgres", "create database small");
    await sql(cluster, "postgres", "create database big");
    await buildDataset(cluster, "small", smallMb);
    await buildDataset(cluster, "big", sizeMb);
    const [{ size }] = await sql<{ size: string }>(
      cluster,
      "big",
      "select pg_database_size('big')::text as size",
    );

    // Baseline, and the local file bare pg_restore reads.
    const bareFile = join(scratch, "bare.dump");
    const base = await timed("/bin/sh", [
      "-c",
      `"${pgDump.path}" -Fc -Z0 -d "${cluster.url("big")}" > /dev/null`,
    ]);
    // The same dump into a file on the store's disk (pg_dump fsyncs it): what writing costs here.
    const toFile = await timed(pgDump.path, [
      "-Fc",
      "-Z0",
      "-f",
      bareFile,
      "-d",
      cluster.url("big"),
    ]);
    const dumpBytes = Number(execFileSync("stat", ["-c", "%s", bareFile], { encoding: "utf8" }));
    const rate = (s: number): number => dumpBytes / MB / s;
    const baseRate = rate(base.seconds);
    const lines: string[] = [];
    const say = (l: string): void => {
      lines.push(l);
      console.log(l);
    };
    say(
      `database ${(Number(size) / MB).toFixed(0)} MB on disk, uncompressed dump ${(dumpBytes / MB).toFixed(0)} MB`,
    );
    say(
      `baseline pg_dump -Fc -Z0 > /dev/null: ${base.seconds.toFixed(2)} s, ${baseRate.toFixed(1)} MB/s`,
    );

    say(
      `pg_dump -Fc -Z0 -f <file on the store's disk>: ${toFile.seconds.toFixed(2)} s, ` +
        `${rate(toFile.seconds).toFixed(1)} MB/s, ${(rate(toFile.seconds) / baseRate).toFixed(2)}× baseline`,
    );

    // What this machine allows: the same dump through zstd into /dev/null (the CPU ceiling of
    // the zstd rows), and s3rver's own ingest of the finished file (the ceiling of the s3 rows).
    const zstdOnly = await timed("/bin/sh", [
      "-c",
      `"${pgDump.path}" -Fc -Z0 -d "${cluster.url("big")}" | zstd -1 -T2 -q -c > /dev/null`,
    ]);
    say(
      `ceiling: pg_dump -Fc -Z0 | zstd -1 -T2 > /dev/null: ${zstdOnly.seconds.toFixed(2)} s, ` +
        `${(rate(zstdOnly.seconds) / baseRate).toFixed(2)}× baseline`,
    );
    const ingest = await s3Ingest(s3, [{ key: "ingest/dump", path: bareFile }], 1);
    say(
      `ceiling: s3rver ingest of the dump file (${DEFAULT_PART_SIZE / 2 ** 20} MiB parts, ` +
        `${DEFAULT_QUEUE_SIZE} in flight): ${ingest.toFixed(2)} s, ` +
        `${(rate(ingest) / baseRate).toFixed(2)}× baseline`,
    );

    const fileStore = pathToFileURL(join(scratch, "store")).href;
    const s3Store = "s3://bench/drctl";
    const backup = (store: string, compress: string, db: string, tier = "daily"): Promise<Timed> =>
      timed(
        process.execPath,
        [
          drctlMain,
          "backup",
          "--tier",
          tier,
          "--compress",
          compress,
          "--store",
          store,
          "--database-url",
          cluster.url(db),
        ],
        env,
      );
    let restoreId = "";
    for (const [kind, store] of [
      ["file", fileStore],
      ["s3", s3Store],
    ] as const) {
      for (const compress of ["none", "zstd", "gzip"]) {
        const r = await backup(store, compress, "big");
        const id = r.stdout.trim();
        if (kind === "file" && compress === "none") restoreId = id;
        const manifest = JSON.parse(
          execFileSync(process.execPath, [drctlMain, "list", "--json", "--store", store], {
            env,
            encoding: "utf8",
          }),
        ) as { id: string; size: number }[];
        const stored = manifest.find((m) => m.id === id)?.size ?? 0;
        say(
          `drctl backup ${kind.padEnd(4)} ${compress.padEnd(4)}: ${r.seconds.toFixed(2)} s, ${rate(r.seconds).toFixed(1)} MB/s, ` +
            `${(rate(r.seconds) / baseRate).toFixed(2)}× baseline, stored ${(stored / MB).toFixed(0)} MB, peak RSS ${(r.peakRssKiB / 1024).toFixed(0)} MiB`,
        );
      }
    }

    const restoreTimed = (run: (url: string) => Promise<Timed>): Promise<Timed> =>
      restoreTimedIn(cluster, run);
    const pgRestoreJ2 = (file: string) => (url: string) =>
      timed(pgRestore.path, ["-j2", "--no-owner", "--exit-on-error", "-d", url, file]);
    const bare = await restoreTimed(pgRestoreJ2(bareFile));
    // drctl's dumps stream through its hash, so pg_dump cannot seek back to record data offsets
    // and pg_restore -j scans for them: the same bare restore from drctl's own dump shows that.
    const bareStreamed = await restoreTimed(
      pgRestoreJ2(join(scratch, "store", "daily", restoreId, "dump")),
    );
    const restored = await restoreTimed((url) =>
      timed(
        process.execPath,
        [drctlMain, "restore", restoreId, "--jobs", "2", "--store", fileStore, "--target-url", url],
        env,
      ),
    );
    say(`pg_restore -j2 from a local file: ${bare.seconds.toFixed(2)} s`);
    say(`pg_restore -j2 from drctl's dump (no data offsets): ${bareStreamed.seconds.toFixed(2)} s`);
    say(
      `drctl restore --jobs 2 (file store, none): ${restored.seconds.toFixed(2)} s, ` +
        `${(bare.seconds / restored.seconds).toFixed(2)}× bare pg_restore speed`,
    );

    const small = await backup(fileStore, "zstd", "small", "weekly");
    const big = await backup(fileStore, "zstd", "big", "weekly");
    const bigS3 = await backup(s3Store, "none", "big", "weekly");
    say(
      `peak RSS of drctl backup (zstd, file): ${(small.peakRssKiB / 1024).toFixed(0)} MiB at ${smallMb} MB, ` +
        `${(big.peakRssKiB / 1024).toFixed(0)} MiB at ${sizeMb} MB; s3 none at ${sizeMb} MB: ${(bigS3.peakRssKiB / 1024).toFixed(0)} MiB`,
    );
  } finally {
    await rig.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
