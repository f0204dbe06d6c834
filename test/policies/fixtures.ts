import type { EvaluatedResource } from "../../policies/evaluate";
import {
  ACCOUNT,
  BUCKET,
  DB_ARN,
  KEY_ARN,
  onBucket,
  PEER_BUCKET,
  PEER_KEY_ALIAS,
  res,
  T,
  urnOf,
} from "./fixtureBase";
import { CREATE_ONLY_STATEMENT, DATABASE_ENV, KEY_POLICY, protections } from "./fixtureProtections";

export * from "./fixtureBase";

/**
 * A compliant PRIMARY site, written as the resources a stack registers (inputs, URNs, property
 * dependencies), independent of the components so that each rule's test can change exactly one
 * property. Every mutation test starts from `primarySite()` and asserts that the whole pack then
 * reports exactly one violation, with its exact message.
 */

const tier = (t: string, days: number) => ({
  id: `${t}-expiry`,
  status: "Enabled",
  filter: { prefix: `${t}/` },
  expiration: { days },
  noncurrentVersionExpiration: { noncurrentDays: 30 },
});

export function primarySite(): EvaluatedResource[] {
  return [
    res(T.key, "acme-dr-use1-key", {
      region: "us-east-1",
      enableKeyRotation: true,
      deletionWindowInDays: 30,
      policy: JSON.stringify(KEY_POLICY),
    }),
    res(T.bucket, "acme-dr-use1-backups", { region: "us-east-1", bucket: BUCKET }),
    res(
      T.sse,
      "acme-dr-use1-backups-sse",
      {
        region: "us-east-1",
        bucket: BUCKET,
        rules: [
          {
            applyServerSideEncryptionByDefault: {
              sseAlgorithm: "aws:kms",
              kmsMasterKeyId: KEY_ARN,
            },
            bucketKeyEnabled: true,
          },
        ],
      },
      onBucket,
    ),
    res(
      T.lifecycle,
      "acme-dr-use1-backups-lifecycle",
      {
        region: "us-east-1",
        bucket: BUCKET,
        rules: [
          tier("daily", 7),
          tier("weekly", 28),
          tier("monthly", 365),
          tier("pre-restore", 7),
          {
            id: "abort-incomplete-uploads",
            status: "Enabled",
            filter: {},
            abortIncompleteMultipartUpload: { daysAfterInitiation: 1 },
          },
        ],
      },
      onBucket,
    ),
    res(
      T.pab,
      "acme-dr-use1-backups-pab",
      {
        region: "us-east-1",
        bucket: BUCKET,
        blockPublicAcls: true,
        blockPublicPolicy: true,
        ignorePublicAcls: true,
        restrictPublicBuckets: true,
      },
      onBucket,
    ),
    res(
      T.policy,
      "acme-dr-use1-backups-policy",
      {
        region: "us-east-1",
        bucket: BUCKET,
        policy: JSON.stringify({
          Version: "2012-10-17",
          Statement: [
            {
              Sid: "DenyInsecureTransport",
              Effect: "Deny",
              Principal: "*",
              Action: "s3:*",
              Resource: [`arn:aws:s3:::${BUCKET}`, `arn:aws:s3:::${BUCKET}/*`],
              Condition: { Bool: { "aws:SecureTransport": "false" } },
            },
            CREATE_ONLY_STATEMENT,
          ],
        }),
      },
      onBucket,
    ),
    res(
      T.replication,
      "acme-dr-use1-backups-replication",
      {
        region: "us-east-1",
        bucket: BUCKET,
        role: `arn:aws:iam::${ACCOUNT}:role/acme-dr-use1-replication`,
        rules: [
          {
            id: "to-peer",
            status: "Enabled",
            filter: {},
            deleteMarkerReplication: { status: "Enabled" },
            sourceSelectionCriteria: { sseKmsEncryptedObjects: { status: "Enabled" } },
            destination: {
              bucket: `arn:aws:s3:::${PEER_BUCKET}`,
              storageClass: "STANDARD",
              encryptionConfiguration: { replicaKmsKeyId: PEER_KEY_ALIAS },
              replicationTime: { status: "Enabled", time: { minutes: 15 } },
              metrics: { status: "Enabled", eventThreshold: { minutes: 15 } },
            },
          },
        ],
      },
      onBucket,
    ),
    res(T.paramGroup, "acme-dr-use1-pg-params", {
      region: "us-east-1",
      name: "acme-dr-use1-pg",
      family: "postgres16",
      parameters: [{ name: "rds.force_ssl", value: "1" }],
    }),
    res(
      T.db,
      "acme-dr-use1-pg",
      {
        region: "us-east-1",
        identifier: "acme-dr-use1-pg",
        engine: "postgres",
        username: "dradmin",
        manageMasterUserPassword: true,
        storageEncrypted: true,
        kmsKeyId: KEY_ARN,
        backupRetentionPeriod: 14,
        multiAz: true,
        deletionProtection: true,
        publiclyAccessible: false,
        parameterGroupName: "acme-dr-use1-pg",
      },
      { parameterGroupName: [urnOf(T.paramGroup, "acme-dr-use1-pg-params")] },
    ),
    res(T.dbBackups, "acme-dr-use1-pg-backups-usw2", {
      region: "us-west-2",
      sourceDbInstanceArn: DB_ARN,
      kmsKeyId: PEER_KEY_ALIAS,
      retentionPeriod: 14,
    }),
    res(T.eks, "acme-dr-use1-eks", {
      region: "us-east-1",
      encryptionConfig: { provider: { keyArn: KEY_ARN }, resources: ["secrets"] },
    }),
    res(T.vault, "acme-dr-use1-vault", {
      region: "us-east-1",
      name: "acme-dr-use1-vault",
      kmsKeyArn: KEY_ARN,
    }),
    res(T.lock, "acme-dr-use1-vault-lock", {
      region: "us-east-1",
      backupVaultName: "acme-dr-use1-vault",
      changeableForDays: 3,
      minRetentionDays: 7,
      maxRetentionDays: 3650,
    }),
    res(T.plan, "acme-dr-use1-plan", {
      region: "us-east-1",
      name: "acme-dr-use1-plan",
      rules: (
        [
          ["daily", "cron(0 2 * * ? *)", 7],
          ["weekly", "cron(0 3 ? * SUN *)", 28],
          ["monthly", "cron(0 4 1 * ? *)", 365],
        ] as const
      ).map(([t, schedule, days]) => ({
        ruleName: t,
        targetVaultName: "acme-dr-use1-vault",
        schedule,
        lifecycle: { deleteAfter: days },
        copyActions: [
          {
            destinationVaultArn: `arn:aws:backup:us-west-2:${ACCOUNT}:backup-vault:acme-dr-usw2-vault`,
            lifecycle: { deleteAfter: days },
          },
        ],
      })),
    }),
    res(T.topic, "acme-dr-use1-alarms", {
      region: "us-east-1",
      name: "acme-dr-use1-dr-alarms",
      kmsMasterKeyId: KEY_ARN,
    }),
    res(T.record, "acme-dr-use1-dns", {
      zoneId: "Z0123456789ABCDEFGHIJ",
      name: "app.acme-dr.example.com",
      type: "A",
      setIdentifier: "acme-dr-use1",
      failoverRoutingPolicies: [{ type: "PRIMARY" }],
      healthCheckId: "7a1c2e3f-0000-4000-8000-0123456789ab",
      aliases: [
        {
          name: "use1-lb.elb.us-east-1.amazonaws.com",
          zoneId: "Z35SXDOTRQ7X7K",
          evaluateTargetHealth: true,
        },
      ],
    }),
    res(T.cronJob, "acme-dr-use1-backup-daily", {
      apiVersion: "batch/v1",
      kind: "CronJob",
      metadata: { name: "drctl-backup-daily", namespace: "dr-backup" },
      spec: {
        schedule: "0 2 * * *",
        concurrencyPolicy: "Forbid",
        jobTemplate: {
          spec: {
            template: {
              spec: {
                securityContext: { runAsNonRoot: true, runAsUser: 10001 },
                containers: [
                  {
                    name: "drctl",
                    image: "ghcr.io/dr-stack/drctl:0.1.0",
                    env: DATABASE_ENV,
                    resources: {
                      requests: { cpu: "250m", memory: "256Mi" },
                      limits: { memory: "512Mi" },
                    },
                  },
                ],
              },
            },
          },
        },
      },
    }),
    ...protections(),
  ];
}

/**
 * A copy of `resources` with the one named `name` changed by `change` (which edits its inputs in
 * place, or returns undefined from `drop` to remove the resource).
 */
export function mutate(
  resources: EvaluatedResource[],
  name: string,
  change: (inputs: any) => void,
): EvaluatedResource[] {
  const copy = structuredClone(resources);
  const target = copy.find((r) => r.name === name);
  if (!target) throw new Error(`no fixture resource ${name}`);
  change(target.inputs);
  return copy;
}

/** A copy of `resources` without the one named `name`. */
export function drop(resources: EvaluatedResource[], name: string): EvaluatedResource[] {
  if (!resources.some((r) => r.name === name)) throw new Error(`no fixture resource ${name}`);
  return resources.filter((r) => r.name !== name);
}
