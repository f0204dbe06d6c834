import * as aws from "@pulumi/aws";
import { validateResourceOfType, type ResourceValidationPolicy } from "@pulumi/policy";

/**
 * SNS topics encrypt with a customer-managed key (`kmsMasterKeyId`, not `alias/aws/sns`).
 *
 * Severity: medium; enforcement: mandatory. Alarm messages name databases and buckets. The
 * AWS-managed `alias/aws/sns` key is no good here: its policy cannot grant CloudWatch alarms the
 * right to publish, so alarms would fail silently.
 * https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services
 */
export const drSnsTopicKms: ResourceValidationPolicy = {
  name: "dr-sns-topic-kms",
  description: "SNS topics encrypt with a customer-managed KMS key.",
  enforcementLevel: "mandatory",
  severity: "medium",
  url: "https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html",
  validateResource: validateResourceOfType(aws.sns.Topic, (topic, _args, reportViolation) => {
    if (!topic.kmsMasterKeyId) {
      reportViolation("kmsMasterKeyId is not set; encrypt the topic with the site key");
    } else if (topic.kmsMasterKeyId === "alias/aws/sns") {
      reportViolation(
        "kmsMasterKeyId is alias/aws/sns, which CloudWatch alarms cannot publish through; use the site key",
      );
    }
  }),
};
