import type { EvaluatedResource } from "../../policies/evaluate";
import { ACCOUNT, BUCKET, drop, mutate, primarySite as site, T } from "./fixtures";
import { BREAK_GLASS, JOB_ROLE } from "./fixtureProtections";

/** One mutation of the compliant site and the one violation the whole pack must then report. */
export interface Case {
  readonly rule: string;
  readonly change: string;
  readonly resources: () => EvaluatedResource[];
  readonly message: string;
  /** Name and type of the resource blamed. */
  readonly blamed: [type: string, name: string];
  readonly level?: "mandatory" | "advisory";
}

const B = "acme-dr-use1-backups";
const CRON = "acme-dr-use1-backup-daily";
const KEY = "acme-dr-use1-key";
const AT = "CronJob drctl-backup-daily (daily backups, container drctl)";

/** Sets one env var of the daily CronJob's drctl container (or removes it with `undefined`). */
const cronEnv = (name: string, value: string | undefined) =>
  mutate(site(), CRON, (i) => {
    const c = i.spec.jobTemplate.spec.template.spec.containers[0];
    c.env = c.env.flatMap((e: { name: string }) =>
      e.name !== name ? [e] : value === undefined ? [] : [{ name, value }],
    );
  });

/** Edits the parsed JSON document at `inputs[prop]` of resource `name`. */
const editDoc = (name: string, prop: string, change: (doc: any) => void) =>
  mutate(site(), name, (i) => {
    const doc = JSON.parse(i[prop]);
    change(doc);
    i[prop] = JSON.stringify(doc);
  });

const createOnly = (change: (s: any) => void) =>
  editDoc(`${B}-policy`, "policy", (d) => change(d.Statement[1]));

const keyDeny = (change: (s: any) => void) => editDoc(KEY, "policy", (d) => change(d.Statement[1]));

const ADD_DENY =
  '{"Effect":"Deny","Principal":"*","Action":["kms:ScheduleKeyDeletion","kms:DisableKey",' +
  '"kms:PutKeyPolicy","kms:UpdateAlias","kms:DeleteAlias"],"Resource":"*","Condition":' +
  '{"ArnNotEquals":{"aws:PrincipalArn":' +
  '"<break-glass role ARN>"}}}';

export const PROTECTION_CASES: Case[] = [
  {
    rule: "dr-s3-bucket-versioning",
    change: "versioning suspended",
    resources: () =>
      mutate(site(), `${B}-versioning`, (i) => (i.versioningConfiguration.status = "Suspended")),
    message:
      `backup bucket ${BUCKET} has versioning Suspended; set versioningConfiguration.status ` +
      `"Enabled" (a suspended bucket overwrites in place)`,
    blamed: [T.versioning, `${B}-versioning`],
  },
  {
    rule: "dr-s3-bucket-versioning",
    change: "no versioning resource",
    resources: () => drop(site(), `${B}-versioning`),
    message: `backup bucket ${BUCKET} has no BucketVersioning: add one with versioningConfiguration.status "Enabled"`,
    blamed: [T.bucket, B],
  },
  {
    rule: "dr-s3-bucket-object-lock",
    change: "no Object Lock",
    resources: () => drop(site(), `${B}-object-lock`),
    message:
      `backup bucket ${BUCKET} has no BucketObjectLockConfiguration: add one with ` +
      `rule.defaultRetention { mode "GOVERNANCE" or "COMPLIANCE", days at least 7 }`,
    blamed: [T.bucket, B],
  },
  {
    rule: "dr-s3-bucket-object-lock",
    change: "default retention 3 days",
    resources: () => mutate(site(), `${B}-object-lock`, (i) => (i.rule.defaultRetention.days = 3)),
    message: `backup bucket ${BUCKET}'s default retention is 3 days; lock new versions at least 7 days`,
    blamed: [T.objectLock, `${B}-object-lock`],
  },
  {
    rule: "dr-s3-bucket-object-lock",
    change: "no default retention",
    resources: () => mutate(site(), `${B}-object-lock`, (i) => delete i.rule),
    message:
      `backup bucket ${BUCKET} has Object Lock without a default retention: set ` +
      `rule.defaultRetention so that no new object version is left unlocked`,
    blamed: [T.objectLock, `${B}-object-lock`],
  },
  {
    rule: "dr-kubernetes-cronjob-object-lock-days",
    change: "locked 5 days",
    resources: () => cronEnv("DRCTL_OBJECT_LOCK_DAYS", "5"),
    message:
      `${AT} sets DRCTL_OBJECT_LOCK_DAYS "5"; lifecycle rule "daily-expiry" of ${BUCKET} keeps ` +
      `daily backups 7 days, so set it to at least 7`,
    blamed: [T.cronJob, CRON],
  },
  {
    rule: "dr-kubernetes-cronjob-object-lock-days",
    change: "lifecycle keeps daily/ 10 days, the lock still 7",
    resources: () => mutate(site(), `${B}-lifecycle`, (i) => (i.rules[0].expiration.days = 10)),
    message:
      `${AT} sets DRCTL_OBJECT_LOCK_DAYS "7"; lifecycle rule "daily-expiry" of ${BUCKET} keeps ` +
      `daily backups 10 days, so set it to at least 10`,
    blamed: [T.cronJob, CRON],
  },
  {
    rule: "dr-kubernetes-cronjob-object-lock-days",
    change: "no lock mode",
    resources: () => cronEnv("DRCTL_OBJECT_LOCK_MODE", undefined),
    message:
      `${AT} sets DRCTL_OBJECT_LOCK_MODE to no literal value; set it to "GOVERNANCE" or ` +
      `"COMPLIANCE" so that drctl locks every object it writes`,
    blamed: [T.cronJob, CRON],
  },
  {
    rule: "dr-s3-bucket-create-only",
    change: "no multipart exemption",
    resources: () => createOnly((s) => delete s.Condition.Bool),
    message:
      `backup bucket ${BUCKET}'s policy denies PutObject without If-None-Match under daily/, ` +
      `weekly/, monthly/, pre-restore/ but does not exempt multipart steps, so every multipart upload fails at ` +
      `its first part: add "Bool":{"s3:ObjectCreationOperation":"true"} to that condition`,
    blamed: [T.bucket, B],
  },
  {
    rule: "dr-s3-bucket-create-only",
    change: "only daily/ protected",
    resources: () => createOnly((s) => (s.Resource = s.Resource.slice(0, 1))),
    message:
      `backup bucket ${BUCKET}'s policy does not refuse overwrites under weekly/, monthly/, ` +
      `pre-restore/: add {"Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":` +
      `["arn:aws:s3:::${BUCKET}/weekly/*","arn:aws:s3:::${BUCKET}/monthly/*",` +
      `"arn:aws:s3:::${BUCKET}/pre-restore/*"],"Condition":{"Null":{"s3:if-none-match":"true"},` +
      `"Bool":{"s3:ObjectCreationOperation":"true"}}}`,
    blamed: [T.bucket, B],
  },
  {
    rule: "dr-s3-bucket-create-only",
    change: "pre-restore/ left out",
    resources: () => createOnly((s) => (s.Resource = s.Resource.slice(0, 3))),
    message:
      `backup bucket ${BUCKET}'s policy does not refuse overwrites under pre-restore/: add ` +
      `{"Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":` +
      `["arn:aws:s3:::${BUCKET}/pre-restore/*"],"Condition":{"Null":{"s3:if-none-match":"true"},` +
      `"Bool":{"s3:ObjectCreationOperation":"true"}}}`,
    blamed: [T.bucket, B],
  },
  {
    rule: "dr-s3-bucket-create-only",
    change: "Null condition inverted",
    resources: () => createOnly((s) => (s.Condition.Null["s3:if-none-match"] = "false")),
    message:
      `backup bucket ${BUCKET}'s policy does not refuse overwrites under daily/, weekly/, monthly/, ` +
      `pre-restore/: add {"Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":` +
      `["arn:aws:s3:::${BUCKET}/daily/*","arn:aws:s3:::${BUCKET}/weekly/*",` +
      `"arn:aws:s3:::${BUCKET}/monthly/*","arn:aws:s3:::${BUCKET}/pre-restore/*"],"Condition":{"Null":` +
      `{"s3:if-none-match":"true"},"Bool":{"s3:ObjectCreationOperation":"true"}}}`,
    blamed: [T.bucket, B],
  },
  {
    rule: "dr-backup-vault-locked",
    change: "no vault lock",
    resources: () => drop(site(), "acme-dr-use1-vault-lock"),
    message:
      "backup vault acme-dr-use1-vault has no VaultLockConfiguration: add one with " +
      "minRetentionDays at least 7 and changeableForDays (compliance mode)",
    blamed: [T.vault, "acme-dr-use1-vault"],
  },
  {
    rule: "dr-backup-vault-locked",
    change: "governance-mode lock",
    resources: () => mutate(site(), "acme-dr-use1-vault-lock", (i) => delete i.changeableForDays),
    message:
      "backup vault acme-dr-use1-vault's lock is in governance mode (no changeableForDays), which " +
      "anyone allowed backup:DeleteBackupVaultLockConfiguration can remove; set changeableForDays " +
      "(at least 3) for compliance mode",
    blamed: [T.lock, "acme-dr-use1-vault-lock"],
  },
  {
    rule: "dr-backup-vault-locked",
    change: "no minimum retention",
    resources: () => mutate(site(), "acme-dr-use1-vault-lock", (i) => delete i.minRetentionDays),
    message:
      "backup vault acme-dr-use1-vault's lock has minRetentionDays unset; set it to at least 7 so " +
      "that no recovery point can be deleted sooner",
    blamed: [T.lock, "acme-dr-use1-vault-lock"],
  },
  {
    rule: "dr-kms-key-deletion-protection",
    change: "PutKeyPolicy not denied",
    resources: () =>
      keyDeny((s) => (s.Action = (s.Action as string[]).filter((a) => a !== "kms:PutKeyPolicy"))),
    message:
      "the key policy does not deny kms:PutKeyPolicy to all but a break-glass principal: add " +
      ADD_DENY,
    blamed: [T.key, KEY],
  },
  {
    rule: "dr-kms-key-deletion-protection",
    change: "wildcard break-glass exemption",
    resources: () =>
      keyDeny(
        (s) => (s.Condition.ArnNotEquals["aws:PrincipalArn"] = BREAK_GLASS.replace(/[^/]+$/, "*")),
      ),
    message:
      "the key policy does not deny kms:ScheduleKeyDeletion, kms:DisableKey, kms:PutKeyPolicy, " +
      'kms:UpdateAlias, kms:DeleteAlias to all but a break-glass principal (the nearest Deny has an exemption of "arn:aws:iam::' +
      '111122223333:role/*", a wildcard that can match many principals): add ' +
      ADD_DENY,
    blamed: [T.key, KEY],
  },
  {
    rule: "dr-kms-key-deletion-protection",
    change: "Deny without the alias actions",
    resources: () =>
      keyDeny(
        (s) =>
          (s.Action = (s.Action as string[]).filter(
            (a) => a !== "kms:UpdateAlias" && a !== "kms:DeleteAlias",
          )),
      ),
    message:
      "the key policy does not deny kms:UpdateAlias, kms:DeleteAlias to all but a break-glass " +
      "principal: add " +
      ADD_DENY,
    blamed: [T.key, KEY],
  },
  {
    rule: "dr-kms-key-deletion-protection",
    change: "7-day deletion window",
    resources: () => mutate(site(), KEY, (i) => (i.deletionWindowInDays = 7)),
    message:
      "deletionWindowInDays is 7; set it to at least 30 so that a deletion scheduled by mistake " +
      "can still be cancelled",
    blamed: [T.key, KEY],
  },
  {
    rule: "dr-kms-key-deletion-protection",
    change: "no key policy",
    resources: () => mutate(site(), KEY, (i) => delete i.policy),
    message:
      "the key has no policy, so KMS gives it the default one, which lets any account " +
      "administrator schedule its deletion; set a policy that denies kms:ScheduleKeyDeletion, " +
      "kms:DisableKey, kms:PutKeyPolicy, kms:UpdateAlias, kms:DeleteAlias to all but the " +
      "break-glass principal",
    blamed: [T.key, KEY],
  },
  {
    rule: "dr-iam-role-job-no-delete",
    change: "job role may DeleteObjectVersion",
    resources: () =>
      editDoc(`${JOB_ROLE}-policy`, "policy", (d) =>
        d.Statement[0].Action.push("s3:DeleteObjectVersion"),
      ),
    message:
      `job role ${JOB_ROLE}, inline policy drctl-backup allows s3:DeleteObjectVersion, which ` +
      "grants *:Delete*; a job identity never deletes or loosens a backup: remove it",
    blamed: [T.rolePolicy, `${JOB_ROLE}-policy`],
  },
  {
    rule: "dr-iam-role-job-no-delete",
    change: "job role may s3:*",
    resources: () =>
      editDoc(`${JOB_ROLE}-policy`, "policy", (d) => (d.Statement[0].Action = "s3:*")),
    message:
      `job role ${JOB_ROLE}, inline policy drctl-backup allows s3:*, which grants *:Delete*, ` +
      "s3:BypassGovernanceRetention, s3:PutLifecycleConfiguration, s3:PutBucketPolicy, " +
      "s3:PutBucketVersioning, s3:PutBucketObjectLockConfiguration; a job identity never deletes " +
      "or loosens a backup: remove it",
    blamed: [T.rolePolicy, `${JOB_ROLE}-policy`],
  },
  {
    rule: "dr-iam-role-job-no-delete",
    change: "job role may bypass governance retention",
    resources: () =>
      editDoc(`${JOB_ROLE}-policy`, "policy", (d) =>
        d.Statement[0].Action.push("s3:BypassGovernanceRetention"),
      ),
    message:
      `job role ${JOB_ROLE}, inline policy drctl-backup allows s3:BypassGovernanceRetention, ` +
      "which grants s3:BypassGovernanceRetention; a job identity never deletes or loosens a " +
      "backup: remove it",
    blamed: [T.rolePolicy, `${JOB_ROLE}-policy`],
  },
  {
    rule: "dr-iam-role-job-no-master-secret",
    change: "job role may read any secret",
    resources: () =>
      editDoc(`${JOB_ROLE}-policy`, "policy", (d) => (d.Statement[1].Resource = "*")),
    message:
      `job role ${JOB_ROLE}, inline policy drctl-backup lets it read secrets matching *, which ` +
      "includes the database master secret; name only the backup login's secret ARN",
    blamed: [T.rolePolicy, `${JOB_ROLE}-policy`],
  },
  {
    rule: "dr-iam-role-job-no-master-secret",
    change: "job role reads the master secret",
    resources: () =>
      editDoc(
        `${JOB_ROLE}-policy`,
        "policy",
        (d) =>
          (d.Statement[1].Resource = `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:acme-dr-use1/db/master-XyZ123`),
      ),
    message:
      `job role ${JOB_ROLE}, inline policy drctl-backup lets it read secrets matching ` +
      `arn:aws:secretsmanager:us-east-1:${ACCOUNT}:secret:acme-dr-use1/db/master-XyZ123, which ` +
      "includes the database master secret; name only the backup login's secret ARN",
    blamed: [T.rolePolicy, `${JOB_ROLE}-policy`],
  },
  {
    rule: "dr-kubernetes-cronjob-database-tls",
    change: "sslmode require",
    resources: () => cronEnv("PGSSLMODE", "require"),
    message:
      'CronJob drctl-backup-daily container drctl connects to the database with PGSSLMODE "require", ' +
      'which does not verify the server; set PGSSLMODE "verify-full"',
    blamed: [T.cronJob, CRON],
  },
  {
    rule: "dr-kubernetes-cronjob-database-tls",
    change: "no root certificate",
    resources: () => cronEnv("PGSSLROOTCERT", undefined),
    message:
      "CronJob drctl-backup-daily container drctl sets PGSSLROOTCERT to no literal value; set it " +
      'to "/etc/drctl/rds-ca.pem", the RDS CA bundle in the drctl image',
    blamed: [T.cronJob, CRON],
  },
];
