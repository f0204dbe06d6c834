import { describe, expect, it } from "vitest";
import { evaluate, type EvaluatedResource } from "../../policies/evaluate";
import { policies } from "../../policies/rules";
import {
  BUCKET,
  DB_ARN,
  drop,
  KEY_ARN,
  mutate,
  PEER_BUCKET,
  primarySite,
  T,
  urnOf,
} from "./fixtures";
import { PROTECTION_CASES, type Case } from "./protectionCases";

/**
 * One mutation per case: start from the compliant primary site, change one property, and the
 * whole pack reports exactly one violation — that rule's, with its exact message (STYLE rule 13).
 */

async function violations(resources: EvaluatedResource[]) {
  return (await evaluate(policies, resources)).map((v) => ({
    policy: v.policyName,
    level: v.enforcementLevel,
    message: v.message,
    urn: v.urn,
  }));
}

const site = primarySite;
const B = "acme-dr-use1-backups";

const CASES: Case[] = [
  // --- encryption
  {
    rule: "dr-s3-bucket-sse-kms",
    change: "sseAlgorithm AES256",
    resources: () =>
      mutate(
        site(),
        `${B}-sse`,
        (i) => (i.rules[0].applyServerSideEncryptionByDefault = { sseAlgorithm: "AES256" }),
      ),
    message: `bucket ${BUCKET} encrypts with "AES256"; expected "aws:kms" with the site's customer-managed key`,
    blamed: [T.sse, `${B}-sse`],
  },
  {
    rule: "dr-s3-bucket-sse-kms",
    change: "aws:kms without a key",
    resources: () =>
      mutate(
        site(),
        `${B}-sse`,
        (i) => delete i.rules[0].applyServerSideEncryptionByDefault.kmsMasterKeyId,
      ),
    message:
      `bucket ${BUCKET} uses aws:kms without kmsMasterKeyId, which falls back to the AWS-managed ` +
      `aws/s3 key; set kmsMasterKeyId to the site key`,
    blamed: [T.sse, `${B}-sse`],
  },
  {
    rule: "dr-s3-bucket-sse-kms",
    change: "no encryption resource",
    resources: () => drop(site(), `${B}-sse`),
    message:
      `bucket ${BUCKET} has no BucketServerSideEncryptionConfiguration: add one with sseAlgorithm ` +
      `"aws:kms" and kmsMasterKeyId set to the site key`,
    blamed: [T.bucket, B],
  },
  {
    rule: "dr-s3-bucket-tls-only",
    change: "SecureTransport condition true",
    resources: () =>
      mutate(site(), `${B}-policy`, (i) => {
        const doc = JSON.parse(i.policy);
        doc.Statement[0].Condition.Bool["aws:SecureTransport"] = "true";
        i.policy = JSON.stringify(doc);
      }),
    message:
      `bucket ${BUCKET} has no policy statement denying non-TLS requests: add {"Effect":"Deny",` +
      `"Principal":"*","Action":"s3:*","Resource":[bucket ARN, bucket ARN/*],"Condition":{"Bool":` +
      `{"aws:SecureTransport":"false"}}}`,
    blamed: [T.bucket, B],
  },
  {
    rule: "dr-rds-instance-cmk-encryption",
    change: "no kmsKeyId",
    resources: () => mutate(site(), "acme-dr-use1-pg", (i) => delete i.kmsKeyId),
    message:
      "kmsKeyId is not set, so RDS uses the AWS-managed aws/rds key; set it to the site's customer-managed key",
    blamed: [T.db, "acme-dr-use1-pg"],
  },
  {
    rule: "dr-rds-instance-cmk-encryption",
    change: "storageEncrypted false",
    resources: () => mutate(site(), "acme-dr-use1-pg", (i) => (i.storageEncrypted = false)),
    message:
      "storageEncrypted is false; set it to true (RDS cannot encrypt an existing instance in place)",
    blamed: [T.db, "acme-dr-use1-pg"],
  },
  {
    rule: "dr-kms-key-rotation",
    change: "rotation off",
    resources: () => mutate(site(), "acme-dr-use1-key", (i) => (i.enableKeyRotation = false)),
    message: "enableKeyRotation is not true; turn on automatic key rotation",
    blamed: [T.key, "acme-dr-use1-key"],
  },
  {
    rule: "dr-eks-cluster-secrets-encryption",
    change: "no resources encrypted",
    resources: () => mutate(site(), "acme-dr-use1-eks", (i) => (i.encryptionConfig.resources = [])),
    message:
      'encryptionConfig does not encrypt "secrets" with a KMS key; set encryptionConfig ' +
      '{ provider: { keyArn: <site key ARN> }, resources: ["secrets"] }',
    blamed: [T.eks, "acme-dr-use1-eks"],
  },
  {
    rule: "dr-backup-vault-kms",
    change: "no kmsKeyArn",
    resources: () => mutate(site(), "acme-dr-use1-vault", (i) => delete i.kmsKeyArn),
    message:
      "kmsKeyArn is not set, so the vault uses the AWS-managed aws/backup key; set it to the site key ARN",
    blamed: [T.vault, "acme-dr-use1-vault"],
  },
  {
    rule: "dr-sns-topic-kms",
    change: "no kmsMasterKeyId",
    resources: () => mutate(site(), "acme-dr-use1-alarms", (i) => delete i.kmsMasterKeyId),
    message: "kmsMasterKeyId is not set; encrypt the topic with the site key",
    blamed: [T.topic, "acme-dr-use1-alarms"],
  },
  {
    rule: "dr-sns-topic-kms",
    change: "AWS-managed key",
    resources: () =>
      mutate(site(), "acme-dr-use1-alarms", (i) => (i.kmsMasterKeyId = "alias/aws/sns")),
    message:
      "kmsMasterKeyId is alias/aws/sns, which CloudWatch alarms cannot publish through; use the site key",
    blamed: [T.topic, "acme-dr-use1-alarms"],
  },
  // --- retention
  {
    rule: "dr-rds-instance-backup-retention",
    change: "retention 3 days",
    resources: () => mutate(site(), "acme-dr-use1-pg", (i) => (i.backupRetentionPeriod = 3)),
    message:
      "backupRetentionPeriod is 3; a source instance must keep automated backups at least 7 days",
    blamed: [T.db, "acme-dr-use1-pg"],
  },
  {
    rule: "dr-s3-bucket-tier-lifecycle",
    change: "monthly expires after 300 days",
    resources: () => mutate(site(), `${B}-lifecycle`, (i) => (i.rules[2].expiration.days = 300)),
    message:
      `backup bucket ${BUCKET}: lifecycle rule "monthly-expiry" expires monthly/ objects after 300 ` +
      `days; the monthly tier must keep them at least 365 days`,
    blamed: [T.bucket, B],
  },
  {
    // What a restore replaced must be kept as long as it promises it can be undone.
    rule: "dr-s3-bucket-tier-lifecycle",
    change: "pre-restore expires after 3 days",
    resources: () => mutate(site(), `${B}-lifecycle`, (i) => (i.rules[3].expiration.days = 3)),
    message:
      `backup bucket ${BUCKET}: lifecycle rule "pre-restore-expiry" expires pre-restore/ objects ` +
      `after 3 days; the pre-restore tier must keep them at least 7 days`,
    blamed: [T.bucket, B],
  },
  {
    rule: "dr-s3-bucket-tier-lifecycle",
    change: "pre-restore rule disabled",
    resources: () => mutate(site(), `${B}-lifecycle`, (i) => (i.rules[3].status = "Disabled")),
    message:
      `backup bucket ${BUCKET} has no enabled lifecycle rule expiring pre-restore/: add one with ` +
      `filter.prefix "pre-restore/" and expiration.days at least 7`,
    blamed: [T.bucket, B],
  },
  {
    rule: "dr-s3-bucket-tier-lifecycle",
    change: "weekly rule filters the wrong prefix",
    resources: () =>
      mutate(site(), `${B}-lifecycle`, (i) => (i.rules[1].filter.prefix = "weekly-dumps/")),
    message:
      `backup bucket ${BUCKET} has no enabled lifecycle rule expiring weekly/: add one with ` +
      `filter.prefix "weekly/" and expiration.days at least 28`,
    blamed: [T.bucket, B],
  },
  {
    rule: "dr-s3-bucket-abort-multipart",
    change: "no abort rule",
    resources: () => mutate(site(), `${B}-lifecycle`, (i) => i.rules.pop()),
    message:
      `backup bucket ${BUCKET} does not abort incomplete multipart uploads under daily/, weekly/, ` +
      `monthly/, pre-restore/: add an enabled lifecycle rule with abortIncompleteMultipartUpload.daysAfterInitiation at most 7`,
    blamed: [T.bucket, B],
  },
  {
    rule: "dr-backup-plan-retention",
    change: "monthly copy kept 300 days",
    resources: () =>
      mutate(
        site(),
        "acme-dr-use1-plan",
        (i) => (i.rules[2].copyActions[0].lifecycle.deleteAfter = 300),
      ),
    message:
      "rule monthly copy to arn:aws:backup:us-west-2:111122223333:backup-vault:acme-dr-usw2-vault " +
      "deletes recovery points after 300 days; the monthly tier keeps them at least 365",
    blamed: [T.plan, "acme-dr-use1-plan"],
  },
  {
    rule: "dr-backup-plan-cold-storage",
    change: "cold after 20 days",
    resources: () =>
      mutate(site(), "acme-dr-use1-plan", (i) => (i.rules[2].lifecycle.coldStorageAfter = 20)),
    message: "rule monthly moves to cold storage after 20 days; the minimum is 30",
    blamed: [T.plan, "acme-dr-use1-plan"],
  },
  {
    rule: "dr-backup-plan-cold-storage",
    change: "deleted 60 days after going cold",
    resources: () =>
      mutate(site(), "acme-dr-use1-plan", (i) => (i.rules[2].lifecycle.coldStorageAfter = 305)),
    message:
      "rule monthly deletes after 365 days but must keep cold copies 90 days: expected at least 395",
    blamed: [T.plan, "acme-dr-use1-plan"],
  },
  {
    rule: "dr-backup-vaultlock-changeable-days",
    change: "changeable 2 days",
    resources: () => mutate(site(), "acme-dr-use1-vault-lock", (i) => (i.changeableForDays = 2)),
    message:
      "changeableForDays is 2; a compliance lock must stay changeable at least 3 days before it becomes immutable",
    blamed: [T.lock, "acme-dr-use1-vault-lock"],
  },
  // --- replication and resilience
  {
    rule: "dr-s3-bucket-replication-rtc",
    change: "RTC off",
    resources: () =>
      mutate(
        site(),
        `${B}-replication`,
        (i) => (i.rules[0].destination.replicationTime.status = "Disabled"),
      ),
    message:
      `bucket ${BUCKET} replication rule to-peer lacks Replication Time Control: set ` +
      `destination.replicationTime {status "Enabled", time.minutes 15}`,
    blamed: [T.replication, `${B}-replication`],
  },
  {
    rule: "dr-s3-bucket-replication-rtc",
    change: "no replication on the primary",
    resources: () => drop(site(), `${B}-replication`),
    message:
      `backup bucket ${BUCKET} of a primary site has no BucketReplicationConfig: replicate it to the ` +
      `peer region's backup bucket with Replication Time Control`,
    blamed: [T.bucket, B],
  },
  {
    rule: "dr-s3-bucket-replication-rtc",
    change: "SSE-KMS objects not selected",
    resources: () =>
      mutate(site(), `${B}-replication`, (i) => delete i.rules[0].sourceSelectionCriteria),
    message:
      `bucket ${BUCKET} replication rule to-peer skips SSE-KMS objects (every backup is one): set ` +
      `sourceSelectionCriteria.sseKmsEncryptedObjects.status "Enabled"`,
    blamed: [T.replication, `${B}-replication`],
  },
  {
    rule: "dr-s3-bucket-replication-rtc",
    change: "replica key in the source region",
    resources: () =>
      mutate(
        site(),
        `${B}-replication`,
        (i) => (i.rules[0].destination.encryptionConfiguration.replicaKmsKeyId = KEY_ARN),
      ),
    message:
      `bucket ${BUCKET} replication rule to-peer re-encrypts with ${KEY_ARN}, a key in this bucket's ` +
      `own region us-east-1; the replica must land in the peer region, under the peer's key`,
    blamed: [T.replication, `${B}-replication`],
  },
  {
    rule: "dr-s3-bucket-replication-rtc",
    change: "only daily/ replicated",
    resources: () =>
      mutate(site(), `${B}-replication`, (i) => (i.rules[0].filter = { prefix: "daily/" })),
    message:
      `backup bucket ${BUCKET} does not replicate weekly/, monthly/, pre-restore/: add an enabled rule covering ` +
      `every tier (an empty filter prefix covers the whole bucket)`,
    blamed: [T.replication, `${B}-replication`],
  },
  {
    rule: "dr-rds-instance-backups-replicated",
    change: "no automated-backups replication",
    resources: () => drop(site(), "acme-dr-use1-pg-backups-usw2"),
    message:
      "primary instance acme-dr-use1-pg has no InstanceAutomatedBackupsReplication: replicate its " +
      "automated backups to the peer region",
    blamed: [T.db, "acme-dr-use1-pg"],
  },
  {
    rule: "dr-rds-instance-backups-replicated",
    change: "replicated into its own region",
    resources: () =>
      mutate(site(), "acme-dr-use1-pg-backups-usw2", (i) => (i.region = "us-east-1")),
    message:
      "automated backups of acme-dr-use1-pg are replicated to us-east-1, not another region; set " +
      "region to the peer region",
    blamed: [T.dbBackups, "acme-dr-use1-pg-backups-usw2"],
  },
  {
    rule: "dr-rds-instance-primary-deletion-protection",
    change: "deletion protection off",
    resources: () => mutate(site(), "acme-dr-use1-pg", (i) => (i.deletionProtection = false)),
    message: "primary instance acme-dr-use1-pg has deletionProtection off; set it to true",
    blamed: [T.db, "acme-dr-use1-pg"],
  },
  {
    rule: "dr-rds-instance-primary-multi-az",
    change: "single-AZ",
    resources: () => mutate(site(), "acme-dr-use1-pg", (i) => (i.multiAz = false)),
    message: "primary instance acme-dr-use1-pg is not Multi-AZ; set multiAz to true",
    blamed: [T.db, "acme-dr-use1-pg"],
  },
  {
    rule: "dr-rds-instance-not-public",
    change: "publicly accessible",
    resources: () => mutate(site(), "acme-dr-use1-pg", (i) => (i.publiclyAccessible = true)),
    message:
      "publiclyAccessible is true; set it to false and reach the database from inside the VPC",
    blamed: [T.db, "acme-dr-use1-pg"],
  },
  {
    rule: "dr-s3-bucket-public-access-block",
    change: "restrictPublicBuckets off",
    resources: () => mutate(site(), `${B}-pab`, (i) => (i.restrictPublicBuckets = false)),
    message: `bucket ${BUCKET}'s public access block leaves restrictPublicBuckets off; set all four to true`,
    blamed: [T.pab, `${B}-pab`],
  },
  // --- DNS
  {
    rule: "dr-route53-record-primary-health-check",
    change: "no health check",
    resources: () => mutate(site(), "acme-dr-use1-dns", (i) => delete i.healthCheckId),
    message:
      "PRIMARY failover record app.acme-dr.example.com has no healthCheckId; without one Route 53 " +
      "never fails over, so attach the site's health check",
    blamed: [T.record, "acme-dr-use1-dns"],
  },
  {
    rule: "dr-route53-record-alias-no-ttl",
    change: "alias with a TTL",
    resources: () => mutate(site(), "acme-dr-use1-dns", (i) => (i.ttl = 60)),
    message:
      "alias record app.acme-dr.example.com sets ttl 60; remove it (an alias uses its target's TTL)",
    blamed: [T.record, "acme-dr-use1-dns"],
  },
  // --- advisory
  {
    rule: "dr-kubernetes-cronjob-hygiene",
    change: "concurrent runs allowed",
    resources: () =>
      mutate(site(), "acme-dr-use1-backup-daily", (i) => (i.spec.concurrencyPolicy = "Allow")),
    message: 'CronJob drctl-backup-daily has concurrencyPolicy Allow; set "Forbid"',
    blamed: [T.cronJob, "acme-dr-use1-backup-daily"],
    level: "advisory",
  },
  {
    rule: "dr-kubernetes-cronjob-hygiene",
    change: "may run as root",
    resources: () =>
      mutate(
        site(),
        "acme-dr-use1-backup-daily",
        (i) => delete i.spec.jobTemplate.spec.template.spec.securityContext.runAsNonRoot,
      ),
    message:
      "CronJob drctl-backup-daily container drctl may run as root; set securityContext.runAsNonRoot true",
    blamed: [T.cronJob, "acme-dr-use1-backup-daily"],
    level: "advisory",
  },
  {
    rule: "dr-kubernetes-cronjob-hygiene",
    change: "no memory limit",
    resources: () =>
      mutate(
        site(),
        "acme-dr-use1-backup-daily",
        (i) => delete i.spec.jobTemplate.spec.template.spec.containers[0].resources.limits,
      ),
    message:
      "CronJob drctl-backup-daily container drctl does not set resources (requests.cpu, " +
      "requests.memory and limits.memory)",
    blamed: [T.cronJob, "acme-dr-use1-backup-daily"],
    level: "advisory",
  },
  ...PROTECTION_CASES,
];

describe("dr-stack-guard rules over a compliant primary site", () => {
  it("the compliant fixture passes every rule", async () => {
    expect(await violations(site())).toEqual([]);
  });

  it("has a mutation case for every rule in the pack", () => {
    const covered = new Set(CASES.map((c) => c.rule));
    expect(policies.map((p) => p.name).filter((n) => !covered.has(n))).toEqual([]);
    expect(policies).toHaveLength(31);
  });

  it.each(CASES)("$rule: $change", async (c) => {
    expect(await violations(c.resources())).toEqual([
      {
        policy: c.rule,
        level: c.level ?? "mandatory",
        message: c.message,
        urn: urnOf(c.blamed[0], c.blamed[1]),
      },
    ]);
  });
});

describe("the primary-role signal (policies/lib/role.ts)", () => {
  /** The same site as a standby: its database a replica of the peer's, no outbound replication. */
  function standbySite(): EvaluatedResource[] {
    const resources = drop(drop(site(), `${B}-replication`), "acme-dr-use1-pg-backups-usw2");
    return mutate(resources, "acme-dr-use1-pg", (i) => {
      i.replicateSourceDb = "arn:aws:rds:us-west-2:111122223333:db:acme-dr-usw2-pg";
      delete i.backupRetentionPeriod;
      i.multiAz = false;
      delete i.storageEncrypted;
    });
  }

  it("holds a standby to none of the primary's promises", async () => {
    expect(await violations(standbySite())).toEqual([]);
  });

  it("lets phase 1 of a promotion (a detached replica, retention 0) through", async () => {
    const promoting = mutate(
      drop(drop(site(), `${B}-replication`), "acme-dr-use1-pg-backups-usw2"),
      "acme-dr-use1-pg",
      (i) => {
        delete i.username;
        delete i.manageMasterUserPassword;
        i.backupRetentionPeriod = 0;
        i.multiAz = false;
      },
    );
    expect(await violations(promoting)).toEqual([]);
  });

  it("does not mistake a source instance with backups off for a promotion", async () => {
    const found = await violations(
      mutate(site(), "acme-dr-use1-pg", (i) => (i.backupRetentionPeriod = 0)),
    );
    expect(found.map((v) => [v.policy, v.message])).toEqual([
      [
        "dr-rds-instance-backup-retention",
        "backupRetentionPeriod is 0; a source instance must keep automated backups at least 7 days",
      ],
    ]);
  });

  it("holds a fenced old primary (read-only parameter group) to none of them either", async () => {
    const fenced = mutate(
      drop(drop(site(), `${B}-replication`), "acme-dr-use1-pg-backups-usw2"),
      "acme-dr-use1-pg-params",
      (i) => i.parameters.push({ name: "default_transaction_read_only", value: "1" }),
    );
    expect(await violations(fenced)).toEqual([]);
  });

  it("still checks a replication configuration a non-primary site keeps, for RTC", async () => {
    const resources = mutate(
      mutate(site(), `${B}-replication`, (i) => delete i.rules[0].destination.metrics),
      "acme-dr-use1-pg",
      (i) => (i.replicateSourceDb = "arn:aws:rds:us-west-2:111122223333:db:acme-dr-usw2-pg"),
    );
    expect((await violations(resources)).map((v) => v.message)).toEqual([
      `bucket ${BUCKET} replication rule to-peer lacks replication metrics, which RTC requires: set ` +
        `destination.metrics {status "Enabled", eventThreshold.minutes 15}`,
    ]);
  });

  it("links split resources by property dependency when the bucket's name is not yet known", async () => {
    const resources = mutate(site(), B, (i) => delete i.bucket).map((r) =>
      r.type === T.sse ? { ...r, inputs: { ...r.inputs, bucket: "computed-later" } } : r,
    );
    expect(await violations(resources)).toEqual([]);
  });

  it("replication to a bucket of the same site is refused", async () => {
    const resources = mutate(
      site(),
      `${B}-replication`,
      (i) => (i.rules[0].destination.bucket = `arn:aws:s3:::${BUCKET}`),
    );
    expect((await violations(resources)).map((v) => v.message)).toEqual([
      `bucket ${BUCKET} replication rule to-peer targets arn:aws:s3:::${BUCKET}, a bucket of this ` +
        `same site; replicate to the peer region's backup bucket`,
    ]);
    expect(PEER_BUCKET).not.toBe(BUCKET);
    expect(DB_ARN).toContain(":db:acme-dr-use1-pg");
  });
});

describe("thresholds come from the pack config", () => {
  it("a stricter daily floor makes the 7-day daily tier a violation", async () => {
    const found = await evaluate(policies, site(), {
      config: { "dr-s3-bucket-tier-lifecycle": { dailyDays: 14 } },
    });
    expect(found.map((v) => v.message)).toEqual([
      `backup bucket ${BUCKET}: lifecycle rule "daily-expiry" expires daily/ objects after 7 days; ` +
        `the daily tier must keep them at least 14 days`,
    ]);
  });

  it("an enforcement level from the config overrides the rule's", async () => {
    const found = await evaluate(
      policies,
      mutate(site(), "acme-dr-use1-pg", (i) => (i.multiAz = false)),
      { config: { "dr-rds-instance-primary-multi-az": { enforcementLevel: "advisory" } } },
    );
    expect(found.map((v) => [v.policyName, v.enforcementLevel])).toEqual([
      ["dr-rds-instance-primary-multi-az", "advisory"],
    ]);
  });

  it("every configurable rule declares a default for each threshold", () => {
    for (const p of policies) {
      for (const [key, prop] of Object.entries(p.configSchema?.properties ?? {})) {
        expect(prop.default, `${p.name}.${key}`).toBeDefined();
      }
    }
  });
});
