import { z } from "zod";
import { awsCron, cidr, cron, NAMESPACE, removedKey, ROLES } from "./primitives";

/** The keys of the data tier: `database`, `awsBackup`, `storage`. */

const PEER_LINKS = `set the top-level ${NAMESPACE}:peerLinks instead (false while the peer region's resources do not exist or do not answer: the first deployment and a failover; docs/first-deployment.md)`;

export const databaseSchema = z
  .strictObject({
    engineVersion: z
      .string()
      .regex(/^\d+(\.\d+)?$/)
      .default("16"),
    instanceClass: z.string().startsWith("db.").default("db.r6g.large"),
    allocatedStorageGb: z.number().int().min(20).default(100),
    maxAllocatedStorageGb: z.number().int().min(20).default(500),
    backupRetentionDays: z.number().int().max(35).default(14),
    readReplicas: z.number().int().min(0).max(5).default(0),
    /** Lets `pulumi up` replace a protected data instance (failback). Off except during a rebuild. */
    allowRebuild: z.boolean().default(false),
    /**
     * The role deployed by the last successful update, set together with `role` when moving between
     * roles so the move can be checked (components/database/transition.ts). Unset means "no move".
     */
    previousRole: z.enum(ROLES).optional(),
    replicateBackupsToPeer: removedKey(PEER_LINKS),
    /** Create the backup and app roles with @pulumi/postgresql: needs network reach to the primary. */
    manageRoles: z.boolean().default(false),
    /**
     * Networks the deployer connects from when `manageRoles` is on (the database is private: a
     * VPN, a peered network, or the CIDR of a runner inside the VPC). Admitted on 5432.
     */
    adminCidrs: z.array(cidr).default([]),
    dbName: z
      .string()
      .regex(/^[a-z_][a-z0-9_]{0,62}$/)
      .default("app"),
    masterUsername: z
      .string()
      .regex(/^[a-z][a-z0-9_]{0,15}$/)
      .default("dradmin"),
  })
  .prefault({});

const backupRule = (schedule: string, deleteAfterDays: number) =>
  z
    .strictObject({
      schedule: awsCron.default(schedule),
      deleteAfterDays: z.number().int().default(deleteAfterDays),
      coldStorageAfterDays: z.number().int().optional(),
    })
    .prefault({});

export const awsBackupSchema = z
  .strictObject({
    daily: backupRule("cron(0 2 * * ? *)", 7),
    weekly: backupRule("cron(0 3 ? * SUN *)", 28),
    monthly: backupRule("cron(0 4 1 * ? *)", 365),
    /**
     * Vault lock on both sites' vaults, on by default. Once `changeableForDays` has passed the
     * lock is immutable (compliance mode): nobody, the account root included, can remove it or
     * delete a recovery point early. https://docs.aws.amazon.com/aws-backup/latest/devguide/vault-lock.html
     */
    vaultLock: z
      .strictObject({
        enabled: z.boolean().default(true),
        changeableForDays: z.number().int().min(3).default(7),
        minRetentionDays: z.number().int().min(1).default(7),
        maxRetentionDays: z.number().int().min(1).default(3650),
      })
      .prefault({}),
    /**
     * A logically air-gapped vault per site, and the peer's plan copies into it instead of the
     * standard vault. https://docs.aws.amazon.com/aws-backup/latest/devguide/logicallyairgappedvault.html
     */
    airGappedVault: z
      .strictObject({
        enabled: z.boolean().default(false),
        minRetentionDays: z.number().int().min(1).default(7),
        maxRetentionDays: z.number().int().min(1).default(3650),
      })
      .prefault({}),
  })
  .prefault({});

export const storageSchema = z
  .strictObject({
    retentionDays: z
      .strictObject({
        daily: z.number().int().default(7),
        weekly: z.number().int().default(28),
        monthly: z.number().int().default(365),
        /**
         * The safety backups a restore takes of what it replaces: how long a restore can be
         * undone. Written by the operator, never by a job (docs/backup-storage.md).
         */
        preRestore: z.number().int().default(7),
        reports: z.number().int().min(30).default(365),
      })
      .prefault({}),
    noncurrentVersionExpirationDays: z.number().int().min(1).default(30),
    /**
     * S3 Object Lock, on by default. `days` per tier default to that tier's retentionDays and may
     * not be shorter; drctl sets them on every object it writes (DRCTL_OBJECT_LOCK_DAYS), the
     * bucket's default retention (the shortest tier's days) covers anything else.
     */
    objectLock: z
      .strictObject({
        enabled: z.boolean().default(true),
        mode: z.enum(["GOVERNANCE", "COMPLIANCE"]).default("GOVERNANCE"),
        days: z
          .strictObject({
            daily: z.number().int().min(1).optional(),
            weekly: z.number().int().min(1).optional(),
            monthly: z.number().int().min(1).optional(),
            /** No longer than any other tier's: it is the bucket's default retention (index.ts). */
            preRestore: z.number().int().min(1).optional(),
          })
          .prefault({}),
      })
      .prefault({}),
    replicationStorageClass: z
      .enum(["STANDARD", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER_IR"])
      .default("STANDARD"),
    replicateToPeer: removedKey(PEER_LINKS),
  })
  .prefault({});

/** AWS Backup restore testing (components/restoreTesting/plan.ts, docs/restore-testing.md). */
const restoreTestSchema = (schedule: string, windowDays: number) =>
  z
    .strictObject({
      schedule: awsCron.default(schedule),
      windowDays: z.number().int().min(1).max(365).default(windowDays),
    })
    .prefault({});

export const restoreTestingSchema = z
  .strictObject({
    latest: restoreTestSchema("cron(0 8 3 * ? *)", 7),
    random: restoreTestSchema("cron(0 8 17 * ? *)", 365),
    startWindowHours: z.number().int().min(1).max(168).default(4),
    validationWindowHours: z.number().int().min(1).max(168).default(8),
    instanceClass: z.string().startsWith("db.").optional(),
    /** `drctl restore-test`, which validates the restored copies and publishes the alarms' metrics. */
    checkSchedule: cron.default("40 * * * *"),
    maxAgeDays: z.number().int().min(32).default(35),
  })
  .prefault({});
