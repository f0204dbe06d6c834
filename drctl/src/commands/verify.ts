import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { findBackup, isComplete, listBackups, type CompleteBackup } from "../catalog";
import { parse, parseTier, STORE_OPTIONS, storeFrom, str, type Ctx } from "../cli";
import { DrctlError, EXIT, UsageError } from "../errors";
import { DUMP_FILE, backupPrefix } from "../manifest";
import { verifyDirectory } from "../parallel/dirVerify";
import { ChildSink, HashGate, runTool, zstdPath, type Tool } from "../postgres/tools";
import { Meter, silentSink, type EventSink } from "../progress";
import type { Store } from "../store";
import { pgTool } from "./backup";

export interface VerifyOptions {
  readonly store: Store;
  readonly backup: CompleteBackup;
  /** Also read the whole archive with pg_restore. @default false */
  readonly deep?: boolean;
  readonly env?: NodeJS.ProcessEnv;
  readonly sink?: EventSink;
}

export interface VerifyResult {
  readonly id: string;
  readonly tier: string;
  readonly ok: boolean;
  readonly deep: boolean;
  /** What failed, when ok is false. */
  readonly problem?: string;
  readonly size: number;
  readonly sha256?: string;
}

/**
 * Recomputes the SHA-256 and size of the stored dump and compares them with the manifest. With
 * `deep`, the same download also streams (decompressed) through `pg_restore -f /dev/null`, which
 * reads every block: a dump truncated before it was hashed passes the checksum but not this.
 * Resolves with ok=false on a verification failure; rejects only when the store cannot be read.
 */
export async function verifyBackup(options: VerifyOptions): Promise<VerifyResult> {
  const { store, backup } = options;
  const m = backup.manifest;
  const env = options.env ?? process.env;
  const sink = options.sink ?? silentSink;
  const deep = options.deep ?? false;
  sink({ event: "start", op: "verify", id: m.id, deep });
  if (m.format === "directory") {
    const pgRestore = deep ? pgTool("pg_restore", env).path : "";
    const r = await verifyDirectory({ store, backup, deep, pgRestore, env, sink });
    const result = { id: m.id, tier: m.tier, deep, ...r };
    if (r.ok) sink({ event: "done", op: "verify", id: m.id, bytes: r.size, seconds: 0 });
    else sink({ event: "error", op: "verify", message: `${m.id}: ${r.problem ?? ""}` });
    return result;
  }
  const input = await store.get(`${backupPrefix(m.tier, m.id)}${DUMP_FILE}`);
  const meter = new Meter("verify", sink, m.dump.size);
  const gate = new HashGate(
    () => Promise.resolve(),
    (n) => meter.add(n),
  );
  let consumer: Writable = new Writable({ write: (_c, _e, cb) => cb() });
  let restore: Tool | undefined;
  let unzstd: Tool | undefined;
  if (deep) {
    const pgRestore = pgTool("pg_restore", env);
    // A zstd-wrapped dump goes zstd → pg_restore through an OS pipe, never through this process.
    if (m.envelope === "zstd") {
      unzstd = runTool("zstd", zstdPath(env), ["-d", "-q", "-c"], {
        stdio: ["pipe", "pipe", "pipe"],
      });
    }
    restore = runTool("pg_restore", pgRestore.path, ["-Fc", "-f", "/dev/null"], {
      stdio: [unzstd ? unzstd.child.stdout! : "pipe", "ignore", "pipe"],
      env,
    });
    // Only pg_restore may hold the read end, so that zstd sees it go away if pg_restore dies.
    unzstd?.child.stdout?.destroy();
    consumer = new ChildSink((unzstd ?? restore).child.stdin!);
  }

  let streamError: unknown;
  try {
    await pipeline(input, gate, consumer);
  } catch (err) {
    streamError = err;
  }
  const [restoreExit, unzstdExit] = await Promise.allSettled([
    restore?.done ?? Promise.resolve(),
    unzstd?.done ?? Promise.resolve(),
  ]);
  const reason = (r: PromiseSettledResult<void>): string | undefined =>
    r.status === "rejected"
      ? r.reason instanceof Error
        ? r.reason.message
        : String(r.reason)
      : undefined;
  // pg_restore's exit is the verdict on the archive. zstd's own failure (a corrupt frame) counts
  // too, but not a SIGPIPE after pg_restore stopped reading: that is pg_restore's verdict again.
  const toolErrors = [
    reason(restoreExit),
    unzstd?.child.signalCode === "SIGPIPE" ? undefined : reason(unzstdExit),
  ].filter((e): e is string => e !== undefined);

  const fail = (problem: string): VerifyResult => {
    sink({ event: "error", op: "verify", message: `${m.id}: ${problem}` });
    return { id: m.id, tier: m.tier, ok: false, deep, problem, size: gate.bytes };
  };
  if (streamError !== undefined && toolErrors.length === 0) {
    // Neither a checksum nor an archive problem: the store could not be read.
    throw streamError instanceof DrctlError
      ? streamError
      : new DrctlError(
          `reading ${m.id} from ${store.url} failed: ${streamError instanceof Error ? streamError.message : "unknown error"}`,
        );
  }
  if (streamError === undefined) {
    const sha = gate.sha256();
    if (gate.bytes !== m.dump.size) {
      return fail(`size is ${gate.bytes} bytes, the manifest says ${m.dump.size}`);
    }
    if (sha !== m.dump.sha256) {
      return fail(`sha256 is ${sha}, the manifest says ${m.dump.sha256}`);
    }
  }
  if (toolErrors.length > 0) return fail(`archive is unreadable: ${toolErrors[0]}`);
  sink({ event: "done", op: "verify", id: m.id, bytes: gate.bytes, seconds: meter.seconds });
  return { id: m.id, tier: m.tier, ok: true, deep, size: gate.bytes, sha256: gate.sha256() };
}

export const VERIFY_USAGE = `drctl verify [ID | --latest | --all] [--deep] [--tier T] [--store URL] [--json]
Recomputes each dump's SHA-256 against its manifest; --deep also reads the whole archive with
pg_restore. --latest is the newest daily, weekly or monthly backup (or of --tier); --all covers
every tier, pre-restore included. Exit 2 when any backup fails or the store does not exist.`;

/** `drctl verify`: one line per backup; exit 2 if any failed. */
export async function verifyCli(argv: string[], ctx: Ctx): Promise<number> {
  const { values, positionals } = parse(
    "verify",
    argv,
    {
      ...STORE_OPTIONS,
      latest: { type: "boolean" },
      all: { type: "boolean" },
      deep: { type: "boolean" },
      tier: { type: "string" },
      json: { type: "boolean" },
    },
    true,
  );
  if (values.help) {
    ctx.out(VERIFY_USAGE);
    return EXIT.ok;
  }
  const chosen = [positionals.length > 0, values.latest === true, values.all === true].filter(
    Boolean,
  ).length;
  if (chosen > 1 || positionals.length > 1) {
    throw new UsageError("drctl verify takes one of: a backup ID, --latest or --all");
  }
  const tier = parseTier(str(values, "tier"));
  const store = storeFrom(values, ctx.env);
  let backups: CompleteBackup[];
  const results: VerifyResult[] = [];
  if (values.all) {
    const entries = await listBackups(store, { tier });
    backups = entries.filter(isComplete);
    // An unreadable manifest is a failed verification of that backup, never a reason to stop.
    for (const e of entries.filter((x) => x.status === "unreadable")) {
      const problem = `manifest unreadable: ${e.problem ?? ""}`;
      results.push({
        id: e.id,
        tier: e.tier,
        ok: false,
        deep: values.deep === true,
        problem,
        size: e.size,
      });
      if (!values.json) ctx.out(`FAILED  ${e.tier}/${e.id}  ${problem}`);
    }
    if (backups.length === 0 && results.length === 0) {
      throw new DrctlError(`no complete backup in ${store.url}; nothing to verify`);
    }
  } else {
    backups = [await findBackup(store, positionals[0] ?? "latest", { tier })];
  }
  for (const backup of backups) {
    const r = await verifyBackup({
      store,
      backup,
      deep: values.deep === true,
      env: ctx.env,
      sink: ctx.sink,
    });
    results.push(r);
    if (!values.json) {
      ctx.out(
        r.ok
          ? `ok      ${r.tier}/${r.id}  ${r.size} bytes  sha256 ${r.sha256?.slice(0, 12) ?? ""}${r.deep ? "  archive readable" : ""}`
          : `FAILED  ${r.tier}/${r.id}  ${r.problem ?? ""}`,
      );
    }
  }
  if (values.json) ctx.out(JSON.stringify(results, null, 2));
  return results.every((r) => r.ok) ? EXIT.ok : EXIT.breached;
}
