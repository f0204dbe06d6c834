import { randomBytes } from "node:crypto";
import { statSync } from "node:fs";
import { statfs } from "node:fs/promises";
import { tmpdir } from "node:os";
import { isComplete, listBackups } from "../catalog";
import { databaseLines } from "../check/database";
import { errorText, fail, ok, skip, type CheckLine } from "../check/line";
import {
  bucketProtection,
  bucketReachable,
  kmsLine,
  type BucketUnderCheck,
} from "../check/s3Bucket";
import { objectLockFrom, parse, pick, STORE_OPTIONS, storeFrom, type Ctx } from "../cli";
import { formatBytes } from "../duration";
import { EXIT } from "../errors";
import { libpqTls } from "../postgres/tls";
import { parseScratchBytes, scratchFit } from "../restore/scratchFit";
import { FileStore, putBytes, readText, S3Store, type Store } from "../store";
import { newS3Client } from "../store/s3";
import { resolveSource, warnArgvPassword } from "./backup";

/** Where the probe goes: under reports/, which no lifecycle rule of a tier touches. */
export const PROBE_PREFIX = "reports/check/";

/** The longest check name ("object-lock"): the details start in one column. */
const NAME_WIDTH = 11;

export interface CheckResult {
  readonly passed: boolean;
  readonly lines: CheckLine[];
}

/**
 * The store exists: a file store's directory is there (a mistyped path must not read as "no
 * backups"); an S3 bucket answers HeadBucket.
 */
async function storeLine(store: Store, s3?: S3Parts): Promise<CheckLine> {
  if (s3) return bucketReachable(s3.sdk, s3.client, s3.bucket, store.url);
  if (store instanceof FileStore) {
    let isDir = false;
    try {
      isDir = statSync(store.root).isDirectory();
    } catch {
      // reported below
    }
    return isDir
      ? ok("store", `${store.url}: directory ${store.root} exists`)
      : fail(
          "store",
          `${store.url}: ${store.root} does not exist or is not a directory`,
          `check --store / DRCTL_STORE, or create it (mkdir -p ${store.root})`,
        );
  }
  return skip("store", `${store.url}: no existence check for this kind of store`);
}

/**
 * A create-only write and read-back: the probe is written, a second write of the same key must be
 * refused (the create-only rule every backup relies on), and what is read back must be what was
 * written. It is removed afterwards where the store allows it: not from a bucket with Object Lock,
 * whose default retention keeps it (and the jobs hold no delete permission).
 */
async function probeLines(
  store: Store,
  keep: boolean,
  now: Date,
  inspect?: (key: string) => Promise<CheckLine>,
): Promise<CheckLine[]> {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}Z$/, "Z");
  const key = `${PROBE_PREFIX}${stamp}-${randomBytes(3).toString("hex")}.json`;
  const body = `${JSON.stringify({ probe: "drctl check", at: now.toISOString() })}\n`;
  const fix = "check that these credentials may create and read objects under reports/check/";
  try {
    await putBytes(store, key, Buffer.from(body));
  } catch (err) {
    return [fail("probe", `writing ${key}: ${errorText(err)}`, fix)];
  }
  let refused = false;
  try {
    await putBytes(store, key, Buffer.from("overwrite\n"));
  } catch (err) {
    refused = /already exists/.test(errorText(err));
    if (!refused) return [fail("probe", `rewriting ${key}: ${errorText(err)}`, fix)];
  }
  let back: string;
  try {
    back = await readText(store, key, 4096);
  } catch (err) {
    return [fail("probe", `reading ${key} back: ${errorText(err)}`, fix)];
  }
  // Before the clean-up: how the store kept the object (S3: its encryption).
  const inspected = inspect ? [await inspect(key)] : [];
  let where = `left at ${key}: Object Lock keeps it until its retention ends`;
  if (!keep) {
    where = await store.delete(key).then(
      () => "removed",
      (err: unknown) => `left at ${key} (${errorText(err)})`,
    );
  }
  if (!refused) {
    return [
      fail(
        "probe",
        `the store replaced ${key} when written again: writes are not create-only`,
        "use a store that honours If-None-Match: * (S3 does) and keep the bucket policy's create-only rule",
      ),
      ...inspected,
    ];
  }
  if (back !== body) {
    return [fail("probe", `${key} read back differs from what was written`, fix), ...inspected];
  }
  return [ok("probe", `created, refused a second write, read back and ${where}`), ...inspected];
}

/**
 * Scratch space for a drill of the newest backup: each of the drill's scratch volumes
 * (DRCTL_SCRATCH_BYTES, as the drill itself decides: restore/scratchFit.ts) or, without it, the
 * free space where the drill would download (TMPDIR).
 */
async function scratchLine(store: Store, env: NodeJS.ProcessEnv): Promise<CheckLine> {
  const newest = (await listBackups(store)).filter(isComplete).pop();
  if (!newest) return skip("scratch", "no complete backup yet to size a drill against");
  const m = newest.manifest;
  const scratchBytes = parseScratchBytes(env.DRCTL_SCRATCH_BYTES);
  if (scratchBytes !== undefined) {
    const fit = scratchFit(m, scratchBytes);
    if (fit.refusal) {
      // The drill's own refusal, less what only a drill does ("nothing was downloaded").
      const [detail, fix] = fit.refusal.split("; nothing was downloaded: ");
      return fail("scratch", detail, fix ?? "set DRCTL_SCRATCH_BYTES to the drill's volume size");
    }
    return ok(
      "scratch",
      `${m.id} fits the drill's scratch volumes of ${formatBytes(scratchBytes)}`,
    );
  }
  const needs = m.restoreNeeds?.archiveBytes ?? m.dump.size;
  const dir = env.TMPDIR || tmpdir();
  const fs = await statfs(dir);
  const free = fs.bavail * fs.bsize;
  return free >= needs
    ? ok(
        "scratch",
        `${dir} has ${formatBytes(free)} free for ${m.id}'s ${formatBytes(needs)} archive`,
      )
    : fail(
        "scratch",
        `${dir} has ${formatBytes(free)} free, ${m.id}'s archive needs ${formatBytes(needs)}`,
        "point TMPDIR at a larger volume, or set DRCTL_SCRATCH_BYTES to the drill's scratch volume size",
      );
}

interface S3Parts {
  readonly sdk: typeof import("@aws-sdk/client-s3");
  readonly client: import("@aws-sdk/client-s3").S3Client;
  readonly bucket: BucketUnderCheck;
}

export interface CheckOptions {
  readonly store: Store;
  /** Set for an S3 store: the SDK and the client the store uses. */
  readonly s3?: S3Parts;
  /** Undefined to leave the database out. */
  readonly database?: Parameters<typeof databaseLines>;
  readonly env: NodeJS.ProcessEnv;
  /** @default new Date() */
  readonly now?: Date;
}

/** Every line, in order; a line whose prerequisite failed is a "skip" naming it. */
export async function checkSetup(o: CheckOptions): Promise<CheckResult> {
  const lines: CheckLine[] = [];
  const storeOk = await storeLine(o.store, o.s3);
  lines.push(storeOk);
  const reachable = storeOk.status === "ok";
  let locked = false;
  if (o.s3 && reachable) {
    const p = await bucketProtection(o.s3.sdk, o.s3.client, o.s3.bucket);
    lines.push(...p.lines);
    locked = p.locked;
  } else if (o.s3) {
    for (const name of ["versioning", "object-lock", "create-only"]) {
      lines.push(skip(name, "needs the store"));
    }
  }
  const s3 = o.s3;
  const inspect = s3 && ((key: string) => kmsLine(s3.sdk, s3.client, s3.bucket, key));
  lines.push(
    ...(reachable
      ? await probeLines(o.store, locked, o.now ?? new Date(), inspect)
      : [skip("probe", "needs the store")]),
  );
  if (s3 && !lines.some((l) => l.name === "kms")) lines.push(skip("kms", "needs the probe"));
  if (o.database) lines.push(...(await databaseLines(...o.database)));
  lines.push(
    reachable
      ? await scratchLine(o.store, o.env).catch((err: unknown) =>
          fail("scratch", errorText(err), "check that the store can be listed"),
        )
      : skip("scratch", "needs the store"),
  );
  return { passed: lines.every((l) => l.status !== "fail"), lines };
}

export const CHECK_USAGE = `drctl check [--store URL] [--database-url URL] [--db-secret-arn ARN] [--sse-kms-key-id ID]
            [--s3-endpoint URL] [--no-database] [--json]
Proves a setup in one run, one line per check (ok, FAIL with what to do, or skip): the store
exists; for S3 versioning, Object Lock with a default retention, the bucket policy's create-only
rule and the KMS key; a create-only write and read-back of a probe under reports/check/; the
database reachable with its TLS settings, pg_dump at least the server's major version, the login
reading every row of every table (row security included); scratch space for a drill of the newest
backup (DRCTL_SCRATCH_BYTES, else TMPDIR). Exit 0 when every check passes, 2 otherwise.`;

export async function checkCli(argv: string[], ctx: Ctx): Promise<number> {
  const { values } = parse(
    "check",
    argv,
    {
      ...STORE_OPTIONS,
      "database-url": { type: "string" },
      "db-secret-arn": { type: "string" },
      "sse-kms-key-id": { type: "string" },
      "no-database": { type: "boolean" },
      json: { type: "boolean" },
    },
    false,
  );
  if (values.help) {
    ctx.out(CHECK_USAGE);
    return EXIT.ok;
  }
  const env = ctx.env;
  const sseKmsKeyId = pick(values, "sse-kms-key-id", env, "DRCTL_SSE_KMS_KEY_ID");
  let store = storeFrom(values, env, sseKmsKeyId);
  let s3: S3Parts | undefined;
  if (store instanceof S3Store) {
    // The bucket queries and the store's own writes go through one client.
    const sdk = await import("@aws-sdk/client-s3");
    const options = {
      endpoint: pick(values, "s3-endpoint", env, "DRCTL_S3_ENDPOINT"),
      sseKmsKeyId,
      objectLock: objectLockFrom(env),
    };
    const client = newS3Client(sdk, options);
    store = new S3Store(store.url, store.bucket, store.prefix, { ...options, client });
    const { bucket, prefix } = store as S3Store;
    s3 = { sdk, client, bucket: { bucket, prefix, sseKmsKeyId, objectLock: options.objectLock } };
  }
  let database: CheckOptions["database"];
  if (values["no-database"] !== true) {
    warnArgvPassword(ctx, "check", values, "database-url");
    const target = await resolveSource(values, env, ctx.sink);
    const url = pick(values, "database-url", env, "DATABASE_URL");
    const tls = libpqTls(target.env, url ? new URL(url) : undefined, "--database-url");
    database = [target, `sslmode ${tls.mode.value} from ${tls.mode.from}`, env];
  }
  const r = await checkSetup({ store, s3, database, env });
  if (values.json) {
    ctx.out(JSON.stringify(r, null, 2));
  } else {
    for (const l of r.lines) {
      const mark = l.status === "ok" ? "ok  " : l.status === "fail" ? "FAIL" : "skip";
      ctx.out(`${mark} ${l.name.padEnd(NAME_WIDTH)}  ${l.detail}${l.fix ? `; ${l.fix}` : ""}`);
    }
  }
  return r.passed ? EXIT.ok : EXIT.breached;
}
