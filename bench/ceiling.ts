/**
 * drctl against PostgreSQL's own tools, side by side (not a timed test):
 * `npm run bench:ceiling -- --size-mb 500 --rounds 5 --rss-mb 2000`.
 *
 * One database of four similar tables (bench/support.ts), then `--rounds` rounds; each round runs
 * every command below once, in an order rotated from round to round so that no command always
 * follows the same neighbour, and each ratio is taken within its round (baseline time / drctl
 * time: higher is better). Printed: each row's median and range over the rounds, the exact
 * commands, drctl's peak RSS there and at `--rss-mb`, and the load average sampled every second
 * during the run (the machine is shared: other work distorts every figure).
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { findPgBinary } from "../drctl/src/postgres/binaries";
import { sql } from "../test/support/postgres";
import { buildDataset, restoreTimed, startRig, timed, type Timed } from "./support";
import { LoadSampler, spread } from "./stats";

interface Step {
  readonly name: string;
  /** The command as a person would type it (URLs shortened to $DB / $TARGET). */
  readonly shown: string;
  readonly run: () => Promise<Timed>;
  readonly cleanup?: () => void;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      "size-mb": { type: "string", default: "500" },
      rounds: { type: "string", default: "5" },
      "rss-mb": { type: "string", default: "2000" },
    },
  });
  const sizeMb = Number(values["size-mb"]);
  const rounds = Number(values.rounds);
  const rssMb = Number(values["rss-mb"]);
  const load = new LoadSampler();
  const rig = await startRig("ceiling-");
  const { scratch, drctlMain, cluster, env } = rig;
  const pgDump = findPgBinary("pg_dump").path;
  const pgRestore = findPgBinary("pg_restore").path;
  const say = (l: string): void => console.log(l);
  try {
    const db = "ceiling";
    await sql(cluster, "postgres", `create database ${db}`);
    await buildDataset(cluster, db, sizeMb);
    // Warm the page cache once, so that the first measured command does not pay for it.
    await timed("/bin/sh", ["-c", `"${pgDump}" -Fc -Z0 -d "${cluster.url(db)}" > /dev/null`]);
    const steps = makeSteps(scratch, drctlMain, env, pgDump, cluster.url(db));
    // The restores need a dump of each kind to read: the bare one a -Fd directory, drctl's its
    // own --jobs 2 backup. Made once, outside the rounds.
    const fdDir = join(scratch, "restore-source");
    await timed(pgDump, ["-Fd", "-j2", "-Z0", "-f", fdDir, "-d", cluster.url(db)]);
    const restoreStore = pathToFileURL(join(scratch, "restore-store")).href;
    const backupForRestore = await timed(
      process.execPath,
      [drctlMain, "backup", "--tier", "daily", "--compress", "none", "--jobs", "2"]
        .concat(["--format", "directory", "--store", restoreStore])
        .concat(["--database-url", cluster.url(db)]),
      env,
    );
    const restoreId = backupForRestore.stdout.trim();
    steps.push(
      {
        name: "bare-restore",
        shown: `pg_restore -j2 --no-owner --exit-on-error -d $TARGET <pg_dump -Fd directory>`,
        run: () =>
          restoreTimed(cluster, (url) =>
            timed(pgRestore, ["-j2", "--no-owner", "--exit-on-error", "-d", url, fdDir]),
          ),
      },
      {
        name: "drctl-restore",
        shown: `drctl restore <id> --jobs 2 --store file://… --target-url $TARGET`,
        run: () =>
          restoreTimed(cluster, (url) =>
            timed(
              process.execPath,
              [drctlMain, "restore", restoreId, "--jobs", "2", "--store", restoreStore].concat([
                "--target-url",
                url,
              ]),
              env,
            ),
          ),
      },
    );

    const times = new Map<string, number[]>(steps.map((s) => [s.name, []]));
    const rss = new Map<string, number>();
    for (let round = 0; round < rounds; round++) {
      const order = steps.map((_, i) => steps[(i + round) % steps.length]);
      for (const step of order) {
        const t = await step.run();
        step.cleanup?.();
        times.get(step.name)!.push(t.seconds);
        rss.set(step.name, Math.max(rss.get(step.name) ?? 0, t.peakRssKiB / 1024));
      }
      say(`round ${round + 1}/${rounds} done, load ${load.now()}`);
    }

    const of = (name: string): number[] => times.get(name)!;
    const ratio = (base: string, ours: string): number[] => of(base).map((b, i) => b / of(ours)[i]);
    const cmd = (name: string): string => steps.find((s) => s.name === name)!.shown;
    say(`\n== ${sizeMb} MB database, 4 similar tables, ${rounds} interleaved rounds ==`);
    say(`commands:`);
    for (const s of steps) say(`  ${s.name.padEnd(16)} ${s.shown}`);
    say(`seconds (median [min–max]):`);
    for (const s of steps) say(`  ${s.name.padEnd(16)} ${spread(of(s.name), 2)}`);
    say(`ratios, baseline time / drctl time within each round (median [min–max]):`);
    const rows: [string, string, string, string][] = [
      [
        "single-stream backup / pg_dump -Fc -Z0 > /dev/null",
        "pgdump-null",
        "drctl-single",
        "≥ 0.90",
      ],
      ["single-stream backup / pg_dump -Fc -Z0 -f", "pgdump-file", "drctl-single", "≥ 0.95"],
      ["backup --jobs 2 / single stream", "drctl-single", "drctl-jobs2", "≥ 1.5"],
      ["backup --jobs 2 / pg_dump -Fd -j2 -Z0 -f", "pgdump-fd-j2", "drctl-jobs2", "≥ 0.9"],
      ["restore --jobs 2 / pg_restore -j2 (local dir)", "bare-restore", "drctl-restore", "≥ 0.9"],
    ];
    for (const [label, base, ours, target] of rows) {
      say(`  ${label.padEnd(50)} ${spread(ratio(base, ours), 2)}  target ${target}`);
      say(`    = (${cmd(base)}) / (${cmd(ours)})`);
    }
    const mib = (n: number | undefined): string => `${(n ?? 0).toFixed(0)} MiB`;
    say(
      `peak RSS at ${sizeMb} MB: backup ${mib(rss.get("drctl-single"))} single, ` +
        `${mib(rss.get("drctl-jobs2"))} --jobs 2; restore --jobs 2 ${mib(rss.get("drctl-restore"))}`,
    );
    rmSync(fdDir, { recursive: true, force: true });
    rmSync(join(scratch, "restore-store"), { recursive: true, force: true });
    await sql(cluster, "postgres", `drop database ${db}`);

    if (rssMb > 0) await peakRss(rig, rssMb, say);
    say(`load average during the run (1-minute, sampled each second): ${load.summary()}`);
  } finally {
    load.stop();
    await rig.stop();
  }
}

/** The drctl and baseline commands of one round, each with the directory it leaves to remove. */
function makeSteps(
  scratch: string,
  drctlMain: string,
  env: NodeJS.ProcessEnv,
  pgDump: string,
  url: string,
): Step[] {
  const store = join(scratch, "store");
  const file = join(scratch, "pgdump.dump");
  const dir = join(scratch, "pgdump-dir");
  const drctl = (args: string[]): Promise<Timed> =>
    timed(
      process.execPath,
      [drctlMain, "backup", "--tier", "daily", "--compress", "none", "--store"].concat([
        pathToFileURL(store).href,
        "--database-url",
        url,
        ...args,
      ]),
      env,
    );
  const clean = (path: string) => () => rmSync(path, { recursive: true, force: true });
  return [
    {
      name: "pgdump-null",
      shown: `pg_dump -Fc -Z0 -d $DB > /dev/null`,
      run: () => timed("/bin/sh", ["-c", `"${pgDump}" -Fc -Z0 -d "${url}" > /dev/null`]),
    },
    {
      name: "pgdump-file",
      shown: `pg_dump -Fc -Z0 -f <file> -d $DB`,
      run: () => timed(pgDump, ["-Fc", "-Z0", "-f", file, "-d", url]),
      cleanup: clean(file),
    },
    {
      name: "drctl-single",
      shown: `drctl backup --tier daily --compress none --store file://… --format custom`,
      run: () => drctl(["--format", "custom"]),
      cleanup: clean(store),
    },
    {
      name: "pgdump-fd-j2",
      shown: `pg_dump -Fd -j2 -Z0 -f <dir> -d $DB`,
      run: () => timed(pgDump, ["-Fd", "-j2", "-Z0", "-f", dir, "-d", url]),
      cleanup: clean(dir),
    },
    {
      name: "drctl-jobs2",
      shown: `drctl backup --tier daily --compress none --store file://… --jobs 2 --format directory`,
      run: () => drctl(["--jobs", "2", "--format", "directory"]),
      cleanup: clean(store),
    },
  ];
}

/** drctl's peak RSS on a larger database: backup single and --jobs 2, restore --jobs 2. */
async function peakRss(
  rig: Awaited<ReturnType<typeof startRig>>,
  sizeMb: number,
  say: (l: string) => void,
): Promise<void> {
  const { scratch, drctlMain, cluster, env } = rig;
  const db = "rss";
  await sql(cluster, "postgres", `create database ${db}`);
  await buildDataset(cluster, db, sizeMb);
  const store = pathToFileURL(join(scratch, "rss-store")).href;
  const backup = (args: string[]): Promise<Timed> =>
    timed(
      process.execPath,
      [drctlMain, "backup", "--tier", "daily", "--compress", "none", "--store", store].concat([
        "--database-url",
        cluster.url(db),
        ...args,
      ]),
      env,
    );
  const single = await backup(["--format", "custom"]);
  const par = await backup(["--jobs", "2", "--format", "directory"]);
  const restored = await restoreTimed(cluster, (url) =>
    timed(
      process.execPath,
      [drctlMain, "restore", par.stdout.trim(), "--jobs", "2", "--store", store].concat([
        "--target-url",
        url,
      ]),
      env,
    ),
  );
  const mib = (t: Timed): string => `${(t.peakRssKiB / 1024).toFixed(0)} MiB`;
  say(
    `peak RSS at ${sizeMb} MB: backup ${mib(single)} single (${single.seconds.toFixed(1)} s), ` +
      `${mib(par)} --jobs 2 (${par.seconds.toFixed(1)} s); restore --jobs 2 ${mib(restored)} ` +
      `(${restored.seconds.toFixed(1)} s)`,
  );
  rmSync(join(scratch, "rss-store"), { recursive: true, force: true });
  await sql(cluster, "postgres", `drop database ${db}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
