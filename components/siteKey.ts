import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

export interface SiteKeyArgs {
  readonly region: string;
  readonly accountId: string;
  /** `alias/<stem>` from naming.ts, so the peer can address this key without a StackReference. */
  readonly aliasName: string;
  /** AWS partition. @default "aws" */
  readonly partition?: string;
  /** Tags for the key. @default {} */
  readonly tags?: Record<string, string>;
}

/**
 * The site's customer-managed KMS key: EKS secrets, flow logs, the database, backups and the
 * alarm topic are encrypted with it. KMS keys never leave their region, so each site has one and
 * copies into the peer are re-encrypted with the peer's key.
 */
export class SiteKey extends pulumi.ComponentResource {
  public readonly keyArn: pulumi.Output<string>;
  public readonly keyId: pulumi.Output<string>;
  public readonly aliasName: pulumi.Output<string>;

  constructor(name: string, args: SiteKeyArgs, opts?: pulumi.ComponentResourceOptions) {
    super("drstack:security:SiteKey", name, {}, opts);
    const partition = args.partition ?? "aws";
    const tags = args.tags ?? {};
    const root = `arn:${partition}:iam::${args.accountId}:root`;

    const key = new aws.kms.Key(
      `${name}`,
      {
        region: args.region,
        description: `dr-stack site key (${args.aliasName})`,
        enableKeyRotation: true,
        // 30 days, the maximum: a key scheduled for deletion by mistake can still be recovered.
        deletionWindowInDays: 30,
        policy: JSON.stringify({
          Version: "2012-10-17",
          Statement: [
            {
              Sid: "AccountAdministers",
              Effect: "Allow",
              Principal: { AWS: root },
              Action: "kms:*",
              Resource: "*",
            },
            {
              // https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html
              Sid: "CloudWatchLogsEncrypt",
              Effect: "Allow",
              Principal: { Service: `logs.${args.region}.amazonaws.com` },
              Action: [
                "kms:Encrypt*",
                "kms:Decrypt*",
                "kms:ReEncrypt*",
                "kms:GenerateDataKey*",
                "kms:Describe*",
              ],
              Resource: "*",
              Condition: {
                ArnLike: {
                  "kms:EncryptionContext:aws:logs:arn": `arn:${partition}:logs:${args.region}:${args.accountId}:*`,
                },
              },
            },
            {
              // CloudWatch alarms publish to the SNS topic encrypted with this key.
              // https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html
              Sid: "CloudWatchAlarmsPublish",
              Effect: "Allow",
              Principal: { Service: "cloudwatch.amazonaws.com" },
              Action: ["kms:Decrypt", "kms:GenerateDataKey*"],
              Resource: "*",
              Condition: { StringEquals: { "aws:SourceAccount": args.accountId } },
            },
          ],
        }),
        tags,
      },
      // Backups encrypted with this key are unreadable without it: never delete it with the stack.
      { parent: this, retainOnDelete: true },
    );

    const alias = new aws.kms.Alias(
      `${name}-alias`,
      { region: args.region, name: args.aliasName, targetKeyId: key.keyId },
      { parent: this },
    );

    this.keyArn = key.arn;
    this.keyId = key.keyId;
    this.aliasName = alias.name;
    this.registerOutputs({ keyArn: this.keyArn, keyId: this.keyId, aliasName: this.aliasName });
  }
}
