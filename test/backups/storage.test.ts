import { describe, expect, it } from "vitest";
import { ROLES } from "../../components/config";
import { runStack, type StackRun } from "../harness";

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
    expect(byPrefix).toEqual({
      "daily/": 7,
      "weekly/": 28,
      "monthly/": 365,
      "pre-restore/": 7,
      "reports/": 365,
    });
    for (const rule of lc.inputs.rules) expect(rule.status).toBe("Enabled");
    const all = lc.inputs.rules.find((x: any) => x.id === "versions-uploads-markers");
    expect(all).toEqual({
      id: "versions-uploads-markers",
      status: "Enabled",
      // Not `{}`: the provider warns on an empty filter and AWS reads it back as an empty prefix
      // (terraform-provider-aws #41710, #42714).
      filter: { prefix: "" },
      noncurrentVersionExpiration: { noncurrentDays: 30 },
      abortIncompleteMultipartUpload: { daysAfterInitiation: 1 },
      expiration: { expiredObjectDeleteMarker: true },
    });
    expect(lc.dependsOn).toContain(r.one("aws:s3/bucketVersioning:BucketVersioning").urn);
  });

  it("turns Object Lock on by default, GOVERNANCE, retaining new versions the shortest tier's days", async () => {
    const r = await primary();
    const lock = r.one("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration");
    expect(lock.inputs).toMatchObject({
      bucket: USE1_BUCKET,
      region: "us-east-1",
      objectLockEnabled: "Enabled",
      rule: { defaultRetention: { mode: "GOVERNANCE", days: 7 } },
    });
    // PutObjectLockConfiguration needs versioning on first (S3 user guide, "Configuring S3
    // Object Lock"): https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock-configure.html
    expect(lock.dependsOn).toContain(r.one("aws:s3/bucketVersioning:BucketVersioning").urn);
    expect(lock.retainOnDelete).toBe(true);
    // Enabled by the resource, not the bucket argument (which forces a new bucket): S3 enables
    // Object Lock on an existing versioned bucket with PutObjectLockConfiguration.
    expect(r.one(BUCKET).inputs.objectLockEnabled).toBeUndefined();
  });

  it("denies creating a backup object without If-None-Match, exempting the multipart steps (create-only backups, docs/architecture.md §4)", async () => {
    const r = await primary();
    const policy = JSON.parse(r.one("aws:s3/bucketPolicy:BucketPolicy").inputs.policy);
    // S3 user guide, "Enforce conditional writes on Amazon S3 buckets": s3:if-none-match is Null
    // without the header; s3:ObjectCreationOperation is false for CreateMultipartUpload,
    // UploadPart and UploadPartCopy, which cannot carry it (examples 1 and 2).
    // https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes-enforce.html
    expect(statement(policy, "DenyNonConditionalCreates")).toEqual({
      Sid: "DenyNonConditionalCreates",
      Effect: "Deny",
      Principal: "*",
      Action: "s3:PutObject",
      Resource: [
        `${USE1_BUCKET_ARN}/daily/*`,
        `${USE1_BUCKET_ARN}/weekly/*`,
        `${USE1_BUCKET_ARN}/monthly/*`,
        `${USE1_BUCKET_ARN}/pre-restore/*`,
      ],
      Condition: {
        Null: { "s3:if-none-match": "true" },
        Bool: { "s3:ObjectCreationOperation": "true" },
      },
    });
  });

  it("denies bypassing governance retention to everyone when no break-glass principal is set", async () => {
    const r = await primary();
    const policy = JSON.parse(r.one("aws:s3/bucketPolicy:BucketPolicy").inputs.policy);
    // "Bypassing governance mode": s3:BypassGovernanceRetention lets a request delete or shorten
    // a governance-locked version. https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock-managing.html
    expect(statement(policy, "DenyGovernanceBypass")).toEqual({
      Sid: "DenyGovernanceBypass",
      Effect: "Deny",
      Principal: "*",
      Action: "s3:BypassGovernanceRetention",
      Resource: `${USE1_BUCKET_ARN}/*`,
    });
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
      "expire-pre-restore": 7,
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

  it("takes the lock mode and per-tier days from config; the default retention is the shortest", async () => {
    const r = await runStack("primary", {
      storage: {
        objectLock: {
          mode: "COMPLIANCE",
          days: { daily: 10, weekly: 30, monthly: 400, preRestore: 10 },
        },
      },
    });
    const lock = r.one("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration");
    expect(lock.inputs.rule).toEqual({ defaultRetention: { mode: "COMPLIANCE", days: 10 } });
  });

  it("lets only the break-glass principal bypass governance retention", async () => {
    const breakGlass = "arn:aws:iam::111122223333:role/break-glass";
    const r = await runStack("primary", { breakGlassPrincipalArn: breakGlass });
    const policy = JSON.parse(r.one("aws:s3/bucketPolicy:BucketPolicy").inputs.policy);
    expect(statement(policy, "DenyGovernanceBypass").Condition).toEqual({
      ArnNotEquals: { "aws:PrincipalArn": breakGlass },
    });
  });

  it.each([
    ["daily", 6, 7],
    ["weekly", 20, 28],
    ["monthly", 300, 365],
  ])(
    "refuses a %s lock of %i days, shorter than the %i days lifecycle keeps it",
    async (tier, days, kept) => {
      await expect(
        runStack("primary", { storage: { objectLock: { days: { [tier]: days } } } }),
      ).rejects.toThrow(
        `dr-stack:storage.objectLock.days.${tier}: ${tier} backups are kept ${kept} days ` +
          `(storage.retentionDays.${tier}) but locked only ${days}; set it to at least ${kept} or leave it unset`,
      );
    },
  );

  it("creates no Object Lock configuration when it is turned off", async () => {
    const r = await runStack("primary", { storage: { objectLock: { enabled: false } } });
    expect(r.ofType("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration")).toEqual(
      [],
    );
  });

  it("names peerLinks when a config still sets storage.replicateToPeer", async () => {
    await expect(runStack("primary", { storage: { replicateToPeer: false } })).rejects.toThrow(
      "dr-stack:storage.replicateToPeer: was removed; set the top-level dr-stack:peerLinks instead",
    );
  });
});

describe("in both stacks, in every role", () => {
  const LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration";
  const TIERS = ["daily", "weekly", "monthly"] as const;

  for (const stack of ["primary", "dr"] as const) {
    it(`${stack}: each tier is locked at least as long as lifecycle keeps it, and writes are create-only`, async () => {
      const site = stack === "primary" ? "use1" : "usw2";
      const bucketArn = `arn:aws:s3:::acme-dr-${site}-backups-111122223333`;
      let iam: unknown;
      for (const role of ROLES) {
        const r = await runStack(stack, { role });
        const expiry = Object.fromEntries(
          r.one(LIFECYCLE).inputs.rules.map((x: any) => [x.id, x.expiration?.days]),
        );
        const jobs = Object.fromEntries(
          r
            .ofType("kubernetes:batch/v1:CronJob")
            .map((c) => [
              c.inputs.metadata.name,
              Object.fromEntries(
                c.inputs.spec.jobTemplate.spec.template.spec.containers[0].env.map((e: any) => [
                  e.name,
                  e.value,
                ]),
              ),
            ]),
        );
        for (const tier of TIERS) {
          const env = jobs[`backup-${tier}`];
          expect(env.DRCTL_OBJECT_LOCK_MODE, `${role} ${tier}`).toBe("GOVERNANCE");
          expect(Number(env.DRCTL_OBJECT_LOCK_DAYS), `${role} ${tier}`).toBeGreaterThanOrEqual(
            expiry[`expire-${tier}`],
          );
        }
        const lock = r.one("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration");
        expect(lock.inputs.rule.defaultRetention, role).toEqual({ mode: "GOVERNANCE", days: 7 });
        const policy = JSON.parse(r.one("aws:s3/bucketPolicy:BucketPolicy").inputs.policy);
        expect(statement(policy, "DenyNonConditionalCreates").Resource, role).toEqual([
          `${bucketArn}/daily/*`,
          `${bucketArn}/weekly/*`,
          `${bucketArn}/monthly/*`,
          `${bucketArn}/pre-restore/*`,
        ]);
        // docs/architecture.md §2b: the IAM of the storage, AWS Backup and job components is the same in
        // every role, so no transition on the failover path creates or changes an IAM resource.
        const mine = r.resources
          .filter((x) => x.type.startsWith("aws:iam/"))
          .filter((x) => /drstack:(storage|backup):/.test(x.urn))
          .map((x) => ({ type: x.type, name: x.name, inputs: x.inputs }));
        // Replication role + policy, AWS Backup role + 2 attachments, 3 job roles + policies, the
        // restore-testing role + attachment, the restore-test check's role + policy, reconnect's
        // pre-provisioned Batch Replication role + its policy, and the point-in-time test's job
        // role, its cleanup function's role and the data-at-risk monitor's role, each + policy.
        expect(mine.map((x) => x.name).sort(), role).toHaveLength(23);
        iam ??= mine;
        expect(mine, role).toEqual(iam);
      }
    });
  }
});
