import { createWriteStream } from "node:fs";
import { mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Client } from "pg";
import { findBackup, type CompleteBackup } from "../catalog";
import {
  parse,
  parsePositiveInt,
  parseTier,
  pick,
  STORE_OPTIONS,
  storeFrom,
  str,
  type Ctx,
} from "../cli";
import { DrctlError, EXIT, UsageError, VerificationError, explain } from "../errors";
import { DUMP_FILE, backupPrefix, type TableCount } from "../manifest";
import { resolveTarget, type DbTarget } from "../postgres/target";
import { HashGate, capture, hashFile, runTool, zstdPath, type Tool } from "../postgres/tools";
import { localDirectory } from "../parallel/dirFetch";
import { openDump } from "../parallel/rangedGet";
import { Meter, silentSink, type EventSink } from "../progress";
import { FileStore, type Store } from "../store";
import { connect, pgTool } from "./backup";

export interface RestoreOptions {
  readonly store: Store;
  readonly backup: CompleteBackup;
  readonly target: DbTarget;
  /** Restrict to these tables: `name`, `schema.name` or the quoted form from the manifest. */
  readonly tables?: readonly string[];
  /** pg_restore --jobs. @default 1 */
  readonly jobs?: number;
  /** Download, verify and describe; change nothing. @default false */
  readonly dryRun?: boolean;
  /** Restore into a database that already has tables. @default false */
  readonly confirm?: boolean;
  readonly env?: NodeJS.ProcessEnv;
  readonly sink?: EventSink;
}

export interface TableCheck {
  readonly table: string;
  readonly expected: number;
  /** undefined when the table is missing in the target. */
  readonly actual?: number;
}

export interface RestoreResult {
  readonly id: string;
  readonly target: string;
  readonly dryRun: boolean;
  /** Tables restored (or that would be), quoted as in the manifest. */
  readonly tables: string[];
  /** pg_restore -l entry counts by type, e.g. { "TABLE": 5, "TABLE DATA": 5 }. */
  readonly contents: Record<string, number>;
  /** Number of user tables already in the target before the restore. */
  readonly existingTables: number;
  /** Row-count comparison with the manifest (empty for a dry run). */
  readonly checks: TableCheck[];
  readonly ok: boolean;
}

/** Resolves --tables items against the manifest's tables; unknown or ambiguous ones are usage errors. */
export function resolveTables(
  wanted: readonly string[],
  tables: readonly TableCount[],
): TableCount[] {
  const out: TableCount[] = [];
  for (const raw of wanted) {
    const w = raw.trim();
    if (!w) continue;
    let hits = tables.filter((t) => t.qualified === w || `${t.schema}.${t.name}` === w);
    if (hits.length === 0) hits = tables.filter((t) => t.name === w);
    if (hits.length === 0) {
      throw new UsageError(
        `--tables: "${w}" is not a table in this backup; expected one of ${tables
          .slice(0, 8)
          .map((t) => t.qualified)
          .join(", ")}${tables.length > 8 ? ", …" : ""} (see the manifest)`,
      );
    }
    if (hits.length > 1) {
      throw new UsageError(
        `--tables: "${w}" is ambiguous (${hits.map((t) => t.qualified).join(", ")}); qualify it with its schema`,
      );
    }
    if (!out.includes(hits[0])) out.push(hits[0]);
  }
  return out;
}

/** How many user tables the database has: a non-empty target needs --confirm. */
export async function userTableCount(client: Client): Promise<number> {
  const { rows } = await client.query<{ n: string }>(
    `select count(*)::text as n from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where c.relkind in ('r', 'p') and n.nspname not in ('pg_catalog', 'information_schema')
       and n.nspname !~ '^pg_(toast|temp_)'`,
  );
  return Number(rows[0].n);
}

/** Counts the rows of one table in the target; the server quotes the name. */
async function countTable(client: Client, t: TableCount): Promise<TableCheck> {
  const { rows } = await client.query<{ q: string; present: boolean }>(
    "select format('%I.%I', $1::text, $2::text) as q, to_regclass(format('%I.%I', $1::text, $2::text)) is not null as present",
    [t.schema, t.name],
  );
  if (!rows[0].present) return { table: t.qualified, expected: t.rows };
  const { rows: c } = await client.query<{ n: string }>(
    `select count(*)::text as n from ${rows[0].q}`,
  );
  return { table: t.qualified, expected: t.rows, actual: Number(c[0].n) };
}

/**
 * Counts rows of `tables` in the target, one table at a time on each of `clients` (the restore's
 * --jobs), largest first so the last table to finish is a small one. Results keep `tables`' order.
 */
export async function countTables(
  clients: readonly Client[],
  tables: readonly TableCount[],
): Promise<TableCheck[]> {
  const out = new Array<TableCheck>(tables.length);
  const order = tables.map((_, i) => i).sort((a, b) => tables[b].rows - tables[a].rows);
  let next = 0;
  await Promise.all(
    clients.map(async (client) => {
      while (next < order.length) {
        const i = order[next++];
        out[i] = await countTable(client, tables[i]);
      }
    }),
  );
  return out;
}

/** Types in a `pg_restore -l` listing that are more than one word. */
const MULTI_WORD_TYPES = [
  "SEQUENCE OWNED BY",
  "SEQUENCE SET",
  "TABLE DATA",
  "FK CONSTRAINT",
  "DEFAULT ACL",
  "MATERIALIZED VIEW DATA",
  "MATERIALIZED VIEW",
  "BLOB METADATA",
  "LARGE OBJECT",
  "TEXT SEARCH CONFIGURATION",
  "TEXT SEARCH DICTIONARY",
  "FOREIGN TABLE",
  "EVENT TRIGGER",
  "INDEX ATTACH",
  "TABLE ATTACH",
  "USER MAPPING",
  "SERVER",
];

/** Counts `pg_restore -l` entries by object type. */
export function summarizeToc(listing: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const line of listing.split("\n")) {
    const m = /^\d+;\s+\d+\s+\d+\s+(.*)$/.exec(line);
    if (!m) continue;
    const rest = m[1];
    const type =
      MULTI_WORD_TYPES.find((t) => rest.startsWith(`${t} `)) ?? rest.split(" ")[0] ?? "?";
    counts[type] = (counts[type] ?? 0) + 1;
  }
  return counts;
}

/**
 * Downloads a dump into `file`, hashing the bytes as stored; a zstd-wrapped dump is unwrapped on
 * the way (pg_restore < 16 cannot read it) by a zstd that writes the file itself. The digest is
 * undefined when the download did not complete, so the caller reports a checksum failure.
 */
async function download(
  input: Readable,
  file: string,
  envelope: "none" | "zstd",
  env: NodeJS.ProcessEnv,
  onBytes: (n: number) => void,
): Promise<{ sha256: string | undefined; bytes: number }> {
  const gate = new HashGate(() => Promise.resolve(), onBytes);
  if (envelope === "zstd") {
    const out = await open(file, "wx");
    let unzstd: Tool | undefined;
    try {
      unzstd = runTool("zstd", zstdPath(env), ["-d", "-q", "-c"], {
        stdio: ["pipe", out.fd, "pipe"],
      });
      await Promise.all([pipeline(input, gate, unzstd.child.stdin!), unzstd.done]).catch(
        async (err: unknown) => {
          // A corrupt frame makes zstd fail; the checksum comparison says why more usefully.
          await unzstd?.done.catch(() => undefined);
          if (gate.bytes === 0) throw err;
        },
      );
    } finally {
      await out.close();
    }
  } else {
    await pipeline(input, gate, createWriteStream(file, { highWaterMark: 4 << 20 }));
  }
  try {
    return { sha256: gate.sha256(), bytes: gate.bytes };
  } catch {
    return { sha256: undefined, bytes: gate.bytes };
  }
}

/**
 * Verifies a backup's SHA-256 and gets it into a seekable file (pg_restore --jobs needs one): an
 * uncompressed dump in a file store is used in place, anything else is downloaded to TMPDIR.
 * Then runs `pg_restore --jobs N --no-owner --exit-on-error` into the target and compares every
 * restored table's row count with the manifest.
 */
export async function restoreBackup(options: RestoreOptions): Promise<RestoreResult> {
  const { store, backup, target } = options;
  const m = backup.manifest;
  const env = options.env ?? process.env;
  const sink = options.sink ?? silentSink;
  const jobs = options.jobs ?? 1;
  const dryRun = options.dryRun ?? false;
  const selected =
    options.tables && options.tables.length > 0
      ? resolveTables(options.tables, m.tables)
      : undefined;
  const tables = selected ?? m.tables;
  const pgRestore = pgTool("pg_restore", env);

  const client = await connect(target, "target database");
  const scratch = await mkdtemp(join(env.TMPDIR ?? tmpdir(), "drctl-restore-"));
  try {
    const existingTables = await userTableCount(client);
    if (existingTables > 0 && !options.confirm && !dryRun) {
      throw new DrctlError(
        `target ${target.label} already has ${existingTables} table(s); restore into an empty ` +
          `database, or pass --confirm to restore on top of what is there`,
      );
    }
    sink({ event: "start", op: "restore", id: m.id, target: target.label, jobs, dryRun });

    // Verify, and get a seekable file for pg_restore --jobs. An uncompressed dump in a file store
    // is read in place (hashed first, streamed once through the page cache): copying it would cost
    // a full write. Anything else is downloaded to TMPDIR, zstd-wrapped dumps unwrapped on the way
    // (pg_restore < 16 cannot read them) by a zstd that writes the file itself.
    // A directory dump (pg_dump -Fd) is checked file by file, in place or downloaded in parallel.
    const key = `${backupPrefix(m.tier, m.id)}${DUMP_FILE}`;
    const inPlace = store instanceof FileStore && m.envelope === "none";
    const meter = new Meter(inPlace ? "verify" : "download", sink, m.dump.size);
    const file =
      m.format === "directory"
        ? await localDirectory(store, m, join(scratch, DUMP_FILE), jobs, meter)
        : inPlace
          ? store.localPath(key)
          : join(scratch, "dump");
    if (m.format === "custom" && inPlace && !(await store.head(key))) {
      throw new DrctlError(`object ${key} not found in store ${store.url}`);
    }
    const got =
      m.format === "directory"
        ? { sha256: m.dump.sha256, bytes: m.dump.size }
        : inPlace
          ? await hashFile(file, (n) => meter.add(n)).catch((err: unknown) => {
              throw explain(err, `store ${store.url}`);
            })
          : await download(await openDump(store, key, m.dump.size), file, m.envelope, env, (n) =>
              meter.add(n),
            );
    if (got.sha256 !== m.dump.sha256 || got.bytes !== m.dump.size) {
      throw new VerificationError(
        `backup ${m.id} failed its checksum on download (sha256 ${got.sha256 ?? "incomplete"}, ` +
          `${got.bytes} bytes; manifest ${m.dump.sha256.slice(0, 12)}…, ${m.dump.size} bytes); ` +
          `run drctl verify --all and restore an older backup`,
      );
    }
    const listing = await capture("pg_restore", pgRestore.path, ["-l", file], { env });
    const contents = summarizeToc(listing);
    const summary = {
      id: m.id,
      target: target.label,
      dryRun,
      tables: tables.map((t) => t.qualified),
      contents,
      existingTables,
    };
    if (dryRun) return { ...summary, checks: [], ok: true };

    const base = ["--no-owner", "--exit-on-error", `--jobs=${jobs}`];
    const dbname = target.dbnameArg
      ? [`--dbname=${target.dbnameArg}`]
      : ["--dbname=" + target.database];
    // -n and -t combine as "in any of these schemas AND any of these names", so a selection that
    // spans schemas runs once per schema to avoid restoring s1.b when s1.a and s2.b were asked for.
    const runs: string[][] = [];
    if (selected) {
      const bySchema = new Map<string, string[]>();
      for (const t of selected) bySchema.set(t.schema, [...(bySchema.get(t.schema) ?? []), t.name]);
      for (const [schema, names] of bySchema) {
        runs.push([...base, `--schema=${schema}`, ...names.map((n) => `--table=${n}`)]);
      }
    } else {
      runs.push(base);
    }
    if (selected) {
      // pg_restore --table restores the table, not its schema; create the schemas it needs.
      for (const schema of new Set(selected.map((t) => t.schema))) {
        const { rows } = await client.query<{ q: string }>("select format('%I', $1::text) as q", [
          schema,
        ]);
        await client.query(`create schema if not exists ${rows[0].q}`);
      }
    }
    const restoreStarted = Date.now();
    for (const args of runs) {
      await capture("pg_restore", pgRestore.path, [...args, ...dbname, file], {
        env: target.env,
      });
    }
    // The counts read every restored row once: on --jobs connections, as pg_restore used.
    const extra = await Promise.all(
      Array.from({ length: Math.min(jobs, tables.length) - 1 }, () =>
        connect(target, "target database"),
      ),
    );
    let checks: TableCheck[];
    try {
      checks = await countTables([client, ...extra], tables);
    } finally {
      await Promise.all(extra.map((c) => c.end().catch(() => undefined)));
    }
    const ok = checks.every((c) => c.actual === c.expected);
    sink({
      event: "done",
      op: "restore",
      id: m.id,
      seconds: (Date.now() - restoreStarted) / 1000,
      tables: checks.length,
      ok,
    });
    return { ...summary, checks, ok };
  } finally {
    await client.end().catch(() => undefined);
    await rm(scratch, { recursive: true, force: true });
  }
}

export const RESTORE_USAGE = `drctl restore ID|latest --target-url URL [--tables a,b] [--jobs N] [--dry-run] [--confirm]
              [--tier T] [--store URL]
Downloads, verifies and restores a backup, then compares row counts with the manifest.`;

/** `drctl restore`: exit 2 when the checksum or the row counts do not match. */
export async function restoreCli(argv: string[], ctx: Ctx): Promise<number> {
  const { values, positionals } = parse(
    "restore",
    argv,
    {
      ...STORE_OPTIONS,
      "target-url": { type: "string" },
      tables: { type: "string" },
      jobs: { type: "string" },
      "dry-run": { type: "boolean" },
      confirm: { type: "boolean" },
      tier: { type: "string" },
      json: { type: "boolean" },
    },
    true,
  );
  if (values.help) {
    ctx.out(RESTORE_USAGE);
    return EXIT.ok;
  }
  if (positionals.length !== 1) {
    throw new UsageError(
      "drctl restore needs exactly one backup: an ID from drctl list, or latest",
    );
  }
  const targetUrl = pick(values, "target-url", ctx.env, "DRCTL_TARGET_URL");
  if (!targetUrl) {
    throw new UsageError(
      "drctl restore needs --target-url postgresql://user@host/database (or DRCTL_TARGET_URL)",
    );
  }
  const target = resolveTarget(targetUrl, ctx.env, "--target-url");
  const jobs = parsePositiveInt(str(values, "jobs") ?? "1", "--jobs");
  const tier = parseTier(str(values, "tier"));
  const tables = str(values, "tables")
    ?.split(",")
    .map((t) => t.trim())
    .filter(Boolean);
  const store = storeFrom(values, ctx.env);
  const backup = await findBackup(store, positionals[0], { tier });
  const r = await restoreBackup({
    store,
    backup,
    target,
    tables,
    jobs,
    dryRun: values["dry-run"] === true,
    confirm: values.confirm === true,
    env: ctx.env,
    sink: ctx.sink,
  });
  if (values.json) {
    ctx.out(JSON.stringify(r, null, 2));
  } else if (r.dryRun) {
    ctx.out(`dry run: nothing was changed`);
    ctx.out(
      `backup:   ${backup.tier}/${r.id} (finished ${backup.manifest.finishedAt}, sha256 verified)`,
    );
    ctx.out(
      `target:   ${r.target} (${r.existingTables} existing table(s)${r.existingTables > 0 ? "; would need --confirm" : ""})`,
    );
    ctx.out(`tables:   ${r.tables.length}: ${r.tables.join(", ")}`);
    ctx.out(
      `contents: ${Object.entries(r.contents)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([k, v]) => `${v} ${k}`)
        .join(", ")}`,
    );
  } else {
    for (const c of r.checks) {
      const state = c.actual === c.expected ? "ok" : "MISMATCH";
      ctx.out(
        `${state.padEnd(8)} ${c.table}  expected ${c.expected}  restored ${c.actual ?? "missing"}`,
      );
    }
    const bad = r.checks.filter((c) => c.actual !== c.expected).length;
    ctx.out(
      bad === 0
        ? `restored ${r.id} into ${r.target}: ${r.checks.length} table(s), row counts match the manifest`
        : `restored ${r.id} into ${r.target}: ${bad} of ${r.checks.length} table(s) differ from the manifest`,
    );
  }
  return r.ok ? EXIT.ok : EXIT.breached;
}
