/**
 * Trust for an AWS service acting for this account: S3 replication, S3 Batch Operations and AWS
 * Backup (the backup plan's and the restore tests' roles).
 *
 * `aws:SourceAccount` is named against the confused deputy
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html), but as
 * `StringEqualsIfExists`, not `StringEquals`. The trust policies AWS documents for these four
 * services carry no condition at all, and no AWS page says that they put `aws:SourceAccount` in
 * the request when they assume the role:
 * - https://docs.aws.amazon.com/AmazonS3/latest/userguide/setting-repl-config-perm-overview.html
 * - https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-iam-role-policies.html
 * - https://docs.aws.amazon.com/aws-backup/latest/devguide/iam-service-roles.html
 * A positive condition on a key that is absent evaluates false, so `StringEquals` would, if a
 * service does not send the key, stop replication, backups and restore tests without anything
 * failing at `pulumi up` — the worst failure a DR stack can have. With `IfExists` the account is
 * enforced whenever the service sends it, and otherwise the documented protection stands: only a
 * principal of this account with `iam:PassRole` on the role can make a service use it
 * (replication configuration, CreateJob, StartBackupJob), and PassRole does not cross accounts.
 * The first real-AWS run should confirm which services send the key (README, "Tests that need
 * real AWS"); where one does, `StringEquals` can replace this.
 */
export function serviceTrustPolicy(service: string, accountId: string): object {
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Effect: "Allow",
        Principal: { Service: service },
        Action: "sts:AssumeRole",
        Condition: { StringEqualsIfExists: { "aws:SourceAccount": accountId } },
      },
    ],
  };
}
