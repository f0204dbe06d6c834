import { createHash } from "node:crypto";
import type { Readable } from "node:stream";
import { Client } from "pg";
import {
  parse,
  parseOneOf,
  parsePositiveInt,
  parseTier,
  pick,
  STORE_OPTIONS,
  storeFrom,
  str,
  type Ctx,
} from "../cli";
import { envWithDbSecret, defaultSecretsClient, type SecretsClientFactory } from "../dbSecret";
import { DrctlError, EXIT, UsageError, explain } from "../errors";
import {
  DUMP_FILE,
  GLOBALS_FILE,
  MANIFEST_FILE,
  MANIFEST_FORMAT_VERSION,
  COMPRESSIONS,
  backupPrefix,
  newBackupId,
  type Compression,
  type Extension,
  type Manifest,
  type TableCount,
  type Tier,
} from "../manifest";
import { findPgBinary, MissingBinaryError, type PgBinary } from "../postgres/binaries";
import { referencedRoles, usedExtensions, withDependents } from "../postgres/inventory";
import { argvPasswordWarning, resolveTarget, type DbTarget } from "../postgres/target";
import { warn } from "../metrics";
import { capture, onTermination, runTool, zstdPath, type Tool } from "../postgres/tools";
import { backupDirectory } from "../parallel/backupDirectory";
import { countInSnapshot } from "../parallel/counts";
import { OffThreadGate } from "../parallel/streamGate";
import { resolveCounts, rowsFromArchive, type StreamTableRows } from "../parallel/streamCounts";
import {
  DEFAULT_PARALLEL_MIN_BYTES,
  FORMATS,
  chooseFormat,
  parseSize,
  type FormatChoice,
} from "../parallel/choose";
import { Meter, silentSink, type EventSink } from "../progress";
import { putBytes, type Store } from "../store";
import { DRCTL_VERSION } from "../version";

export interface BackupOptions {
  readonly store: Store;
  readonly tier: Tier;
  readonly source: DbTarget;
  /** @default "zstd" */
  readonly compression?: Compression;
  /** Environment for finding programs (PG_BIN, PATH, DRCTL_ZSTD). @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  readonly sink?: EventSink;
  /** @default new Date() */
  readonly now?: Date;
  /** pg_dump --jobs for a directory-format dump. @default 1 */
  readonly jobs?: number;
  /** @default "auto": directory when jobs > 1 and the database is at least parallelMinBytes */
  readonly format?: FormatChoice;
  /** @default DEFAULT_PARALLEL_MIN_BYTES */
  readonly parallelMinBytes?: number;
  /**
   * Also count every table with `count(*)` in the dump's snapshot and fail the backup if any
   * differs from the count read from the dump stream. @default false
   */
  readonly verifyCounts?: boolean;
}

/** Finds a PostgreSQL program; a missing one is an operation failure with the install hint. */
export function pgTool(tool: string, env: NodeJS.ProcessEnv): PgBinary {
  try {
    return findPgBinary(tool, env);
  } catch (err) {
    if (err instanceof MissingBinaryError) throw new DrctlError(err.message);
    throw err;
  }
}

/** Connects, turning refused / auth / unknown-database errors into one line. */
export async function connect(target: DbTarget, role: string): Promise<Client> {
  // The deadline comes from the target (DRCTL_CONNECT_TIMEOUT): an unreachable region must fail
  // within it, not after the operating system's own TCP timeout.
  const client = new Client({ connectionTimeoutMillis: 10_000, ...target.client });
  client.on("error", () => undefined);
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => undefined);
    throw explain(err, `${role} ${target.label}`);
  }
  return client;
}

const TABLES_SQL = `
  select n.nspname as schema, c.relname as name, format('%I.%I', n.nspname, c.relname) as qualified
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
  where c.relkind = 'r'
    and n.nspname not in ('pg_catalog', 'information_schema')
    and n.nspname !~ '^pg_(toast|temp_)'
  order by 1, 2`;

/** Count on this many connections, importing the caller's exported snapshot (parallel/counts.ts). */
interface Parallel {
  readonly jobs: number;
  readonly snapshot: string;
  readonly connect: () => Promise<Client>;
}

type TableRef = Omit<TableCount, "rows">;

/** Every ordinary table and leaf partition (relkind r), in the caller's transaction. */
async function listTables(client: Client): Promise<TableRef[]> {
  return (await client.query<TableRef>(TABLES_SQL)).rows;
}

/**
 * `count(*)` of `rows` (default: every table listTables gives) in the caller's transaction.
 * Names are quoted by the server (format %I), never assembled here.
 */
export async function countRows(
  client: Client,
  parallel?: Parallel,
  tables?: readonly TableRef[],
): Promise<TableCount[]> {
  const rows = tables ?? (await listTables(client));
  if (parallel && parallel.jobs > 1) {
    return countInSnapshot(client, rows, parallel.snapshot, parallel.jobs, parallel.connect);
  }
  const out: TableCount[] = [];
  for (const t of rows) {
    const { rows: c } = await client.query<{ n: string }>(
      `select count(*)::bigint::text as n from ${t.qualified}`,
    );
    out.push({ schema: t.schema, name: t.name, qualified: t.qualified, rows: Number(c[0].n) });
  }
  return out;
}

/**
 * `pg_dumpall --globals-only --no-role-passwords`: the cluster's roles (memberships, settings) and
 * tablespaces, which no pg_dump of one database contains. --no-role-passwords keeps passwords
 * out of the store, and is what makes it work on RDS, where pg_authid is unreadable
 * (https://www.postgresql.org/docs/current/app-pg-dumpall.html, --no-role-passwords). Stored
 * beside the dump with its SHA-256 in the manifest.
 */
/**
 * `pg_dumpall --globals-only`, started with the dump and stored at the commit: roles and
 * tablespaces are cluster-wide, outside any database snapshot, so taking them alongside the dump
 * instead of after it changes nothing but the ~0.1 s it added to every backup.
 */
function captureGlobals(source: DbTarget, env: NodeJS.ProcessEnv): Promise<Buffer> {
  const sql = (async () => {
    // Looked up here, not before: a missing pg_dumpall fails the commit, not the dump's start.
    const pgDumpall = pgTool("pg_dumpall", env);
    const args = ["--globals-only", "--no-role-passwords"];
    if (source.dbnameArg) args.push(`--dbname=${source.dbnameArg}`);
    return Buffer.from(await capture("pg_dumpall", pgDumpall.path, args, { env: source.env }));
  })();
  // Awaited at the commit; a backup that fails before then must not crash on its rejection.
  sql.catch(() => undefined);
  return sql;
}

async function storeGlobals(
  store: Store,
  key: string,
  sql: Buffer,
): Promise<{ key: typeof GLOBALS_FILE; size: number; sha256: string }> {
  await putBytes(store, key, sql);
  return {
    key: GLOBALS_FILE,
    size: sql.length,
    sha256: createHash("sha256").update(sql).digest("hex"),
  };
}

/**
 * zstd level 1 on two threads. Level 1 is the fastest level that still entropy-codes literals:
 * on the benchmark's hex text --fast=1 stored 743 MB of a 782 MB dump, -1 stored 382 MB. Two
 * workers, not -T0 (one per core the machine has, whatever the pod's CPU limit): with the dump
 * streaming through this process for its hash, -T2 took 5.84 s where --single-thread took 6.37 s
 * (500 MB database, 2 cores, median of 4 runs).
 */
const ZSTD_ARGS = ["-1", "-T2", "-vv", "-c"];

/**
 * The bytes zstd read, from its `-vv` summary line `(781234567 B => 382345678 B, …)`: the size of
 * the unwrapped archive a restore writes to its download volume, counted without routing the
 * dump through this process. zstd prints exact byte counts from verbosity 2 up (zstd 1.5's
 * fileio.c, DISPLAYLEVEL 2 summary); undefined if a zstd prints otherwise.
 */
export function zstdInputBytes(stderr: string): number | undefined {
  const m = /\((\d+) B => \d+ B,/.exec(stderr);
  return m ? Number(m[1]) : undefined;
}

/** Arguments that make pg_dump compress (or not) as asked. */
function dumpCompression(
  compression: Compression,
  pgDump: PgBinary,
): { args: string[]; envelope: "none" | "zstd" } {
  if (compression === "none") return { args: ["-Z0"], envelope: "none" };
  // zlib level 6 is pg_dump's default; slow (0.15–0.2× an uncompressed dump on random text).
  if (compression === "gzip") return { args: ["-Z6"], envelope: "none" };
  // pg_dump 16+ compresses with zstd itself; older ones hand raw bytes to the zstd program.
  if (pgDump.major >= 16) return { args: ["--compress=zstd:1"], envelope: "none" };
  return { args: ["-Z0"], envelope: "zstd" };
}

/**
 * Streams a consistent pg_dump of `source` into `store` and commits it with a manifest.
 *
 * Order matters: a repeatable-read transaction exports its snapshot; pg_dump dumps that snapshot,
 * and its bytes stream through the SHA-256 into the store as they are produced; once pg_dump (and
 * zstd) exited 0 the same transaction — still on that snapshot — counts rows; the dump object is
 * committed only when the programs exited 0 and the counts succeeded; the manifest, written last,
 * is the commit point.
 *
 * The counts wait for pg_dump: run alongside, count(*) of every table competed with pg_dump's
 * backend for the CPU and the disk; after it, they read pages pg_dump just brought into memory.
 */
export async function runBackup(options: BackupOptions): Promise<Manifest> {
  const env = options.env ?? process.env;
  const sink = options.sink ?? silentSink;
  const compression = options.compression ?? "zstd";
  const { store, tier, source } = options;
  const pgDump = pgTool("pg_dump", env);
  const started = options.now ?? new Date();
  const id = newBackupId(started);
  const prefix = backupPrefix(tier, id);

  const client = await connect(source, "database");
  try {
    const { rows: ver } = await client.query<{ v: string; n: string }>(
      "select current_setting('server_version') as v, current_setting('server_version_num') as n",
    );
    const serverVersion = ver[0].v;
    const serverVersionNum = Number(ver[0].n);
    const serverMajor = Math.floor(serverVersionNum / 10000);
    if (pgDump.major < serverMajor) {
      throw new DrctlError(
        `pg_dump ${pgDump.version} (${pgDump.path}) is older than the server (PostgreSQL ${serverVersion}) ` +
          `and cannot dump it; install postgresql-client-${serverMajor} or point PG_BIN at its bin directory`,
      );
    }
    await client.query("begin isolation level repeatable read, read only");
    const { rows: snap } = await client.query<{ s: string }>("select pg_export_snapshot() as s");
    const snapshot = snap[0].s;
    const jobs = options.jobs ?? 1;
    const { rows: dbSize } = await client.query<{ n: string }>(
      "select pg_database_size(current_database())::text as n",
    );
    // In the dump's transaction: the size of what the dump's snapshot holds (the manifest's
    // restoreNeeds), which `--format auto` also decides by.
    const databaseBytes = Number(dbSize[0].n);
    const plan = chooseFormat({
      requested: options.format ?? "auto",
      jobs,
      compression,
      pgDumpMajor: pgDump.major,
      databaseBytes,
      minBytes: options.parallelMinBytes ?? DEFAULT_PARALLEL_MIN_BYTES,
    });

    sink({
      event: "start",
      op: "backup",
      id,
      tier,
      store: store.url,
      source: source.label,
      compression,
      format: plan.format,
      jobs: plan.format === "directory" ? jobs : 1,
      why: plan.reason,
    });
    const globalsSql = captureGlobals(source, env);
    const { args: zArgs, envelope } = dumpCompression(compression, pgDump);
    const args = ["-Fc", `--snapshot=${snapshot}`, ...zArgs];
    if (source.dbnameArg) args.push(`--dbname=${source.dbnameArg}`);
    // What the manifest records besides the dump, read in the dump's snapshot once pg_dump is done.
    let counts: TableCount[] | undefined;
    let roles: string[] = [];
    let extensions: Extension[] = [];
    /**
     * Row counts come from the dump stream (parallel/archiveRows.ts), counted as it was hashed;
     * `count(*)` in the snapshot only for tables the stream could not give, or every table with
     * --verify-counts.
     */
    const takeInventory = async (stream: Promise<StreamTableRows | undefined>): Promise<void> => {
      try {
        const tables = await listTables(client);
        roles = await referencedRoles(client);
        extensions = await usedExtensions(client);
        // A parallel dump gets parallel counts, on as many connections as pg_dump had workers.
        const parallel =
          plan.format === "directory"
            ? { jobs, snapshot, connect: () => connect(source, "database") }
            : undefined;
        const resolved = await resolveCounts(
          tables,
          await stream,
          (need) => countRows(client, parallel, need),
          options.verifyCounts ?? false,
        );
        counts = await withDependents(client, resolved);
      } catch (err) {
        throw explain(err, `database ${source.label}`);
      }
    };
    /** Ends the snapshot, stores the globals and writes the manifest: the commit point. */
    const commit = async (
      dumped: Pick<Manifest, "format" | "envelope" | "dump" | "files"> & {
        archiveBytes: number | undefined;
      },
    ): Promise<Manifest> => {
      if (!counts) throw new Error("backup: the dump was stored without its row counts");
      await client.query("commit");
      const globals = await storeGlobals(store, `${prefix}${GLOBALS_FILE}`, await globalsSql);
      const manifest: Manifest = {
        formatVersion: MANIFEST_FORMAT_VERSION,
        id,
        tier,
        startedAt: started.toISOString(),
        finishedAt: new Date().toISOString(),
        source: {
          host: source.host,
          port: source.port,
          database: source.database,
          user: source.user,
        },
        serverVersion,
        serverVersionNum,
        pgDumpVersion: pgDump.version,
        drctlVersion: DRCTL_VERSION,
        format: dumped.format,
        compression,
        envelope: dumped.envelope,
        dump: dumped.dump,
        ...(dumped.files ? { files: dumped.files } : {}),
        globals,
        roles,
        extensions,
        tables: counts,
        snapshot,
        restoreNeeds: {
          databaseBytes,
          ...(dumped.archiveBytes === undefined ? {} : { archiveBytes: dumped.archiveBytes }),
        },
      };
      await putBytes(
        store,
        `${prefix}${MANIFEST_FILE}`,
        Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`),
      );
      return manifest;
    };
    if (plan.format === "directory") {
      const dir = await backupDirectory({
        store,
        tier,
        id,
        pgDump: pgDump.path,
        args: args.slice(1),
        jobs,
        dumpEnv: source.env,
        env,
        sink,
        takeInventory,
        onInterrupt: () => void client.end().catch(() => undefined),
      });
      const manifest = await commit({
        format: "directory",
        envelope: "none",
        dump: { key: DUMP_FILE, size: dir.bytes, sha256: dir.sha256 },
        files: dir.files,
        // pg_restore reads a directory dump's files as stored, compressed or not.
        archiveBytes: dir.bytes,
      });
      sink({
        event: "done",
        op: "backup",
        id,
        bytes: dir.bytes,
        files: dir.files.length,
        seconds: (Date.now() - started.getTime()) / 1000,
      });
      return manifest;
    }
    const dumpKey = `${prefix}${DUMP_FILE}`;
    const meter = new Meter("backup", sink);
    const tools: Tool[] = [];
    let interrupted: DrctlError | undefined;

    /**
     * Starts pg_dump (→ zstd) and returns the last program's stdout. pg_dump feeds zstd directly,
     * never through this process: on 2 cores every copy through Node is CPU taken from pg_dump.
     */
    const startDump = (): Readable | null => {
      const dump = runTool("pg_dump", pgDump.path, args, {
        env: source.env,
        stdio: ["ignore", "pipe", "pipe"],
      });
      tools.push(dump);
      if (envelope !== "zstd") return dump.child.stdout;
      const zstd = runTool("zstd", zstdPath(env), ZSTD_ARGS, {
        stdio: [dump.child.stdout ?? "ignore", "pipe", "pipe"],
      });
      // Only zstd may hold the read end: were this process to keep it open, a pg_dump whose zstd
      // died would block on a full pipe instead of dying of SIGPIPE.
      dump.child.stdout?.destroy();
      tools.push(zstd);
      return zstd.child.stdout;
    };
    /** Resolves when every program exited 0; pg_dump's failure is the cause unless it died of SIGPIPE. */
    const programsDone = async (): Promise<void> => {
      const results = await Promise.allSettled(tools.map((t) => t.done));
      const failures = results
        .map((r, i) =>
          r.status === "rejected" ? { tool: tools[i], err: r.reason as Error } : undefined,
        )
        .filter((f) => f !== undefined);
      if (failures.length === 0) return;
      const cause = failures.find((f) => f.tool.child.signalCode !== "SIGPIPE") ?? failures[0];
      throw cause.err;
    };
    const stopTools = (): void => {
      for (const t of tools) t.child.kill("SIGKILL");
    };
    // The dump streams through the gate into the store while a worker hashes it and, unless
    // zstd wrapped it, counts its rows. The gate lets the stream end, and so the store commit the
    // object, only once the programs exited 0 and the inventory succeeded.
    const gate = new OffThreadGate(
      async (result) => {
        await programsDone();
        if (interrupted) throw interrupted;
        await takeInventory(Promise.resolve(rowsFromArchive(result.rows)));
      },
      { count: envelope === "zstd" ? undefined : "archive", onBytes: (n) => meter.add(n) },
    );
    // The CronJob's activeDeadlineSeconds sends SIGTERM: stop pg_dump and zstd, abort the upload or
    // delete the temporary file, and write no manifest.
    const disposeSignals = onTermination((signal) => {
      interrupted = new DrctlError(
        `interrupted by ${signal}; pg_dump stopped, the partial dump removed and no manifest written`,
      );
      stopTools();
      gate.destroy(interrupted);
      // A long row count must not hold the exit: ending the connection fails the query.
      void client.end().catch(() => undefined);
    });

    try {
      const body = startDump();
      if (!body) throw new Error("backup: no stdout from the dump programs");
      body.on("error", (err) => gate.destroy(err));
      body.pipe(gate);
      await store.put(dumpKey, gate);
    } catch (err) {
      // If pg_dump already ended on its own, its failure is the cause; otherwise the store
      // failed first and pg_dump is stopped here.
      const dumpEnded = tools.some((t) => t.child.exitCode !== null || t.child.signalCode !== null);
      stopTools();
      const dumpError = dumpEnded
        ? await programsDone().then(
            () => undefined,
            (e: Error) => e,
          )
        : undefined;
      throw interrupted ?? dumpError ?? err;
    } finally {
      disposeSignals();
    }
    if (interrupted) throw interrupted;
    const stored = { sha256: gate.sha256(), bytes: gate.bytes };
    const zstdTool = envelope === "zstd" ? tools[1] : undefined;
    const manifest = await commit({
      format: "custom",
      envelope,
      dump: { key: DUMP_FILE, size: stored.bytes, sha256: stored.sha256 },
      archiveBytes: zstdTool ? zstdInputBytes(zstdTool.stderr()) : stored.bytes,
    });
    sink({ event: "done", op: "backup", id, bytes: stored.bytes, seconds: meter.seconds });
    return manifest;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export const BACKUP_USAGE = `drctl backup --tier daily|weekly|monthly [--database-url URL] [--store URL]
             [--compress zstd|gzip|none] [--sse-kms-key-id ID] [--s3-endpoint URL]
             [--db-secret-arn ARN] [--jobs N] [--format auto|custom|directory]
             [--verify-counts]
Streams a pg_dump into the store and prints the new backup's id. Row counts are read from the
dump stream; --verify-counts also counts every table in the dump's snapshot and fails on any
difference.
--jobs N above 1 dumps in parallel (pg_dump -Fd --jobs N, one object per file) databases of at
least DRCTL_PARALLEL_MIN_SIZE (default 1GB); --format directory does so at any size.
With --db-secret-arn / DRCTL_DB_SECRET_ARN the user and password come from that Secrets Manager
secret, unless --database-url carries a password or PGPASSWORD is set.`;

/**
 * The source database from --database-url / DATABASE_URL / PG*, with the credentials of
 * --db-secret-arn / DRCTL_DB_SECRET_ARN layered under them. Its `client` is what pg connects with
 * and its `env` what pg_dump runs with: the seam the tests check.
 */
export async function resolveSource(
  values: Record<string, string | boolean | undefined>,
  env: NodeJS.ProcessEnv,
  sink: EventSink = silentSink,
  clientFor: SecretsClientFactory = defaultSecretsClient,
): Promise<DbTarget> {
  const url = pick(values, "database-url", env, "DATABASE_URL");
  const arn = pick(values, "db-secret-arn", env, "DRCTL_DB_SECRET_ARN");
  const withSecret = await envWithDbSecret(arn, env, url, clientFor);
  if (arn !== undefined) {
    sink({ event: "db-secret", op: "backup", arn, applied: withSecret.applied });
  }
  return resolveTarget(url, withSecret.env);
}

/** Warns when a URL flag given on drctl's own command line carries a password. */
export function warnArgvPassword(
  ctx: Ctx,
  op: string,
  values: Record<string, string | boolean | undefined>,
  flag: string,
): void {
  const url = str(values, flag);
  if (url === undefined) return;
  let target: DbTarget;
  try {
    target = resolveTarget(url, {}, `--${flag}`);
  } catch {
    return; // the real resolution reports the malformed URL
  }
  const message = argvPasswordWarning(`--${flag}`, target);
  if (message) warn(ctx.io.stderr, op, message);
}

/** `drctl backup`: prints the id on stdout, progress on stderr. */
export async function backupCli(argv: string[], ctx: Ctx): Promise<number> {
  const { values } = parse(
    "backup",
    argv,
    {
      ...STORE_OPTIONS,
      tier: { type: "string" },
      "database-url": { type: "string" },
      "db-secret-arn": { type: "string" },
      compress: { type: "string" },
      "sse-kms-key-id": { type: "string" },
      jobs: { type: "string" },
      format: { type: "string" },
      "verify-counts": { type: "boolean" },
    },
    false,
  );
  if (values.help) {
    ctx.out(BACKUP_USAGE);
    return EXIT.ok;
  }
  const env = ctx.env;
  const tier = parseTier(pick(values, "tier", env, "DRCTL_TIER"));
  if (!tier) {
    throw new UsageError("drctl backup needs --tier daily|weekly|monthly (or DRCTL_TIER)");
  }
  const compression = parseOneOf(
    pick(values, "compress", env, "DRCTL_COMPRESS") ?? "zstd",
    COMPRESSIONS,
    "--compress",
  );
  const jobs = parsePositiveInt(pick(values, "jobs", env, "DRCTL_JOBS") ?? "1", "--jobs");
  const format = parseOneOf(
    pick(values, "format", env, "DRCTL_FORMAT") ?? "auto",
    FORMATS,
    "--format",
  );
  const minSize = env.DRCTL_PARALLEL_MIN_SIZE;
  const parallelMinBytes = minSize ? parseSize(minSize, "DRCTL_PARALLEL_MIN_SIZE") : undefined;
  const store = storeFrom(values, env, pick(values, "sse-kms-key-id", env, "DRCTL_SSE_KMS_KEY_ID"));
  warnArgvPassword(ctx, "backup", values, "database-url");
  const source = await resolveSource(values, env, ctx.sink);
  const manifest = await runBackup({
    store,
    tier,
    source,
    compression,
    env,
    sink: ctx.sink,
    jobs,
    format,
    parallelMinBytes,
    verifyCounts: values["verify-counts"] === true,
  });
  ctx.out(manifest.id);
  return EXIT.ok;
}
