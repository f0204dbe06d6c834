import { describe, expect, it } from "vitest";
import { runStack, type StackRun } from "../harness";

/**
 * The `pre-restore/` prefix of the backup bucket: what a restore that replaces data backs up
 * first. Expired by its own lifecycle rule (dr-stack:storage.retentionDays.preRestore, default 7),
 * locked by the bucket's default retention (its writer, an operator's drctl, sets none of its
 * own), create-only like every tier, and written by no job identity.
 */
const LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration";
const LOCK = "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration";

function preRestoreRule(run: StackRun): unknown {
  return run
    .one(LIFECYCLE)
    .inputs.rules.find(
      (r: { filter?: { prefix?: string } }) => r.filter?.prefix === "pre-restore/",
    );
}

describe("the pre-restore prefix of the backup bucket", () => {
  it("expires after 7 days by default, and new versions are locked 7 days", async () => {
    const r = await runStack("primary");
    expect(preRestoreRule(r)).toEqual({
      id: "expire-pre-restore",
      status: "Enabled",
      filter: { prefix: "pre-restore/" },
      expiration: { days: 7 },
    });
    // S3 applies the bucket's default retention to a version put without its own retention
    // headers, which is how an operator's drctl writes a pre-restore backup.
    // https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock.html#object-lock-bucket-config
    expect(r.one(LOCK).inputs.rule).toEqual({ defaultRetention: { mode: "GOVERNANCE", days: 7 } });
  });

  it("takes its days from dr-stack:storage.retentionDays.preRestore, and its lock with them", async () => {
    const r = await runStack("dr", {
      storage: {
        retentionDays: { preRestore: 14 },
        objectLock: { days: { daily: 14 } },
      },
    });
    expect(preRestoreRule(r)).toEqual({
      id: "expire-pre-restore",
      status: "Enabled",
      filter: { prefix: "pre-restore/" },
      expiration: { days: 14 },
    });
    expect(r.one(LOCK).inputs.rule).toEqual({ defaultRetention: { mode: "GOVERNANCE", days: 14 } });
    expect(r.one(LOCK).inputs.region).toBe("us-west-2");
  });

  it("refuses a lock it would not get: longer than a scheduled tier's, which is the bucket default", async () => {
    await expect(
      runStack("primary", { storage: { retentionDays: { preRestore: 14 } } }),
    ).rejects.toThrow(
      "dr-stack:storage.objectLock.days.preRestore: pre-restore backups would be locked 14 days, " +
        "but they get the bucket's default retention, the shortest tier lock (daily: 7 days); keep " +
        "pre-restore at most 7 days or lock daily backups at least 14 (storage.objectLock.days.daily)",
    );
  });

  it("refuses a lock shorter than its retention, and a retention under 7 days", async () => {
    await expect(
      runStack("primary", { storage: { objectLock: { days: { preRestore: 5 } } } }),
    ).rejects.toThrow(
      "dr-stack:storage.objectLock.days.preRestore: pre-restore backups are kept 7 days " +
        "(storage.retentionDays.preRestore) but locked only 5; set it to at least 7 or leave it unset",
    );
    await expect(
      runStack("primary", { storage: { retentionDays: { preRestore: 3 } } }),
    ).rejects.toThrow(
      "dr-stack:storage.retentionDays.preRestore: pre-restore retention must be at least 7 days, got 3",
    );
  });

  it("is written by no job identity: none may create, read or list under pre-restore/", async () => {
    const r = await runStack("primary");
    const policies = r
      .ofType("aws:iam/rolePolicy:RolePolicy")
      .filter((p) => /-backup-irsa-/.test(p.name))
      .map((p) => p.inputs.policy as string);
    expect(policies).toHaveLength(3);
    for (const policy of policies) {
      expect(policy).toContain("daily/*");
      expect(policy).not.toContain("pre-restore");
      // No prefix-less grant either: every object statement names a tier prefix.
      expect(policy).not.toMatch(/backups-111122223333\/\*"/);
    }
  });
});
