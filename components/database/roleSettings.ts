import type * as pulumi from "@pulumi/pulumi";
import type { Role } from "../config";

/** What a role changes on the instance; everything else is identical in every role. */
export interface RoleSettings {
  readonly replicateSourceDb?: string;
  readonly multiAz: boolean;
  readonly backupRetentionPeriod: number;
  readonly skipFinalSnapshot: boolean;
  readonly finalSnapshotIdentifier?: string;
  readonly username?: string;
  readonly dbName?: string;
  readonly password?: pulumi.Input<string>;
}

/**
 * The role-dependent instance inputs, as one pure function so the diff of each move is exactly
 * what docs/failover.md lists (test/database/transitions.test.ts holds it to that).
 */
export function roleSettings(
  role: Role,
  o: {
    peerInstanceArn: string;
    backupRetentionDays: number;
    finalSnapshotIdentifier: string;
    dbName: string;
    masterUsername: string;
    masterPassword?: pulumi.Input<string>;
  },
): RoleSettings {
  // A standalone instance (promoting, primary, fenced) keeps a final snapshot on delete. A replica
  // cannot: RDS refuses FinalDBSnapshotIdentifier for a read replica, and its data is the peer's.
  // https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DeleteDBInstance.html
  // The provider keeps these two in state only (no ModifyDBInstance call), so to AWS phase 1
  // still changes nothing but the replication.
  const standalone = {
    skipFinalSnapshot: false,
    finalSnapshotIdentifier: o.finalSnapshotIdentifier,
  };
  switch (role) {
    case "standby":
      // Single-AZ and no automated backups: the replica's job is to be promotable; backups run on
      // the primary and are replicated here (InstanceAutomatedBackupsReplication, AWS Backup copies).
      return {
        replicateSourceDb: o.peerInstanceArn,
        multiAz: false,
        backupRetentionPeriod: 0,
        skipFinalSnapshot: true,
      };
    case "promoting":
      // Phase 1: the standby minus its source, with its backup retention already. The provider
      // passes backup_retention_period (and backup_window) to PromoteReadReplica itself
      // (terraform-provider-aws internal/service/rds/instance.go, resourceInstanceUpdate:
      // `PromoteReadReplicaInput{BackupRetentionPeriod: d.Get("backup_retention_period")}`), so
      // the writable database never runs without automated backups, and no later change from 0
      // costs the outage the RDS user guide warns of
      // (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_WorkingWithAutomatedBackups.html#USER_WorkingWithAutomatedBackups.Enabling).
      // Multi-AZ waits for phase 2 (terraform-provider-aws #4419).
      return {
        multiAz: false,
        backupRetentionPeriod: o.backupRetentionDays,
        ...standalone,
        password: o.masterPassword,
      };
    case "primary":
    case "fenced":
      // A fenced site keeps the primary's settings (its PITR window still covers the writes it
      // took); only its parameter group changes.
      return {
        multiAz: true,
        backupRetentionPeriod: o.backupRetentionDays,
        ...standalone,
        // Create-only (a promoted replica already has them, inherited from its source).
        username: o.masterUsername,
        dbName: o.dbName,
        // From this site's own master secret (DbCredential); never RDS-managed, which would make
        // every replica of this instance impossible (docs: rds-secrets-manager limitations).
        password: o.masterPassword,
      };
  }
}
