import type { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import type { LambdaClient } from "@aws-sdk/client-lambda";
import type { DBInstance, RDSClient } from "@aws-sdk/client-rds";
import { awsError, deadline, putMetricFigures, setRdsMasterPassword } from "../awsCalls";
import { DrctlError } from "../errors";

/**
 * The AWS calls of `drctl pitr-test`, behind one port so the logic is tested against the SDK's own
 * command shapes (aws-sdk-client-mock) and every call has a deadline. Every client is built for the
 * site's own region: a standby restores from the automated backups RDS replicated into its region,
 * so the test never calls the peer region.
 */

/** One DescribeDBInstanceAutomatedBackups member. */
export interface AutomatedBackup {
  /** `arn:aws:rds:<this region>:<account>:auto-backup:ab-…`: SourceDBInstanceAutomatedBackupsArn. */
  readonly arn: string;
  /** The instance the backups are of (in the peer region for replicated backups). */
  readonly instanceArn?: string;
  /** active | retained | creating | replicating (replicated backups: "replicating"). */
  readonly status: string;
  readonly earliest?: Date;
  readonly latest?: Date;
}

export interface PitrInstance {
  readonly identifier: string;
  readonly arn?: string;
  readonly status: string;
  readonly address?: string;
  readonly port?: number;
  readonly masterUsername?: string;
  /** Set on a read replica: a replica has no automated backups of its own to restore from. */
  readonly replicaSource?: string;
  readonly backupRetentionDays?: number;
  /** A ModifyDBInstance of the master password RDS has not applied yet. */
  readonly passwordPending: boolean;
  readonly createdAt?: Date;
}

export interface RestoreRequest {
  readonly identifier: string;
  readonly restoreTime: Date;
  /** Exactly one: the live instance's identifier, or a replicated backup's ARN. */
  readonly sourceInstance?: string;
  readonly sourceAutomatedBackupsArn?: string;
  readonly subnetGroup: string;
  readonly securityGroupId: string;
  readonly instanceClass?: string;
  readonly tags: Record<string, string>;
}

export interface PitrAws {
  /** The instance, or undefined when RDS has no instance of that identifier. */
  describeInstance(identifier: string): Promise<PitrInstance | undefined>;
  /** Instances whose identifier starts with `prefix` (leftovers of an interrupted test). */
  listInstances(prefix: string): Promise<PitrInstance[]>;
  /** Automated backups in this region of the instance `instanceArn` (live or replicated). */
  automatedBackups(instanceArn: string): Promise<AutomatedBackup[]>;
  restore(r: RestoreRequest): Promise<void>;
  setMasterPassword(identifier: string, password: string): Promise<void>;
  /** Asks the cleanup function to delete a restored test instance; the job holds no delete. */
  requestDelete(identifier: string): Promise<void>;
  putMetrics(
    namespace: string,
    data: { name: string; unit: string; value: number }[],
  ): Promise<void>;
  destroy(): void;
}

function instanceOf(d: DBInstance): PitrInstance {
  return {
    identifier: d.DBInstanceIdentifier ?? "",
    arn: d.DBInstanceArn,
    status: d.DBInstanceStatus ?? "unknown",
    address: d.Endpoint?.Address,
    port: d.Endpoint?.Port,
    masterUsername: d.MasterUsername,
    replicaSource: d.ReadReplicaSourceDBInstanceIdentifier,
    backupRetentionDays: d.BackupRetentionPeriod,
    passwordPending: d.PendingModifiedValues?.MasterUserPassword !== undefined,
    createdAt: d.InstanceCreateTime,
  };
}

/** The real port: SDK v3 clients for `region`, loaded on first use like drctl's other AWS clients. */
export async function awsPitrPort(region: string, cleanupFunction?: string): Promise<PitrAws> {
  const rdsSdk = await import("@aws-sdk/client-rds");
  const lambdaSdk = await import("@aws-sdk/client-lambda");
  const cwSdk = await import("@aws-sdk/client-cloudwatch");
  const rds: RDSClient = new rdsSdk.RDSClient({ region });
  const lambda: LambdaClient = new lambdaSdk.LambdaClient({ region });
  const cloudwatch: CloudWatchClient = new cwSdk.CloudWatchClient({ region });
  return {
    async describeInstance(identifier) {
      try {
        const out = await rds.send(
          new rdsSdk.DescribeDBInstancesCommand({ DBInstanceIdentifier: identifier }),
          deadline(),
        );
        const db = out.DBInstances?.[0];
        return db ? instanceOf(db) : undefined;
      } catch (err) {
        if ((err as { name?: string }).name === "DBInstanceNotFoundFault") return undefined;
        throw awsError(err, `describing DB instance ${identifier}`, "rds:DescribeDBInstances");
      }
    },
    async listInstances(prefix) {
      const found: PitrInstance[] = [];
      let marker: string | undefined;
      do {
        let out;
        try {
          out = await rds.send(
            new rdsSdk.DescribeDBInstancesCommand({ Marker: marker }),
            deadline(),
          );
        } catch (err) {
          throw awsError(err, "listing DB instances", "rds:DescribeDBInstances");
        }
        for (const db of out.DBInstances ?? []) {
          if (db.DBInstanceIdentifier?.startsWith(prefix)) found.push(instanceOf(db));
        }
        marker = out.Marker;
      } while (marker);
      return found;
    },
    async automatedBackups(instanceArn) {
      const found: AutomatedBackup[] = [];
      let marker: string | undefined;
      do {
        let out;
        try {
          // "db-instance-id - Accepts DB instance identifiers and Amazon Resource Names (ARNs)":
          // the ARN finds the replicated backups of the peer's instance in this region.
          // https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DescribeDBInstanceAutomatedBackups.html
          out = await rds.send(
            new rdsSdk.DescribeDBInstanceAutomatedBackupsCommand({
              Filters: [{ Name: "db-instance-id", Values: [instanceArn] }],
              Marker: marker,
            }),
            deadline(),
          );
        } catch (err) {
          throw awsError(
            err,
            `describing the automated backups of ${instanceArn}`,
            "rds:DescribeDBInstanceAutomatedBackups",
          );
        }
        for (const b of out.DBInstanceAutomatedBackups ?? []) {
          if (!b.DBInstanceAutomatedBackupsArn) continue;
          found.push({
            arn: b.DBInstanceAutomatedBackupsArn,
            instanceArn: b.DBInstanceArn,
            status: b.Status ?? "unknown",
            earliest: b.RestoreWindow?.EarliestTime,
            latest: b.RestoreWindow?.LatestTime,
          });
        }
        marker = out.Marker;
      } while (marker);
      return found;
    },
    async restore(r) {
      try {
        await rds.send(
          new rdsSdk.RestoreDBInstanceToPointInTimeCommand({
            TargetDBInstanceIdentifier: r.identifier,
            RestoreTime: r.restoreTime,
            SourceDBInstanceIdentifier: r.sourceInstance,
            SourceDBInstanceAutomatedBackupsArn: r.sourceAutomatedBackupsArn,
            DBSubnetGroupName: r.subnetGroup,
            VpcSecurityGroupIds: [r.securityGroupId],
            DBInstanceClass: r.instanceClass,
            MultiAZ: false,
            PubliclyAccessible: false,
            DeletionProtection: false,
            // A throwaway copy keeps no backups of its own and its deletion leaves none behind.
            BackupRetentionPeriod: 0,
            Tags: Object.entries(r.tags).map(([Key, Value]) => ({ Key, Value })),
          }),
          deadline(),
        );
      } catch (err) {
        throw awsError(
          err,
          `restoring ${r.sourceInstance ?? r.sourceAutomatedBackupsArn} to ${r.restoreTime.toISOString()}`,
          "rds:RestoreDBInstanceToPointInTime",
        );
      }
    },
    setMasterPassword: (identifier, password) =>
      setRdsMasterPassword(
        rds,
        rdsSdk,
        identifier,
        password,
        `setting the master password of ${identifier}`,
      ),
    async requestDelete(identifier) {
      if (cleanupFunction === undefined) {
        throw new DrctlError(`no cleanup function configured to delete ${identifier}`);
      }
      let out;
      try {
        out = await lambda.send(
          new lambdaSdk.InvokeCommand({
            FunctionName: cleanupFunction,
            Payload: Buffer.from(JSON.stringify({ identifier })),
          }),
          deadline(),
        );
      } catch (err) {
        throw awsError(
          err,
          `asking ${cleanupFunction} to delete ${identifier}`,
          "lambda:InvokeFunction",
        );
      }
      if (out.FunctionError) {
        const detail = out.Payload ? Buffer.from(out.Payload).toString("utf8") : "";
        throw new DrctlError(
          `${cleanupFunction} did not delete ${identifier}: ${out.FunctionError} ${detail}`.trim(),
        );
      }
    },
    putMetrics: (namespace, data) => putMetricFigures(cloudwatch, cwSdk, namespace, data),
    destroy() {
      rds.destroy();
      lambda.destroy();
      cloudwatch.destroy();
    },
  };
}
