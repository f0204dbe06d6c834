import { mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pathToFileURL } from "node:url";
import * as sdk from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { checkSetup } from "../../drctl/src/commands/check";
import { freePort, type LocalCluster } from "../../drctl/src/postgres/localCluster";
import { resolveTarget } from "../../drctl/src/postgres/target";
import { S3Store } from "../../drctl/src/store/s3";
import { drctl } from "../support/cli";
import { createDatabase, sql, startCluster } from "../support/postgres";
import { S3Server } from "../support/s3server";

let cluster: LocalCluster;
let db: string;
let work: string;
let s3server: S3Server;

beforeAll(async () => {
  [cluster, s3server] = await Promise.all([startCluster(), S3Server.start()]);
  db = await createDatabase(cluster, "check");
  await sql(
    cluster,
    db,
    `create table public.orders (id bigint primary key, customer text not null);
     insert into public.orders select g, 'c' || g from generate_series(1, 25) g;
     create role dr_backup login password 'dr_backup-pw';
     grant pg_read_all_data to dr_backup;`,
  );
  work = mkdtempSync(join(tmpdir(), "drctl-check-"));
}, 120_000);

afterAll(async () => {
  await Promise.all([cluster?.destroy(), s3server?.stop()]);
  rmSync(work, { recursive: true, force: true });
});

const backupUrl = (): string =>
  `postgresql://dr_backup:dr_backup-pw@127.0.0.1:${cluster.port}/${db}`;

/** The checks' names and marks, as `drctl check` prints them. */
const marks = (stdout: string): string[] =>
  stdout
    .trim()
    .split("\n")
    .map((l) => l.split(/\s+/).slice(0, 2).join(" "));

describe("drctl check on a file store", { timeout: 120_000 }, () => {
  it("passes on a working store and database, and leaves no probe behind", async () => {
    const dir = join(work, "good");
    mkdirSync(dir);
    const store = pathToFileURL(dir).href;
    const backup = await drctl(["backup", "--tier", "daily", "--store", store], {
      DATABASE_URL: backupUrl(),
    });
    expect(backup.code).toBe(0);
    const r = await drctl(["check", "--store", store], { DATABASE_URL: backupUrl() });
    expect(r.stderr).toBe("");
    expect(marks(r.stdout)).toEqual([
      "ok store",
      "ok probe",
      "ok database",
      "ok pg_dump",
      "ok tables",
      "ok scratch",
    ]);
    expect(r.stdout).toContain(`ok   tables       dr_backup reads every row of all 1 tables\n`);
    expect(r.stdout).toContain(
      "ok   probe        created, refused a second write, read back and removed\n",
    );
    expect(r.code).toBe(0);
    expect(readdirSync(join(dir, "reports", "check"))).toEqual([]);
  });

  it("fails (exit 2) on a store that does not exist, in one line, and creates nothing", async () => {
    const dir = join(work, "mistyped");
    const r = await drctl(["check", "--store", pathToFileURL(dir).href], {
      DATABASE_URL: backupUrl(),
    });
    expect(r.code).toBe(2);
    const failures = r.stdout.split("\n").filter((l) => l.startsWith("FAIL"));
    expect(failures).toEqual([
      `FAIL store        ${pathToFileURL(dir).href}: ${dir} does not exist or is not a directory; ` +
        `check --store / DRCTL_STORE, or create it (mkdir -p ${dir})`,
    ]);
    expect(marks(r.stdout)).toEqual([
      "FAIL store",
      "skip probe",
      "ok database",
      "ok pg_dump",
      "ok tables",
      "skip scratch",
    ]);
    expect(() => readdirSync(dir)).toThrow(/ENOENT/);
  });

  it("fails on a database it cannot reach, in one line", async () => {
    const dir = join(work, "nodb");
    mkdirSync(dir);
    const port = await freePort();
    const r = await drctl(["check", "--store", pathToFileURL(dir).href, "--json"], {
      DATABASE_URL: `postgresql://dr_backup@127.0.0.1:${port}/app`,
    });
    expect(r.code).toBe(2);
    const out = JSON.parse(r.stdout) as {
      passed: boolean;
      lines: { name: string; status: string; detail: string }[];
    };
    expect(out.passed).toBe(false);
    expect(out.lines.filter((l) => l.status === "fail")).toEqual([
      {
        name: "database",
        status: "fail",
        detail: `database 127.0.0.1:${port}/app: connection refused; check the host and port, and that it is up`,
        fix: "set DATABASE_URL (or PGHOST, PGPORT, PGDATABASE, PGUSER) and the credentials (PGPASSWORD or DRCTL_DB_SECRET_ARN)",
      },
    ]);
    expect(out.lines.map((l) => `${l.status} ${l.name}`)).toEqual([
      "ok store",
      "ok probe",
      "fail database",
      "skip pg_dump",
      "skip tables",
      "skip scratch",
    ]);
  });

  it("fails on a table the login cannot read, naming it and the fix", async () => {
    await sql(
      cluster,
      db,
      `create table public.tenant_notes (id int, tenant text);
       insert into public.tenant_notes values (1, 'a'), (2, 'b');
       alter table public.tenant_notes enable row level security;
       create policy by_tenant on public.tenant_notes using (tenant = current_setting('app.tenant', true));`,
    );
    try {
      const dir = join(work, "rls");
      mkdirSync(dir);
      const r = await drctl(["check", "--store", pathToFileURL(dir).href], {
        DATABASE_URL: backupUrl(),
      });
      expect(r.code).toBe(2);
      expect(r.stdout.split("\n").filter((l) => l.startsWith("FAIL"))).toEqual([
        "FAIL tables       dr_backup cannot read every row of public.tenant_notes; public.tenant_notes: " +
          "row security is on and no policy lets dr_backup read every row; run CREATE POLICY " +
          "dr_backup_read ON public.tenant_notes FOR SELECT TO dr_backup USING (true)",
      ]);
      // check only reads: the table still has its one policy and both rows.
      expect(
        await sql(
          cluster,
          db,
          "select (select count(*)::int from pg_policy) as policies, (select count(*)::int from public.tenant_notes) as n",
        ),
      ).toEqual([{ policies: 1, n: 2 }]);
    } finally {
      await sql(cluster, db, "drop table public.tenant_notes");
    }
  });
});

describe("drctl check on the S3 test server", { timeout: 120_000 }, () => {
  it("fails on a bucket that does not exist (404 NoSuchBucket), in one line", async () => {
    // The SDK reads its credentials from the process's environment.
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: "S3RVER", AWS_SECRET_ACCESS_KEY: "S3RVER" });
    const r = await drctl(["check", "--store", "s3://no-such-bucket/site", "--no-database"], {
      DRCTL_S3_ENDPOINT: s3server.endpoint,
    });
    expect(r.code).toBe(2);
    expect(marks(r.stdout)).toEqual([
      "FAIL store",
      "skip versioning",
      "skip object-lock",
      "skip create-only",
      "skip probe",
      "skip kms",
      "skip scratch",
    ]);
    expect(r.stdout.split("\n")[0]).toBe(
      "FAIL store        s3://no-such-bucket/site: bucket no-such-bucket does not exist; check the " +
        "bucket name in --store / DRCTL_STORE (the stack's output backupBucketName)",
    );
  });
});

/**
 * What S3 answers for a bucket set up as the stack sets up its backup bucket, in the SDK's own
 * shapes. The test server has no versioning, Object Lock, bucket policy or KMS, so these are
 * stated here, each with its source:
 * - GetBucketVersioning → Status "Enabled" (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketVersioning.html);
 * - GetObjectLockConfiguration → ObjectLockEnabled "Enabled" and Rule.DefaultRetention, or, on a
 *   bucket without Object Lock, 404 ObjectLockConfigurationNotFoundError
 *   (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObjectLockConfiguration.html;
 *   https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html);
 * - GetBucketPolicy → the policy as a JSON string (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketPolicy.html);
 *   its create-only statement is components/backups/storage.ts createOnlyStatement's;
 * - PutObject with If-None-Match: * onto an existing key → 412 PreconditionFailed
 *   (https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html);
 * - HeadObject → ServerSideEncryption "aws:kms" and SSEKMSKeyId as the key's ARN
 *   (https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html).
 */
describe("drctl check's S3 lines against the SDK's shapes", { timeout: 120_000 }, () => {
  const keyArn = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
  // Mocked only here: mockClient stubs every S3Client, the test server's included.
  let mock: ReturnType<typeof mockClient>;
  beforeAll(() => {
    mock = mockClient(sdk.S3Client);
  });
  afterEach(() => mock.reset());
  afterAll(() => mock.restore());

  const createOnly = {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "DenyNonConditionalCreates",
        Effect: "Deny",
        Principal: "*",
        Action: "s3:PutObject",
        Resource: ["daily", "weekly", "monthly"].map((p) => `arn:aws:s3:::acme-dr-backups/${p}/*`),
        Condition: {
          Null: { "s3:if-none-match": "true" },
          Bool: { "s3:ObjectCreationOperation": "true" },
        },
      },
    ],
  };

  function awsBucket(): void {
    const objects = new Map<string, Buffer>();
    mock.on(sdk.GetBucketVersioningCommand).resolves({ Status: "Enabled" });
    mock.on(sdk.GetObjectLockConfigurationCommand).resolves({
      ObjectLockConfiguration: {
        ObjectLockEnabled: "Enabled",
        Rule: { DefaultRetention: { Mode: "GOVERNANCE", Days: 35 } },
      },
    });
    mock.on(sdk.GetBucketPolicyCommand).resolves({ Policy: JSON.stringify(createOnly) });
    mock.on(sdk.PutObjectCommand).callsFake((input: sdk.PutObjectCommandInput) => {
      const key = input.Key as string;
      if (objects.has(key) && input.IfNoneMatch === "*") {
        throw new sdk.S3ServiceException({
          name: "PreconditionFailed",
          $fault: "client",
          $metadata: { httpStatusCode: 412 },
          message: "At least one of the pre-conditions you specified did not hold",
        });
      }
      objects.set(key, Buffer.from(input.Body as Buffer));
      return { ServerSideEncryption: "aws:kms", SSEKMSKeyId: keyArn };
    });
    mock.on(sdk.GetObjectCommand).callsFake((input: sdk.GetObjectCommandInput) => ({
      Body: Readable.from([objects.get(input.Key as string) as Buffer]),
    }));
    mock.on(sdk.HeadObjectCommand).resolves({
      ServerSideEncryption: "aws:kms",
      SSEKMSKeyId: keyArn,
      ObjectLockMode: "GOVERNANCE",
    });
    mock.on(sdk.ListObjectsV2Command).resolves({ Contents: [] });
  }

  async function run(database = true) {
    const client = new sdk.S3Client({ region: "us-east-1" });
    const store = new S3Store("s3://acme-dr-backups", "acme-dr-backups", "", {
      client,
      sseKmsKeyId: keyArn,
    });
    return checkSetup({
      store,
      s3: { sdk, client, bucket: { bucket: "acme-dr-backups", prefix: "", sseKmsKeyId: keyArn } },
      database: database
        ? [
            resolveTarget(backupUrl(), {}),
            "sslmode prefer from libpq's default sslmode",
            process.env,
          ]
        : undefined,
      env: {},
    });
  }

  it("passes on a bucket with versioning, Object Lock, the create-only rule and KMS, with a database", async () => {
    awsBucket();
    const r = await run();
    expect(r.lines.map((l) => `${l.status} ${l.name}: ${l.detail}`).slice(0, 6)).toEqual([
      "ok store: s3://acme-dr-backups: bucket acme-dr-backups exists and answers",
      "ok versioning: enabled",
      "ok object-lock: default retention GOVERNANCE 35 days",
      "ok create-only: the bucket policy denies s3:PutObject without If-None-Match under daily/, weekly/, monthly/",
      expect.stringMatching(
        /^ok probe: created, refused a second write, read back and left at reports\/check\/\d{8}T\d{6}Z-[0-9a-f]{6}\.json: Object Lock keeps it until its retention ends$/,
      ),
      `ok kms: the probe was encrypted with ${keyArn} and read back: the key is usable`,
    ]);
    expect(r.lines.slice(6).map((l) => `${l.status} ${l.name}`)).toEqual([
      "ok database",
      "ok pg_dump",
      "ok tables",
      "skip scratch",
    ]);
    expect(r.passed).toBe(true);
    // Object Lock keeps the probe: drctl check never tries to delete it.
    expect(mock.commandCalls(sdk.DeleteObjectCommand)).toHaveLength(0);
    expect(mock.commandCalls(sdk.PutObjectCommand).map((c) => c.args[0].input.IfNoneMatch)).toEqual(
      ["*", "*"],
    );
  });

  it("fails on a bucket without Object Lock, in one line", async () => {
    awsBucket();
    mock.on(sdk.GetObjectLockConfigurationCommand).rejects(
      new sdk.S3ServiceException({
        name: "ObjectLockConfigurationNotFoundError",
        $fault: "client",
        $metadata: { httpStatusCode: 404 },
        message: "Object Lock configuration does not exist for this bucket",
      }),
    );
    mock.on(sdk.DeleteObjectCommand).resolves({});
    const r = await run(false);
    expect(r.passed).toBe(false);
    expect(r.lines.filter((l) => l.status === "fail")).toEqual([
      {
        name: "object-lock",
        status: "fail",
        detail:
          "bucket acme-dr-backups has no Object Lock: anyone holding delete rights can erase committed backups",
        fix: "point DRCTL_STORE at the stack's backup bucket, which is created with Object Lock and a default retention",
      },
    ]);
    // Without a lock the probe is cleaned up.
    expect(mock.commandCalls(sdk.DeleteObjectCommand)).toHaveLength(1);
  });

  it("fails when the bucket policy lacks the create-only rule, or objects are not under KMS", async () => {
    awsBucket();
    mock.on(sdk.GetBucketPolicyCommand).rejects(
      new sdk.S3ServiceException({
        name: "NoSuchBucketPolicy",
        $fault: "client",
        $metadata: { httpStatusCode: 404 },
        message: "The bucket policy does not exist",
      }),
    );
    mock.on(sdk.HeadObjectCommand).resolves({ ServerSideEncryption: "AES256" });
    const r = await run(false);
    expect(r.lines.filter((l) => l.status === "fail").map((l) => `${l.name}: ${l.detail}`)).toEqual(
      [
        "create-only: bucket acme-dr-backups has no bucket policy",
        "kms: the probe was stored with AES256 encryption, not SSE-KMS",
      ],
    );
  });
});
