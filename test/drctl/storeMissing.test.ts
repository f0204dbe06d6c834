import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { LocalCluster } from "../../drctl/src/postgres/localCluster";
import { checkStore, openStore, StoreMissing } from "../../drctl/src/store";
import { drctl, errorEvents, plainErrors } from "../support/cli";
import { createDatabase, sql, startCluster } from "../support/postgres";
import { S3Server } from "../support/s3server";

/**
 * A store whose directory or bucket does not exist is an error that names it and says what to
 * do (exit 2) in every command that reads backups, never an empty store: a typo in DRCTL_STORE
 * must not read as "no backups". Nothing is created at the mistyped place, and neither a restore's
 * target nor the drill's scratch server is touched.
 */
let cluster: LocalCluster;
let s3: S3Server;
let work: string;
let target: string;

beforeAll(async () => {
  [cluster, s3] = await Promise.all([startCluster(), S3Server.start()]);
  target = await createDatabase(cluster, "untouched");
  await sql(
    cluster,
    target,
    "create table keep (id int primary key); insert into keep values (1), (2)",
  );
  work = mkdtempSync(join(tmpdir(), "drctl-missing-"));
  await s3.createBucket("backups-real");
  Object.assign(process.env, { AWS_ACCESS_KEY_ID: "S3RVER", AWS_SECRET_ACCESS_KEY: "S3RVER" });
}, 120_000);

afterAll(async () => {
  await s3?.stop();
  await cluster?.destroy();
  rmSync(work, { recursive: true, force: true });
});

const COMMANDS: [string, (store: string) => string[]][] = [
  ["list", (store) => ["list", "--store", store]],
  ["status", (store) => ["status", "--store", store]],
  ["verify", (store) => ["verify", "--latest", "--store", store]],
  ["verify", (store) => ["verify", "20261122T021500Z-abcdef", "--store", store]],
  ["prune", (store) => ["prune", "--store", store]],
  [
    "restore",
    (store) => [
      "restore",
      "latest",
      "--confirm",
      "--store",
      store,
      "--target-url",
      cluster.url(target),
    ],
  ],
  ["drill", (store) => ["drill", "--store", store, "--scratch-url", cluster.url("postgres")]],
];

async function targetUntouched(): Promise<void> {
  const rows = await sql<{ id: number }>(cluster, target, "select id from keep order by id");
  expect(rows.map((r) => r.id)).toEqual([1, 2]);
  const drills = await sql(
    cluster,
    "postgres",
    "select 1 from pg_database where datname like 'drill\\_%'",
  );
  expect(drills).toEqual([]);
}

describe("a file:// store whose directory does not exist", () => {
  it.each(COMMANDS)("%s: exit 2, the path, what to do; nothing created", async (command, argv) => {
    const path = join(work, "typo", "backups");
    const store = pathToFileURL(path).href;
    const message =
      `store ${store}: ${path} does not exist; check --store / DRCTL_STORE for a typo, or ` +
      `create the directory (mkdir -p ${path}) if this is a new store`;
    const r = await drctl(argv(store));
    expect(r.code).toBe(2);
    expect(plainErrors(r.stderr)).toEqual([`drctl ${command}: ${message}`]);
    expect(errorEvents(r.stderr)).toEqual([message]);
    expect(existsSync(join(work, "typo"))).toBe(false);
    await targetUntouched();
  });

  it("a path that is a file is not a store either", async () => {
    const path = join(work, "a-file");
    writeFileSync(path, "not a store");
    const r = await drctl(["list", "--store", pathToFileURL(path).href]);
    expect(r.code).toBe(2);
    expect(plainErrors(r.stderr)).toEqual([
      `drctl list: store ${pathToFileURL(path).href}: ${path} is not a directory; point --store at ` +
        `the directory that holds the tier directories (daily/, weekly/, …)`,
    ]);
  });

  it("an existing, empty directory is an empty store (exit 0)", async () => {
    const path = mkdtempSync(join(work, "empty-"));
    const r = await drctl(["list", "--store", pathToFileURL(path).href]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`no backups in ${pathToFileURL(path).href}\n`);
  });
});

describe("an s3:// store whose bucket does not exist (NoSuchBucket from the S3 test server)", () => {
  it.each(COMMANDS)("%s: exit 2, the bucket, what to do", async (command, argv) => {
    const store = "s3://backups-typo/site-a";
    const message =
      `store ${store}: bucket backups-typo does not exist (NoSuchBucket); check the bucket ` +
      `name in --store / DRCTL_STORE for a typo (a site's bucket is the stack output ` +
      `backupBucketName) and the endpoint (--s3-endpoint / DRCTL_S3_ENDPOINT)`;
    const r = await drctl(argv(store), s3.env());
    expect(r.code).toBe(2);
    expect(plainErrors(r.stderr)).toEqual([`drctl ${command}: ${message}`]);
    expect(errorEvents(r.stderr)).toEqual([message]);
    await targetUntouched();
  });

  it("an existing, empty bucket is an empty store (exit 0)", async () => {
    const r = await drctl(["list", "--store", "s3://backups-real/site-a"], s3.env());
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("no backups in s3://backups-real/site-a\n");
  });
});

describe("checkStore, the one check every command (and drctl check) uses", () => {
  it("rejects with StoreMissing, exit code 2, and resolves for a store that is there", async () => {
    const missing = openStore(pathToFileURL(join(work, "nowhere")).href);
    const err = await checkStore(missing).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreMissing);
    expect((err as StoreMissing).exitCode).toBe(2);
    await expect(checkStore(openStore(pathToFileURL(work).href))).resolves.toBeUndefined();
    const bucket = openStore("s3://backups-real/", { endpoint: s3.endpoint });
    await expect(checkStore(bucket)).resolves.toBeUndefined();
  });
});
