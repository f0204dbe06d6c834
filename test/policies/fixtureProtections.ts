import type { EvaluatedResource } from "../../policies/evaluate";
import { ACCOUNT, BUCKET, onBucket, res, T, urnOf } from "./fixtureBase";

/**
 * The protections of issue 16 in the compliant site, in the shapes contracts C4 and C5 fix and
 * the key policy, vault lock and job identities docs/architecture.md §4 and §8 describe.
 */

export const BREAK_GLASS = `arn:aws:iam::${ACCOUNT}:role/acme-dr-break-glass`;
export const JOB_ROLE = "acme-dr-use1-backup-writer";
const OIDC = "oidc.eks.us-east-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF";

/** C4: S3's "enforce conditional writes" statement, for the prefixes backups lie under. */
export const CREATE_ONLY_STATEMENT = {
  Sid: "DenyUnconditionalBackupWrites",
  Effect: "Deny",
  Principal: "*",
  Action: "s3:PutObject",
  Resource: ["daily", "weekly", "monthly", "pre-restore"].map(
    (t) => `arn:aws:s3:::${BUCKET}/${t}/*`,
  ),
  Condition: {
    Null: { "s3:if-none-match": "true" },
    Bool: { "s3:ObjectCreationOperation": "true" },
  },
};

/** C4 and C5: what the daily backup CronJob's drctl container gets. */
export const DATABASE_ENV = [
  { name: "DRCTL_STORE", value: `s3://${BUCKET}/` },
  { name: "DRCTL_TIER", value: "daily" },
  { name: "DRCTL_OBJECT_LOCK_MODE", value: "GOVERNANCE" },
  { name: "DRCTL_OBJECT_LOCK_DAYS", value: "7" },
  { name: "PGHOST", value: "acme-dr-use1-pg.abcdefghij.us-east-1.rds.amazonaws.com" },
  { name: "PGSSLMODE", value: "verify-full" },
  { name: "PGSSLROOTCERT", value: "/etc/drctl/rds-ca.pem" },
];

export const KEY_POLICY = {
  Version: "2012-10-17",
  Statement: [
    {
      Sid: "AccountAdministers",
      Effect: "Allow",
      Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` },
      Action: "kms:*",
      Resource: "*",
    },
    {
      Sid: "OnlyBreakGlassDestroys",
      Effect: "Deny",
      Principal: "*",
      Action: [
        "kms:ScheduleKeyDeletion",
        "kms:DisableKey",
        "kms:PutKeyPolicy",
        "kms:UpdateAlias",
        "kms:DeleteAlias",
      ],
      Resource: "*",
      Condition: { ArnNotEquals: { "aws:PrincipalArn": BREAK_GLASS } },
    },
  ],
};

export const JOB_POLICY = {
  Version: "2012-10-17",
  Statement: [
    {
      Sid: "CreateBackups",
      Effect: "Allow",
      Action: ["s3:PutObject", "s3:PutObjectRetention", "s3:AbortMultipartUpload"],
      Resource: ["daily", "weekly", "monthly"].map((t) => `arn:aws:s3:::${BUCKET}/${t}/*`),
    },
    {
      Sid: "ReadBackupLogin",
      Effect: "Allow",
      Action: "secretsmanager:GetSecretValue",
      Resource: `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:acme-dr-use1/db/backup-AbCdEf`,
    },
  ],
};

/** Resources the site gains for issue 16 (the key policy and CronJob env are in fixtures.ts). */
export function protections(): EvaluatedResource[] {
  const roleUrn = urnOf(T.role, JOB_ROLE);
  return [
    res(
      T.versioning,
      "acme-dr-use1-backups-versioning",
      { region: "us-east-1", bucket: BUCKET, versioningConfiguration: { status: "Enabled" } },
      onBucket,
    ),
    res(
      T.objectLock,
      "acme-dr-use1-backups-object-lock",
      {
        region: "us-east-1",
        bucket: BUCKET,
        objectLockEnabled: "Enabled",
        rule: { defaultRetention: { mode: "GOVERNANCE", days: 7 } },
      },
      onBucket,
    ),
    res(T.role, JOB_ROLE, {
      name: JOB_ROLE,
      assumeRolePolicy: JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          {
            Effect: "Allow",
            Principal: { Federated: `arn:aws:iam::${ACCOUNT}:oidc-provider/${OIDC}` },
            Action: "sts:AssumeRoleWithWebIdentity",
            Condition: {
              StringEquals: {
                [`${OIDC}:sub`]: "system:serviceaccount:dr-backup:drctl-backup",
                [`${OIDC}:aud`]: "sts.amazonaws.com",
              },
            },
          },
        ],
      }),
    }),
    res(
      T.rolePolicy,
      `${JOB_ROLE}-policy`,
      { name: "drctl-backup", role: JOB_ROLE, policy: JSON.stringify(JOB_POLICY) },
      { role: [roleUrn] },
    ),
  ];
}
