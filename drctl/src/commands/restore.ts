import { rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
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
import { DUMP_FILE, backupPrefix } from "../manifest";
import { warn } from "../metrics";
import { resolveTarget, type DbTarget } from "../postgres/target";
import { capture, hashFile } from "../postgres/tools";
import { referencingKeys, putBackSql, setAsideSql } from "../restore/referencing";
import { takeSafetyBackup } from "../restore/safetyBackup";
import { makeScratchDir } from "../restore/scratchDir";
import { localDirectory } from "../parallel/dirFetch";
import { openDump } from "../parallel/rangedGet";
import { Meter, silentSink, type EventSink } from "../progress";
import { restoreAtomically, type TableCheck } from "../restore/apply";
import { download } from "../restore/download";
import { restoreWithJobs } from "../restore/jobs";
import {
  createRoleStatements,
  describeObjects,
  partitionTrees,
  type UserObjects,
} from "../restore/targetState";
import { emptyTablesSql, enableTriggersSql } from "../restore/replaceRows";
import { preflight } from "../restore/preflight";
import { planTables, resolveTables } from "../restore/selection";
import { summarizeToc } from "../restore/toc";
import { FileStore, type Store } from "../store";
import { connect, pgTool, warnArgvPassword } from "./backup";

export { summarizeToc } from "../restore/toc";
export { countTables } from "../restore/jobs";
export type { TableCheck } from "../restore/apply";

export interface RestoreOptions {
  readonly store: Store;
  readonly backup: CompleteBackup;
  readonly target: DbTarget;
  /** Restrict to these tables: `name`, `schema.name` or the quoted form from the manifest. */
  readonly tables?: readonly string[];
  /** pg_restore --jobs; above 1 only into a target without user objects. @default 1 */
  readonly jobs?: number;
  /** Download, verify and describe; change nothing. @default false */
  readonly dryRun?: boolean;
  /** Replace the objects of the backup in a target that already has objects. @default false */
  readonly confirm?: boolean;
  /** pg_restore --no-privileges: no GRANT/REVOKE, for a deliberately different target. @default false */
  readonly noPrivileges?: boolean;
  /** pg_restore --no-owner: the restoring user owns everything. @default false */
  readonly noOwner?: boolean;
  /**
   * Before replacing anything in a non-empty target (--confirm), back the whole target database
   * up into the same store under tier `pre-restore`; the restore starts only once that backup is
   * committed. @default true
   */
  readonly safetyBackup?: boolean;
  /** Called with the safety backup's id as soon as it is committed, before the target changes. */
  readonly onSafetyBackup?: (id: string) => void;
  readonly env?: NodeJS.ProcessEnv;
  readonly sink?: EventSink;
}

export interface RestoreResult {
  readonly id: string;
  readonly target: string;
  readonly dryRun: boolean;
  /** Tables restored (or that would be), quoted as in the manifest. */
  readonly tables: string[];
  /** pg_restore -l entry counts by type (of the selection with --tables). */
  readonly contents: Record<string, number>;
  /** User objects already in the target before the restore, by kind. */
  readonly existing: UserObjects;
  /** For a person: a partition named on its own. */
  readonly warnings: string[];
  /** Tables the target had whose rows were replaced (their definition kept), with --tables. */
  readonly rowsReplaced: string[];
  /** Roles the target lacked and that the restore creates (NOLOGIN, no password). */
  readonly createdRoles: string[];
  /**
   * Foreign keys of tables the restore does not replace that point at one it does, as
   * `table key → referenced`: set aside during the restore and added back, checked, before it
   * commits.
   */
  readonly referencing: string[];
  /** The `pre-restore` backup of the target taken before it was changed, if one was. */
  readonly safetyBackup?: string;
  /** Row-count comparison with the manifest (empty for a dry run). */
  readonly checks: TableCheck[];
  /** True when the target now holds the backup; false after a dry run or a rollback. */
  readonly committed: boolean;
  readonly ok: boolean;
}

/**
 * Verifies a backup's SHA-256 and gets it into a seekable file, checks the target (see
 * preflight), then restores it so that a failure leaves the target as it was: with --jobs 1 in
 * one transaction that commits only when every row count matches the manifest
 * (restoreAtomically); with more jobs into an empty target that is emptied again on failure
 * (restoreWithJobs). Roles the dump names and the target lacks are created NOLOGIN first.
 */
export async function restoreBackup(options: RestoreOptions): Promise<RestoreResult> {
  const { store, backup, target } = options;
  const m = backup.manifest;
  const env = options.env ?? process.env;
  const sink = options.sink ?? silentSink;
  const jobs = options.jobs ?? 1;
  const dryRun = options.dryRun ?? false;
  const wanted = options.tables && options.tables.length > 0 ? options.tables : undefined;
  if (wanted && m.formatVersion < 2) {
    throw new DrctlError(
      `backup ${m.id} is manifest format ${m.formatVersion}, which does not record the indexes and ` +
        `sequences of each table, so --tables cannot bring them back; restore the whole backup into ` +
        `an empty database and copy the table from there`,
    );
  }
  const pgRestore = pgTool("pg_restore", env);
  const psql = pgTool("psql", env);

  const client = await connect(target, "target database");
  const scratch = await makeScratchDir(env.TMPDIR ?? tmpdir());
  try {
    const selected = wanted
      ? resolveTables(wanted, m.tables, await partitionTrees(client))
      : undefined;
    const tables = selected?.tables ?? m.tables;
    const { existing, createRoles } = await preflight(client, options, jobs);
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
          : await download(
              await openDump(store, key, m.dump.size),
              file,
              scratch,
              m.envelope,
              env,
              (n) => meter.add(n),
            );
    if (got.sha256 !== m.dump.sha256 || got.bytes !== m.dump.size) {
      throw new VerificationError(
        `backup ${m.id} failed its checksum on download (sha256 ${got.sha256 ?? "incomplete"}, ` +
          `${got.bytes} bytes; manifest ${m.dump.sha256.slice(0, 12)}…, ${m.dump.size} bytes); ` +
          `run drctl verify --all and restore an older backup`,
      );
    }
    const listing = await capture("pg_restore", pgRestore.path, ["-l", file], { env });
    const restoreArgs: string[] = [];
    let contents = summarizeToc(listing);
    // Replaced in the target: the tables restored, and the partitioned tables named.
    const names = [...tables.map((t) => t.qualified), ...(selected?.parents ?? [])];
    let rowsOnly: string[] = [];
    if (selected) {
      const plan = await planTables(client, listing, selected.tables);
      const listFile = join(scratch, "selection.list");
      await writeFile(listFile, plan.list, { mode: 0o600 });
      restoreArgs.push(`--use-list=${listFile}`);
      contents = plan.counts;
      rowsOnly = plan.rowsOnly;
    }
    const summary = {
      id: m.id,
      target: target.label,
      dryRun,
      tables: names,
      contents,
      existing,
      createdRoles: createRoles,
      warnings: selected?.warnings ?? [],
      rowsReplaced: rowsOnly,
      referencing: existing.total > 0 ? await referencingKeys(client, names) : [],
    };
    if (dryRun) return { ...summary, checks: [], committed: false, ok: true };

    // What is about to be replaced is backed up first, whole: a --tables restore also drops and
    // re-adds keys of other tables, and a whole-database backup can be put back by the same
    // restore command, with or without --tables. Nothing in the target has been changed yet.
    let safetyBackup: string | undefined;
    if (existing.total > 0 && options.safetyBackup !== false) {
      safetyBackup = await takeSafetyBackup(store, target, env, sink);
      options.onSafetyBackup?.(safetyBackup);
    }

    // --clean --if-exists drops each object of the backup before recreating it, in the same
    // transaction: what --confirm promises (https://www.postgresql.org/docs/current/app-pgrestore.html).
    if (existing.total > 0) restoreArgs.push("--clean", "--if-exists");
    if (options.noPrivileges) restoreArgs.push("--no-privileges");
    if (options.noOwner) restoreArgs.push("--no-owner");
    const createRoleSql = await createRoleStatements(client, createRoles);
    const restoreStarted = Date.now();
    let checks: TableCheck[];
    if (jobs === 1) {
      const outcome = await restoreAtomically({
        file,
        target,
        pgRestore: pgRestore.path,
        psql: psql.path,
        restoreArgs,
        preamble: createRoleSql,
        setAside: existing.total > 0 ? setAsideSql(names) + emptyTablesSql(rowsOnly) : "",
        epilogue: existing.total > 0 ? enableTriggersSql(rowsOnly) + putBackSql(names) : "",
        tables,
        connect: () => connect(target, "target database"),
      });
      checks = outcome.checks;
      const countsDiffer = checks.some((c) => c.actual !== c.expected);
      if (!outcome.committed && !countsDiffer) {
        throw new DrctlError(
          `restore into ${target.label} failed and the server reports its transaction rolled ` +
            `back, the target is as it was: ${outcome.error ?? "unknown error"}`,
        );
      }
    } else {
      checks = await restoreWithJobs({
        client,
        connect: () => connect(target, "target database"),
        file,
        target,
        pgRestore: pgRestore.path,
        jobs,
        restoreArgs,
        createRoles,
        createRoleSql,
        tables,
      });
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
    return { ...summary, ...(safetyBackup ? { safetyBackup } : {}), checks, committed: ok, ok };
  } finally {
    await client.end().catch(() => undefined);
    await rm(scratch, { recursive: true, force: true });
  }
}

export const RESTORE_USAGE = `drctl restore ID|latest --target-url URL [--tables a,b] [--jobs N] [--dry-run] [--confirm]
              [--no-safety-backup] [--no-privileges] [--no-owner] [--tier T] [--store URL]
Downloads, verifies and restores a backup; with --jobs 1 (the default) in one transaction that
commits only when every row count matches the manifest. Creates the roles the backup names that
the target lacks (NOLOGIN, no password). --confirm replaces the backup's objects in a non-empty
target, after backing the target up under tier pre-restore (--no-safety-backup: without);
foreign keys of other tables that point at a replaced table are kept and checked. --jobs above 1
needs an empty target.`;

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
      "no-safety-backup": { type: "boolean" },
      "no-privileges": { type: "boolean" },
      "no-owner": { type: "boolean" },
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
  warnArgvPassword(ctx, "restore", values, "target-url");
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
    noPrivileges: values["no-privileges"] === true,
    noOwner: values["no-owner"] === true,
    safetyBackup: values["no-safety-backup"] !== true,
    onSafetyBackup: (safetyId) => {
      if (values.json) return;
      ctx.out(
        `pre-restore backup ${safetyId} holds ${target.label} as it was; to undo this restore: ` +
          `drctl restore ${safetyId} --tier pre-restore --target-url <the same URL> --confirm`,
      );
    },
    env: ctx.env,
    sink: ctx.sink,
  });
  for (const w of r.warnings) warn(ctx.io.stderr, "restore", w);
  if (values.json) {
    ctx.out(JSON.stringify(r, null, 2));
  } else if (r.dryRun) {
    ctx.out(`dry run: nothing was changed`);
    ctx.out(
      `backup:   ${backup.tier}/${r.id} (finished ${backup.manifest.finishedAt}, sha256 verified)`,
    );
    ctx.out(
      `target:   ${r.target} (${r.existing.total === 0 ? "empty" : `${describeObjects(r.existing)}; would need --confirm`})`,
    );
    ctx.out(
      `roles:    ${r.createdRoles.length > 0 ? `would create ${r.createdRoles.join(", ")}` : "none missing"}`,
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
    for (const t of r.rowsReplaced) ctx.out(`rows replaced, definition kept: ${t}`);
    if (r.createdRoles.length > 0) ctx.out(`created roles (NOLOGIN): ${r.createdRoles.join(", ")}`);
    for (const fk of r.referencing) ctx.out(`kept and checked: foreign key ${fk}`);
    const bad = r.checks.filter((c) => c.actual !== c.expected).length;
    ctx.out(
      bad === 0
        ? `restored ${r.id} into ${r.target}: ${r.checks.length} table(s), row counts match the manifest`
        : `rolled back ${r.id} in ${r.target}: ${bad} of ${r.checks.length} table(s) differ from the manifest; the target is as it was`,
    );
  }
  return r.ok ? EXIT.ok : EXIT.breached;
}
