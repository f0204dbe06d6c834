import * as aws from "@pulumi/aws";
import { validateResourceOfType, type ResourceValidationPolicy } from "@pulumi/policy";

/**
 * An alias record sets no `ttl` (nor `records`).
 *
 * Severity: low; enforcement: mandatory. Route 53 rejects an alias record with a TTL — it uses
 * the target's — so this fails the update at apply time, in the middle of a failover; the policy
 * catches it at preview.
 * https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/resource-record-sets-choosing-alias-non-alias.html
 */
export const drRoute53RecordAliasNoTtl: ResourceValidationPolicy = {
  name: "dr-route53-record-alias-no-ttl",
  description: "Alias records set no TTL.",
  enforcementLevel: "mandatory",
  severity: "low",
  url: "https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/resource-record-sets-choosing-alias-non-alias.html",
  validateResource: validateResourceOfType(aws.route53.Record, (record, _args, reportViolation) => {
    if ((record.aliases ?? []).length === 0) return;
    if (record.ttl !== undefined) {
      reportViolation(
        `alias record ${record.name} sets ttl ${record.ttl}; remove it (an alias uses its target's TTL)`,
      );
    }
    if ((record.records ?? []).length > 0) {
      reportViolation(`alias record ${record.name} also sets records; remove them`);
    }
  }),
};
