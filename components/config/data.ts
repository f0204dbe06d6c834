import { z } from "zod";
import { awsCron, cidr, NAMESPACE, removedKey, ROLES } from "./primitives";

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
     * roles so the move can be checked (components/dbTransition.ts). Unset means "no move".
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
    vaultLock: z
      .strictObject({
        changeableForDays: z.number().int().min(3),
        minRetentionDays: z.number().int().min(1).default(7),
        maxRetentionDays: z.number().int().min(1).default(3650),
      })
      .optional(),
  })
  .prefault({});

export const storageSchema = z
  .strictObject({
    retentionDays: z
      .strictObject({
        daily: z.number().int().default(7),
        weekly: z.number().int().default(28),
        monthly: z.number().int().default(365),
        reports: z.number().int().min(30).default(365),
      })
      .prefault({}),
    noncurrentVersionExpirationDays: z.number().int().min(1).default(30),
    objectLock: z
      .strictObject({ mode: z.enum(["GOVERNANCE", "COMPLIANCE"]), days: z.number().int().min(1) })
      .optional(),
    replicationStorageClass: z
      .enum(["STANDARD", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER_IR"])
      .default("STANDARD"),
    replicateToPeer: removedKey(PEER_LINKS),
  })
  .prefault({});
