import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GetObjectCommand } from "@aws-sdk/client-s3";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pathToFileURL } from "node:url";
import type { LocalCluster } from "../../drctl/src/postgres/localCluster";
import { openStore, putBytes } from "../../drctl/src/store";
import { drctl, plainErrors } from "../support/cli";
import { createDatabase, sql, startCluster } from "../support/postgres";
import { S3Server, type SeenRequest } from "../support/s3server";

/**
 * Create-only, locked backups (create-only backups: docs/architecture.md §4, issue 16 item 1): every object request drctl sends for
 * a backup carries `If-None-Match: *`, asserted on what the S3 test server receives; the test
 * server refuses (412) a conditional write onto an existing key as S3 does, and so does the file
 * store; each object gets the Object Lock retention from DRCTL_OBJECT_LOCK_MODE / _DAYS.
 */
let s3: S3Server;
let cluster: LocalCluster;
let work: string;
let db: string;
const DAY = 86_400_000;

beforeAll(async () => {
  [s3, cluster] = await Promise.all([S3Server.start(), startCluster()]);
  await s3.createBucket("locked");
  Object.assign(process.env, { AWS_ACCESS_KEY_ID: "S3RVER", AWS_SECRET_ACCESS_KEY: "S3RVER" });
  db = await createDatabase(cluster, "locked");
  await sql(cluster, db, "create table t as select generate_series(1, 1000) as n");
  work = mkdtempSync(join(tmpdir(), "drctl-create-only-"));
}, 120_000);

afterAll(async () => {
  await Promise.all([s3?.stop(), cluster?.destroy()]);
  rmSync(work, { recursive: true, force: true });
});

/** Requests that create an object: PutObject, CreateMultipartUpload, CompleteMultipartUpload. */
function creates(requests: readonly SeenRequest[]): SeenRequest[] {
  return requests.filter(
    (r) =>
      (r.method === "PUT" && !r.query.has("partNumber") && r.path.split("/").length > 2) ||
      (r.method === "POST" && (r.query.has("uploads") || r.query.has("uploadId"))),
  );
}

async function getText(key: string): Promise<string> {
  const client = s3.client();
  const out = await client.send(new GetObjectCommand({ Bucket: "locked", Key: key }));
  const text = await out.Body!.transformToString();
  client.destroy();
  return text;
}

describe("S3: every write of a backup is conditional and locked", () => {
  it("backup sends If-None-Match: * and the retention on the dump, the globals and the manifest", async () => {
    const from = s3.requests.length;
    const before = Date.now();
    const r = await drctl(["backup", "--tier", "weekly"], {
      ...s3.env(),
      DRCTL_STORE: "s3://locked/site",
      DATABASE_URL: cluster.url(db),
      DRCTL_OBJECT_LOCK_MODE: "COMPLIANCE",
      DRCTL_OBJECT_LOCK_DAYS: "35",
    });
    expect(plainErrors(r.stderr)).toEqual([]);
    const id = r.stdout.trim();
    const writes = creates(s3.requests.slice(from));
    expect(writes.map((w) => w.path)).toEqual([
      `/locked/site/weekly/${id}/dump`,
      `/locked/site/weekly/${id}/globals.sql`,
      `/locked/site/weekly/${id}/manifest.json`,
    ]);
    for (const w of writes) {
      expect(w.headers["if-none-match"]).toBe("*");
      expect(w.headers["x-amz-object-lock-mode"]).toBe("COMPLIANCE");
      const until = Date.parse(String(w.headers["x-amz-object-lock-retain-until-date"]));
      expect(until).toBeGreaterThanOrEqual(before + 35 * DAY - 1000);
      expect(until).toBeLessThanOrEqual(Date.now() + 35 * DAY + 1000);
    }
  });

  it("a multipart dump: CompleteMultipartUpload carries the condition, CreateMultipartUpload the lock", async () => {
    const store = openStore("s3://locked/multi", {
      endpoint: s3.endpoint,
      objectLock: { mode: "GOVERNANCE", days: 7 },
    });
    const from = s3.requests.length;
    const body = Buffer.alloc(12 * 1024 * 1024, 1);
    await store.put("daily/x/dump", Readable.from([body]));
    const seen = s3.requests.slice(from);
    const create = seen.find((r) => r.method === "POST" && r.query.has("uploads"));
    const complete = seen.find((r) => r.method === "POST" && r.query.has("uploadId"));
    const parts = seen.filter((r) => r.method === "PUT" && r.query.has("partNumber"));
    expect(parts).toHaveLength(2);
    expect(create?.headers["x-amz-object-lock-mode"]).toBe("GOVERNANCE");
    expect(complete?.headers["if-none-match"]).toBe("*");

    // Again onto the same key: S3 refuses at completion; the original stays.
    await expect(
      store.put("daily/x/dump", Readable.from([Buffer.alloc(12 * 1024 * 1024, 2)])),
    ).rejects.toThrow(
      "store s3://locked/multi: daily/x/dump already exists, and drctl never replaces an object (it writes with If-None-Match: *); the original is unchanged. Is another job writing the same backup id?",
    );
    const client = s3.client();
    const out = await client.send(
      new GetObjectCommand({ Bucket: "locked", Key: "multi/daily/x/dump" }),
    );
    const bytes = Buffer.from(await out.Body!.transformToByteArray());
    client.destroy();
    expect(bytes.equals(body)).toBe(true);
  });

  it("an overwrite of a manifest fails with a clear error and leaves the original", async () => {
    const store = openStore("s3://locked/over", { endpoint: s3.endpoint });
    await putBytes(store, "daily/y/manifest.json", Buffer.from('{"original":true}'));
    await expect(
      putBytes(store, "daily/y/manifest.json", Buffer.from('{"forged":true}')),
    ).rejects.toThrow("store s3://locked/over: daily/y/manifest.json already exists");
    expect(await getText("over/daily/y/manifest.json")).toBe('{"original":true}');
    expect(s3.requests.at(-2)?.status).toBe(412);
  });
});

describe("file store: create-only the same way", () => {
  it("refuses to replace an existing key and keeps the original bytes", async () => {
    const dir = mkdtempSync(join(work, "file-"));
    const store = openStore(pathToFileURL(dir).href);
    await putBytes(store, "daily/z/manifest.json", Buffer.from("first"));
    await expect(putBytes(store, "daily/z/manifest.json", Buffer.from("second"))).rejects.toThrow(
      `store ${pathToFileURL(dir).href}: daily/z/manifest.json already exists`,
    );
    expect(readFileSync(join(dir, "daily", "z", "manifest.json"), "utf8")).toBe("first");
  });
});

describe("DRCTL_OBJECT_LOCK_* are checked", () => {
  it("mode without days, and an unknown mode, are usage errors", async () => {
    const one = await drctl(["list", "--store", "s3://locked/x"], {
      DRCTL_OBJECT_LOCK_MODE: "GOVERNANCE",
    });
    expect(one.code).toBe(64);
    expect(plainErrors(one.stderr)).toEqual([
      "drctl list: DRCTL_OBJECT_LOCK_MODE and DRCTL_OBJECT_LOCK_DAYS go together; set both or neither (got only DRCTL_OBJECT_LOCK_MODE)",
    ]);
    const bad = await drctl(["list", "--store", "s3://locked/x"], {
      DRCTL_OBJECT_LOCK_MODE: "governance",
      DRCTL_OBJECT_LOCK_DAYS: "7",
    });
    expect(plainErrors(bad.stderr)).toEqual([
      'drctl list: DRCTL_OBJECT_LOCK_MODE must be GOVERNANCE or COMPLIANCE, got "governance"',
    ]);
  });
});
