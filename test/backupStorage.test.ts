import { describe, expect, it } from "vitest";
import { runStack, type StackRun } from "./harness";

const BUCKET = "aws:s3/bucket:Bucket";
const USE1_BUCKET = "acme-dr-use1-backups-111122223333";
const USE1_BUCKET_ARN = `arn:aws:s3:::${USE1_BUCKET}`;

function siteKeyArn(run: StackRun): string {
  const key = run.one("aws:kms/key:Key");
  return `arn:aws:kms:${key.inputs.region}:111122223333:key/${key.id}`;
}

function statement(policy: any, sid: string): any {
  const hit = policy.Statement.find((s: any) => s.Sid === sid);
  if (!hit) throw new Error(`no statement ${sid} in ${JSON.stringify(policy)}`);
  return hit;
}

describe("backup bucket on the primary stack", () => {
  let run: StackRun;
  const primary = async () => (run ??= await runStack("primary"));

  it("is named by naming.ts in the site's region, protected, retained, never force-destroyed", async () => {
    const r = await primary();
    const bucket = r.one(BUCKET);
    expect(bucket.name).toBe("acme-dr-use1-backups");
    expect(bucket.inputs.bucket).toBe(USE1_BUCKET);
    expect(bucket.inputs.region).toBe("us-east-1");
    expect(bucket.protect).toBe(true);
    expect(bucket.retainOnDelete).toBe(true);
    expect(bucket.inputs.forceDestroy).not.toBe(true);
    // Split resources only (pulumi-aws #2577): no inline configuration on the bucket.
    for (const inline of [
      "versioning",
      "serverSideEncryptionConfiguration",
      "lifecycleRules",
      "replicationConfiguration",
      "policy",
      "objectLockConfiguration",
    ]) {
      expect(bucket.inputs[inline], inline).toBeUndefined();
    }
    expect(r.outputs.backupBucketName).toBe(USE1_BUCKET);
    expect(r.outputs.backupBucketArn).toBe(USE1_BUCKET_ARN);
  });

  it("versions every object", async () => {
    const r = await primary();
    const v = r.one("aws:s3/bucketVersioning:BucketVersioning");
    expect(v.inputs.bucket).toBe(USE1_BUCKET);
    expect(v.inputs.region).toBe("us-east-1");
    expect(v.inputs.versioningConfiguration).toEqual({ status: "Enabled" });
  });

  it("encrypts by default with the site key and bucket keys, and blocks SSE-C", async () => {
    const r = await primary();
    const sse = r.one(
      "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    );
    expect(sse.inputs.region).toBe("us-east-1");
    expect(sse.inputs.rules).toEqual([
      {
        applyServerSideEncryptionByDefault: {
          sseAlgorithm: "aws:kms",
          kmsMasterKeyId: siteKeyArn(r),
        },
        bucketKeyEnabled: true,
        blockedEncryptionTypes: ["SSE-C"],
      },
    ]);
    expect(siteKeyArn(r)).toMatch(/^arn:aws:kms:us-east-1:111122223333:key\/[0-9a-f-]{36}$/);
  });

  it("blocks all four kinds of public access and enforces bucket-owner ownership", async () => {
    const r = await primary();
    const pab = r.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock");
    expect(pab.inputs).toMatchObject({
      bucket: USE1_BUCKET,
      region: "us-east-1",
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    });
    const own = r.one("aws:s3/bucketOwnershipControls:BucketOwnershipControls");
    expect(own.inputs.rule).toEqual({ objectOwnership: "BucketOwnerEnforced" });
  });

  it("denies non-TLS requests to the bucket and its objects", async () => {
    const r = await primary();
    const bp = r.one("aws:s3/bucketPolicy:BucketPolicy");
    expect(bp.inputs.region).toBe("us-east-1");
    const policy = JSON.parse(bp.inputs.policy);
    expect(statement(policy, "DenyInsecureTransport")).toEqual({
      Sid: "DenyInsecureTransport",
      Effect: "Deny",
      Principal: "*",
      Action: "s3:*",
      Resource: [USE1_BUCKET_ARN, `${USE1_BUCKET_ARN}/*`],
      Condition: { Bool: { "aws:SecureTransport": "false" } },
    });
    // Ordered after the public access block: S3 rejects the two changing concurrently.
    expect(bp.dependsOn).toContain(
      r.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").urn,
    );
  });

  it("denies uploads that name another encryption or another key, and only when they do", async () => {
    const r = await primary();
    const policy = JSON.parse(r.one("aws:s3/bucketPolicy:BucketPolicy").inputs.policy);
    const objects = `${USE1_BUCKET_ARN}/*`;
    const put = { Effect: "Deny", Principal: "*", Action: "s3:PutObject", Resource: objects };
    expect(statement(policy, "DenyNonKmsEncryption")).toMatchObject({
      ...put,
      Condition: {
        StringNotEquals: { "s3:x-amz-server-side-encryption": "aws:kms" },
        Null: { "s3:x-amz-server-side-encryption": "false" },
      },
    });
    expect(statement(policy, "DenyKmsWithoutSiteKey")).toMatchObject({
      ...put,
      Condition: {
        StringEquals: { "s3:x-amz-server-side-encryption": "aws:kms" },
        Null: { "s3:x-amz-server-side-encryption-aws-kms-key-id": "true" },
      },
    });
    expect(statement(policy, "DenyOtherKmsKey")).toMatchObject({
      ...put,
      Condition: {
        StringNotEquals: { "s3:x-amz-server-side-encryption-aws-kms-key-id": siteKeyArn(r) },
        Null: { "s3:x-amz-server-side-encryption-aws-kms-key-id": "false" },
      },
    });
    expect(statement(policy, "DenyCustomerProvidedKeys").Condition).toEqual({
      Null: { "s3:x-amz-server-side-encryption-customer-algorithm": "false" },
    });
    // No statement may deny a PutObject for *lacking* the SSE header: UploadPart never has it.
    for (const s of policy.Statement) {
      expect(s.Condition?.Null?.["s3:x-amz-server-side-encryption"]).not.toBe("true");
      expect(Object.keys(s.Condition ?? {})).not.toContain("StringNotEqualsIfExists");
    }
    expect(policy.Statement.every((s: any) => s.Effect === "Deny")).toBe(true);
  });

  it("expires each tier's prefix after its days, and cleans up versions, uploads and markers", async () => {
    const r = await primary();
    const lc = r.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration");
    expect(lc.inputs.region).toBe("us-east-1");
    const byPrefix = Object.fromEntries(
      lc.inputs.rules
        .filter((x: any) => x.filter?.prefix)
        .map((x: any) => [x.filter.prefix, x.expiration.days]),
    );
    expect(byPrefix).toEqual({ "daily/": 7, "weekly/": 28, "monthly/": 365, "reports/": 365 });
    for (const rule of lc.inputs.rules) expect(rule.status).toBe("Enabled");
    const all = lc.inputs.rules.find((x: any) => x.id === "versions-uploads-markers");
    expect(all).toEqual({
      id: "versions-uploads-markers",
      status: "Enabled",
      filter: {},
      noncurrentVersionExpiration: { noncurrentDays: 30 },
      abortIncompleteMultipartUpload: { daysAfterInitiation: 1 },
      expiration: { expiredObjectDeleteMarker: true },
    });
    expect(lc.dependsOn).toContain(r.one("aws:s3/bucketVersioning:BucketVersioning").urn);
  });

  it("has no Object Lock unless configured", async () => {
    const r = await primary();
    expect(r.ofType("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration")).toEqual(
      [],
    );
  });
});

describe("backup storage config", () => {
  it("takes lifecycle and noncurrent days from dr-stack:storage", async () => {
    const r = await runStack("dr", {
      storage: {
        retentionDays: { daily: 10, weekly: 35, monthly: 400, reports: 90 },
        noncurrentVersionExpirationDays: 14,
      },
    });
    const rules = r.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").inputs
      .rules;
    const days = Object.fromEntries(
      rules.filter((x: any) => x.filter?.prefix).map((x: any) => [x.id, x.expiration.days]),
    );
    expect(days).toEqual({
      "expire-daily": 10,
      "expire-weekly": 35,
      "expire-monthly": 400,
      "expire-reports": 90,
    });
    expect(
      rules.find((x: any) => x.id === "versions-uploads-markers").noncurrentVersionExpiration,
    ).toEqual({ noncurrentDays: 14 });
    expect(r.one(BUCKET).inputs.region).toBe("us-west-2");
  });

  it.each([
    ["daily", 6, 7],
    ["weekly", 27, 28],
    ["monthly", 364, 365],
  ])(
    "rejects %s retention of %i days, below its floor of %i, naming the tier",
    async (tier, days, floor) => {
      await expect(
        runStack("primary", { storage: { retentionDays: { [tier]: days } } }),
      ).rejects.toThrow(
        `dr-stack:storage.retentionDays.${tier}: ${tier} retention must be at least ${floor} days, got ${days}`,
      );
    },
  );

  it("lists every tier below its floor in one error", async () => {
    const err = await runStack("primary", {
      storage: { retentionDays: { daily: 1, weekly: 7, monthly: 30 } },
    }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    const message = (err as Error).message;
    expect(message).toContain("3 problems");
    for (const tier of ["daily", "weekly", "monthly"]) {
      expect(message).toContain(`dr-stack:storage.retentionDays.${tier}`);
    }
  });

  it("turns on Object Lock with the configured mode and days, after versioning", async () => {
    const r = await runStack("primary", {
      storage: { objectLock: { mode: "COMPLIANCE", days: 7 } },
    });
    const lock = r.one("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration");
    expect(lock.inputs).toMatchObject({
      bucket: USE1_BUCKET,
      region: "us-east-1",
      objectLockEnabled: "Enabled",
      rule: { defaultRetention: { mode: "COMPLIANCE", days: 7 } },
    });
    expect(lock.dependsOn).toContain(r.one("aws:s3/bucketVersioning:BucketVersioning").urn);
    expect(lock.retainOnDelete).toBe(true);
    // Enabled by the resource, not the bucket argument, so turning it on later is no replacement.
    expect(r.one(BUCKET).inputs.objectLockEnabled).toBeUndefined();
  });
});
