import type { BackupClient } from "@aws-sdk/client-backup";
import type { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import type { RDSClient } from "@aws-sdk/client-rds";
import { awsError, deadline, putMetricFigures, setRdsMasterPassword } from "../awsCalls";

/**
 * The AWS calls `drctl restore-test` makes, behind one port so the command's logic is tested
 * against a real PostgreSQL with the SDK clients mocked (aws-sdk-client-mock), and so every call
 * has a deadline (docs/architecture.md §2b). Every client is built for the restore testing plan's own region:
 * the check never calls the peer region or a global endpoint.
 */

/** One restore job AWS Backup started for a restore testing plan (ListRestoreJobs member). */
export interface RestoreJob {
  readonly restoreJobId: string;
  /** PENDING | RUNNING | COMPLETED | ABORTED | FAILED. */
  readonly status: string;
  readonly statusMessage?: string;
  /** The restored resource: `arn:aws:rds:<region>:<account>:db:awsbackup-restore-test-…`. */
  readonly createdResourceArn?: string;
  /** The database the recovery point was taken of (either site's, in a DR vault). */
  readonly sourceResourceArn?: string;
  readonly recoveryPointArn?: string;
  readonly recoveryPointCreationDate?: Date;
  readonly creationDate?: Date;
  readonly completionDate?: Date;
  /** Unset until someone calls PutRestoreValidationResult (or the window times out). */
  readonly validationStatus?: string;
  /** Set once AWS Backup started deleting the restored resource. */
  readonly deletionStatus?: string;
}

export interface DbInstance {
  readonly status: string;
  readonly address?: string;
  readonly port?: number;
  readonly masterUsername?: string;
  /** A new master password is waiting to be applied (PendingModifiedValues.MasterUserPassword). */
  readonly passwordPending: boolean;
}

export interface RestoreTestAws {
  /** Restore jobs the plan created after `createdAfter`, every page. */
  listRestoreJobs(planArn: string, createdAfter: Date): Promise<RestoreJob[]>;
  /** When the plan was created (GetRestoreTestingPlan CreationTime), or undefined if unknown. */
  planCreatedAt(planArn: string): Promise<Date | undefined>;
  /** The instance, or undefined when RDS says it does not exist (already deleted). */
  describeDbInstance(identifier: string): Promise<DbInstance | undefined>;
  /** ModifyDBInstance with a new master password, applied immediately. */
  setMasterPassword(identifier: string, password: string): Promise<void>;
  putValidationResult(
    restoreJobId: string,
    status: "SUCCESSFUL" | "FAILED",
    message: string,
  ): Promise<void>;
  /** PutMetricData into `namespace`; the caller turns a failure into a warning. */
  putMetrics(
    namespace: string,
    data: { name: string; unit: string; value: number }[],
  ): Promise<void>;
  destroy(): void;
}

/**
 * PutRestoreValidationResult's message limit is not documented in the API reference we found; keep
 * it to one readable line (the full detail is in the report in the store).
 */
export const VALIDATION_MESSAGE_MAX = 500;

/** The region of a restore testing plan ARN: `arn:aws:backup:<region>:<account>:restore-testing-plan:<name>-<id>`. */
export function regionOfPlanArn(arn: string): string | undefined {
  const m = /^arn:[^:]+:backup:([a-z0-9-]+):\d{12}:restore-testing-plan:/.exec(arn);
  return m ? m[1] : undefined;
}

/** The real port: SDK v3 clients, loaded on first use like the other AWS clients in drctl. */
export async function awsRestoreTestPort(region: string): Promise<RestoreTestAws> {
  const backupSdk = await import("@aws-sdk/client-backup");
  const rdsSdk = await import("@aws-sdk/client-rds");
  const cwSdk = await import("@aws-sdk/client-cloudwatch");
  const backup: BackupClient = new backupSdk.BackupClient({ region });
  const rds: RDSClient = new rdsSdk.RDSClient({ region });
  const cloudwatch: CloudWatchClient = new cwSdk.CloudWatchClient({ region });
  return {
    async listRestoreJobs(planArn, createdAfter) {
      const jobs: RestoreJob[] = [];
      let next: string | undefined;
      do {
        let out;
        try {
          out = await backup.send(
            new backupSdk.ListRestoreJobsCommand({
              ByRestoreTestingPlanArn: planArn,
              ByCreatedAfter: createdAfter,
              NextToken: next,
            }),
            deadline(),
          );
        } catch (err) {
          throw awsError(err, `listing restore jobs of ${planArn}`, "backup:ListRestoreJobs");
        }
        for (const j of out.RestoreJobs ?? []) {
          if (j.RestoreJobId === undefined || j.Status === undefined) continue;
          jobs.push({
            restoreJobId: j.RestoreJobId,
            status: j.Status,
            statusMessage: j.StatusMessage,
            createdResourceArn: j.CreatedResourceArn,
            sourceResourceArn: j.SourceResourceArn,
            recoveryPointArn: j.RecoveryPointArn,
            recoveryPointCreationDate: j.RecoveryPointCreationDate,
            creationDate: j.CreationDate,
            completionDate: j.CompletionDate,
            validationStatus: j.ValidationStatus,
            deletionStatus: j.DeletionStatus,
          });
        }
        next = out.NextToken;
      } while (next);
      return jobs;
    },
    async planCreatedAt(planArn) {
      // `restore-testing-plan:<name>-<id>`: plan names hold no hyphen (letters, digits, _).
      const name = /:restore-testing-plan:([0-9A-Za-z_]+)/.exec(planArn)?.[1];
      if (!name) return undefined;
      try {
        const out = await backup.send(
          new backupSdk.GetRestoreTestingPlanCommand({ RestoreTestingPlanName: name }),
          deadline(),
        );
        return out?.RestoreTestingPlan?.CreationTime;
      } catch (err) {
        throw awsError(err, `reading restore testing plan ${name}`, "backup:GetRestoreTestingPlan");
      }
    },
    async describeDbInstance(identifier) {
      try {
        const out = await rds.send(
          new rdsSdk.DescribeDBInstancesCommand({ DBInstanceIdentifier: identifier }),
          deadline(),
        );
        const db = out.DBInstances?.[0];
        if (!db) return undefined;
        return {
          status: db.DBInstanceStatus ?? "unknown",
          address: db.Endpoint?.Address,
          port: db.Endpoint?.Port,
          masterUsername: db.MasterUsername,
          passwordPending: db.PendingModifiedValues?.MasterUserPassword !== undefined,
        };
      } catch (err) {
        if ((err as { name?: string }).name === "DBInstanceNotFoundFault") return undefined;
        throw awsError(err, `describing DB instance ${identifier}`, "rds:DescribeDBInstances");
      }
    },
    setMasterPassword: (identifier, password) =>
      setRdsMasterPassword(
        rds,
        rdsSdk,
        identifier,
        password,
        `setting the master password of restored instance ${identifier}`,
      ),
    async putValidationResult(restoreJobId, status, message) {
      try {
        await backup.send(
          new backupSdk.PutRestoreValidationResultCommand({
            RestoreJobId: restoreJobId,
            ValidationStatus: status,
            ValidationStatusMessage: message.slice(0, VALIDATION_MESSAGE_MAX),
          }),
          deadline(),
        );
      } catch (err) {
        throw awsError(
          err,
          `publishing the validation result of restore job ${restoreJobId}`,
          "backup:PutRestoreValidationResult",
        );
      }
    },
    putMetrics: (namespace, data) => putMetricFigures(cloudwatch, cwSdk, namespace, data),
    destroy() {
      backup.destroy();
      rds.destroy();
      cloudwatch.destroy();
    },
  };
}
