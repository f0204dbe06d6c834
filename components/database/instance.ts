import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { DB_BACKUP_RETENTION_FLOOR, type Role } from "../config";
import { DbParameters } from "./parameters";
import { roleSettings } from "./roleSettings";
import { engineUpgradeProblems, isMajorUpgrade, roleTransitionProblems } from "./transition";
import { postgresAccess } from "./access";

export interface DatabaseArgs {
  readonly region: string;
  /** This site's role; decides what the instance is (docs/architecture.md §3, docs/failover.md). */
  readonly role: Role;
  /** RDS identifier, from naming.dbInstanceIdentifier: the same in every role, so no move renames it. */
  readonly identifier: string;
  /** From naming.dbFinalSnapshotIdentifier: where the data goes when the program deletes the instance. */
  readonly finalSnapshotIdentifier: string;
  /** The peer's region: where the primary replicates its automated backups. */
  readonly peerRegion: string;
  /** The peer's instance ARN (naming.dbInstanceArn): the standby's source. No StackReference. */
  readonly peerInstanceArn: string;
  /**
   * The peer's site key, as the **key ARN** AWS reads back (`arn:…:kms:<peer>:<acct>:key/<id>`),
   * for the backups replicated there. Not the alias ARN: `kmsKeyId` of the replication is
   * ForceNew and AWS stores the key ARN, so an alias would plan a replacement on every later `up`
   * (terraform-aws-modules/terraform-aws-rds#454). Needed only while `peerLinks` is on.
   */
  readonly peerKmsKeyArn?: pulumi.Input<string>;
  /** The site key: storage, Performance Insights and the master secret are encrypted with it. */
  readonly kmsKeyArn: pulumi.Input<string>;
  readonly vpcId: pulumi.Input<string>;
  /** Private subnets the instance may live in (its subnet group). */
  readonly subnetIds: pulumi.Input<pulumi.Input<string>[]>;
  /** The security group admitted on 5432: the cluster's nodes. */
  readonly clientSecurityGroupId: pulumi.Input<string>;
  /**
   * Networks the deployer runs from when it manages logins (database.manageRoles), admitted on
   * 5432 besides the cluster. @default []
   */
  readonly adminCidrs?: string[];
  /**
   * The master password, from this site's own master secret (DbCredential, master credential: docs/architecture.md §8). Used
   * when this update creates a standalone instance; a promoted replica already has it (its
   * catalog is the peer's, whose password the secret copied). Required in every role but standby.
   */
  readonly masterPassword?: pulumi.Input<string>;
  /** Identifiers of in-region read replicas of a primary (naming.dbReadReplicaIdentifier). @default [] */
  readonly readReplicaIdentifiers?: string[];
  /**
   * Peer links (docs/architecture.md §2b) (`dr-stack:peerLinks`): on a primary, replicate automated backups into the peer
   * region. That resource lives in the peer region and needs the peer's key, so the first
   * deployment's first step and a failover (the old primary's region down) turn it off.
   * @default true
   */
  readonly peerLinks?: boolean;
  /** The role being left, when this update moves between roles. @default role */
  readonly previousRole?: Role;
  /** Lift `protect` and deletion protection so a failback can replace the instance. @default false */
  readonly allowRebuild?: boolean;
  /** PostgreSQL major (or major.minor) version. @default "16" */
  readonly engineVersion?: string;
  /**
   * The version the last update deployed, when this update upgrades (engineUpgradeProblems says
   * which moves are refused). @default engineVersion
   */
  readonly previousEngineVersion?: string;
  /** Send AllowMajorVersionUpgrade: this update moves a writable instance to a new major. @default false */
  readonly allowMajorVersionUpgrade?: boolean;
  /** @default "db.r6g.large" */
  readonly instanceClass?: string;
  /** @default 100 */
  readonly allocatedStorageGb?: number;
  /** Storage autoscaling ceiling. @default 500 */
  readonly maxAllocatedStorageGb?: number;
  /** Days of point-in-time recovery on a primary, at least 7. @default 14 */
  readonly backupRetentionDays?: number;
  /** Database created with a new primary. @default "app" */
  readonly dbName?: string;
  /** Master user of a new primary; its password lives only in Secrets Manager. @default "dradmin" */
  readonly masterUsername?: string;
  /** AWS partition, for managed policy ARNs. @default "aws" */
  readonly partition?: string;
  /** Tags for every child. Never put the role in a tag: every failover would then update everything. @default {} */
  readonly tags?: Record<string, string>;
}

/** Problems with the args, each naming the argument; empty when valid. */
export function databaseArgsProblems(args: DatabaseArgs): string[] {
  const problems = [
    ...roleTransitionProblems(args),
    ...engineUpgradeProblems({ ...args, engineVersion: args.engineVersion ?? "16" }),
  ];
  const retention = args.backupRetentionDays ?? 14;
  // RDS allows 0-35 days; 0 would switch point-in-time recovery off on the primary.
  // https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_WorkingWithAutomatedBackups.html
  if (retention < DB_BACKUP_RETENTION_FLOOR || retention > 35) {
    problems.push(
      `[backupRetentionDays] must be between ${DB_BACKUP_RETENTION_FLOOR} and 35, got ${retention}`,
    );
  }
  const allocated = args.allocatedStorageGb ?? 100;
  const max = args.maxAllocatedStorageGb ?? 500;
  if (max < allocated) {
    problems.push(
      `[maxAllocatedStorageGb] must be at least allocatedStorageGb (${allocated}), got ${max}`,
    );
  }
  if (args.role !== "standby" && args.masterPassword === undefined) {
    problems.push(
      `[masterPassword] is required for a ${args.role} instance: it is the credential of a writable database`,
    );
  }
  if (
    typeof args.peerKmsKeyArn === "string" &&
    !/^arn:[^:]+:kms:[^:]+:\d{12}:key\//.test(args.peerKmsKeyArn)
  ) {
    problems.push(
      `[peerKmsKeyArn] must be a KMS key ARN (…:key/<id>), as AWS reads it back; got "${args.peerKmsKeyArn}"`,
    );
  }
  if (!/^arn:[^:]+:rds:[^:]+:\d{12}:db:/.test(args.peerInstanceArn)) {
    problems.push(`[peerInstanceArn] must be an RDS instance ARN, got "${args.peerInstanceArn}"`);
  }
  return problems;
}

/**
 * One site's PostgreSQL: an RDS instance whose shape follows the site's role (primary, standby
 * replica of the peer, promoting, fenced), its parameter group, subnet group, security group and
 * monitoring role; on a primary also the replication of its automated backups into the peer region
 * and optional in-region read replicas.
 */
export class Database extends pulumi.ComponentResource {
  public readonly address: pulumi.Output<string>;
  public readonly port: pulumi.Output<number>;
  public readonly instanceArn: pulumi.Output<string>;
  public readonly identifier: pulumi.Output<string>;
  public readonly securityGroupId: pulumi.Output<string>;

  constructor(name: string, args: DatabaseArgs, opts?: pulumi.ComponentResourceOptions) {
    super("drstack:database:Database", name, {}, opts);
    const problems = databaseArgsProblems(args);
    if (problems.length) throw new Error(`invalid Database args:\n  ${problems.join("\n  ")}`);

    const role = args.role;
    const allowRebuild = args.allowRebuild ?? false;
    const engineVersion = args.engineVersion ?? "16";
    const instanceClass = args.instanceClass ?? "db.r6g.large";
    const allocatedStorage = args.allocatedStorageGb ?? 100;
    const maxAllocatedStorage = args.maxAllocatedStorageGb ?? 500;
    const backupRetentionDays = args.backupRetentionDays ?? 14;
    const dbName = args.dbName ?? "app";
    const masterUsername = args.masterUsername ?? "dradmin";
    const partition = args.partition ?? "aws";
    const peerLinks = args.peerLinks ?? true;
    const readReplicaIdentifiers = role === "primary" ? (args.readReplicaIdentifiers ?? []) : [];
    const tags = args.tags ?? {};
    const region = args.region;
    const child = { parent: this };

    const params = new DbParameters(
      `${name}-params`,
      { region, engineVersion, readOnly: role === "fenced", tags },
      child,
    );

    const { subnetGroup: subnets, securityGroup: sg } = postgresAccess(
      { subnetGroup: name, securityGroup: name, fromNodes: `${name}-from-nodes` },
      {
        region,
        vpcId: args.vpcId,
        subnetIds: args.subnetIds,
        clientSecurityGroupId: args.clientSecurityGroupId,
        descriptions: {
          subnetGroup: "dr-stack PostgreSQL: private subnets",
          securityGroup: "dr-stack PostgreSQL: 5432 from the cluster nodes only",
          fromNodes: "PostgreSQL from the EKS nodes",
        },
        nameTag: name,
        tags,
      },
      child,
    );

    for (const [i, cidrIpv4] of (args.adminCidrs ?? []).entries()) {
      new aws.vpc.SecurityGroupIngressRule(
        `${name}-from-admin-${i}`,
        {
          region,
          securityGroupId: sg.id,
          cidrIpv4,
          ipProtocol: "tcp",
          fromPort: 5432,
          toPort: 5432,
          description: "PostgreSQL from the deployer's network (database.adminCidrs, manageRoles)",
          tags,
        },
        child,
      );
    }

    // Enhanced monitoring publishes OS metrics through this role.
    // https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_Monitoring.OS.Enabling.html
    const monitoringRole = new aws.iam.Role(
      `${name}-monitoring`,
      {
        assumeRolePolicy: JSON.stringify({
          Version: "2012-10-17",
          Statement: [
            {
              Effect: "Allow",
              Principal: { Service: "monitoring.rds.amazonaws.com" },
              Action: "sts:AssumeRole",
            },
          ],
        }),
        tags,
      },
      child,
    );
    const monitoringPolicy = new aws.iam.RolePolicyAttachment(
      `${name}-monitoring`,
      {
        role: monitoringRole.name,
        policyArn: `arn:${partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole`,
      },
      child,
    );

    const settings = roleSettings(role, {
      peerInstanceArn: args.peerInstanceArn,
      backupRetentionDays,
      finalSnapshotIdentifier: args.finalSnapshotIdentifier,
      dbName,
      masterUsername,
      masterPassword: args.masterPassword,
    });

    const shared = {
      region,
      instanceClass,
      storageType: "gp3",
      storageEncrypted: true,
      kmsKeyId: args.kmsKeyArn,
      maxAllocatedStorage,
      parameterGroupName: params.name,
      vpcSecurityGroupIds: [sg.id],
      publiclyAccessible: false,
      iamDatabaseAuthenticationEnabled: true,
      performanceInsightsEnabled: true,
      performanceInsightsKmsKeyId: args.kmsKeyArn,
      // 7 days is the free tier. https://aws.amazon.com/rds/performance-insights/pricing/
      performanceInsightsRetentionPeriod: 7,
      monitoringInterval: 60,
      monitoringRoleArn: monitoringRole.arn,
      enabledCloudwatchLogsExports: ["postgresql", "upgrade"],
      copyTagsToSnapshot: true,
      autoMinorVersionUpgrade: true,
      // A role change is an incident action: it must not wait for the maintenance window.
      applyImmediately: true,
      tags,
    };

    const instance = new aws.rds.Instance(
      name,
      {
        ...shared,
        identifier: args.identifier,
        engine: "postgres",
        engineVersion,
        allocatedStorage,
        port: 5432,
        dbSubnetGroupName: subnets.name,
        // Windows in UTC, clear of the AWS Backup rules (02:00-04:00 starts): RDS delays a backup
        // job that overlaps its own window.
        // https://docs.aws.amazon.com/aws-backup/latest/devguide/creating-a-backup-plan.html
        backupWindow: "23:00-23:30",
        maintenanceWindow: "tue:05:00-tue:05:30",
        // Keep automated backups (PITR) after the instance is deleted, for their retention period.
        deleteAutomatedBackups: false,
        // Off on a fenced instance: failback replaces it, and RDS refuses to delete an instance
        // with deletion protection, which an update must lift first; the replacement has no
        // such step. `protect` still guards it, the final snapshot and the retained automated
        // backups keep its data after a rebuild.
        deletionProtection: !allowRebuild && role !== "fenced",
        // Only with a declared major upgrade; the new family's parameter group (DbParameters)
        // goes in the same ModifyDBInstance, as RDS requires of a custom group.
        allowMajorVersionUpgrade: args.allowMajorVersionUpgrade ? true : undefined,
        ...settings,
      },
      {
        parent: this,
        dependsOn: [monitoringPolicy],
        // The data. Only `allowRebuild` lifts it, and only for the failback that needs it.
        protect: !allowRebuild,
        // The identifier is fixed (the peer computes this ARN), so the old instance must be gone
        // before its replacement can take the name.
        deleteBeforeReplace: true,
        // A standalone instance cannot be re-attached as a replica: the provider would try an
        // update and fail ("cannot elect new source database"). Make that move a replacement,
        // which `protect` then refuses unless a rebuild is allowed.
        // A major upgrade of the source rebuilds the standby too (engineUpgradeProblems).
        replaceOnChanges:
          role === "standby"
            ? [
                "replicateSourceDb",
                ...(isMajorUpgrade({ ...args, engineVersion }) ? ["engineVersion"] : []),
              ]
            : [],
        // Create-only inputs that a promoted replica inherited: never let them plan a replacement.
        // The password is sent when the instance is created standalone and never on a role move:
        // a replica's password is its source's (the catalog is replicated), which the master
        // secret already holds, and a ModifyDBInstance with a password on the replica about to be
        // promoted is not a step the promotion needs. Rotation is deliberate (docs).
        ignoreChanges: [
          ...(settings.username === undefined ? [] : ["username", "dbName"]),
          ...(settings.password === undefined ? [] : ["password"]),
        ],
      },
    );

    if (role === "primary" && peerLinks) {
      if (args.peerKmsKeyArn === undefined) {
        throw new Error(
          `[peerKmsKeyArn] is required on a primary with peerLinks: the replicated backups are encrypted with the peer's key`,
        );
      }
      // PITR that survives the loss of the region: automated backups and transaction logs copied
      // into the peer region, encrypted with the peer's key.
      // https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ReplicateBackups.html
      new aws.rds.InstanceAutomatedBackupsReplication(
        `${name}-backups-to-${args.peerRegion}`,
        {
          region: args.peerRegion,
          sourceDbInstanceArn: instance.arn,
          kmsKeyId: args.peerKmsKeyArn,
          retentionPeriod: backupRetentionDays,
        },
        child,
      );
    }

    readReplicaIdentifiers.forEach((identifier, i) => {
      new aws.rds.Instance(
        `${name}-replica-${i}`,
        {
          ...shared,
          identifier,
          replicateSourceDb: instance.identifier,
          // Replicas hold no data of their own: scaling readReplicas down must be able to delete
          // them, and RDS takes no final snapshot of a replica.
          deletionProtection: false,
          skipFinalSnapshot: true,
        },
        child,
      );
    });

    this.address = instance.address;
    this.port = instance.port;
    this.instanceArn = instance.arn;
    this.identifier = instance.identifier;
    this.securityGroupId = sg.id;
    this.registerOutputs({
      address: this.address,
      port: this.port,
      instanceArn: this.instanceArn,
      identifier: this.identifier,
      securityGroupId: this.securityGroupId,
    });
  }
}
