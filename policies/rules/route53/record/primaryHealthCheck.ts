import * as aws from "@pulumi/aws";
import { validateResourceOfType, type ResourceValidationPolicy } from "@pulumi/policy";

/**
 * A PRIMARY failover record has a health check (`healthCheckId`).
 *
 * Severity: critical; enforcement: mandatory. Route 53 treats a PRIMARY record without a health
 * check as always healthy, so it never fails over to the SECONDARY: the DR site would never get
 * traffic. (An alias record's `evaluateTargetHealth` does not replace it for a target without
 * its own health.)
 * https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/dns-failover-configuring-options.html
 */
export const drRoute53RecordPrimaryHealthCheck: ResourceValidationPolicy = {
  name: "dr-route53-record-primary-health-check",
  description: "PRIMARY failover records have a health check.",
  enforcementLevel: "mandatory",
  severity: "critical",
  url: "https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/dns-failover-configuring-options.html",
  validateResource: validateResourceOfType(aws.route53.Record, (record, _args, reportViolation) => {
    const primary = (record.failoverRoutingPolicies ?? []).some((p) => p.type === "PRIMARY");
    if (primary && !record.healthCheckId) {
      reportViolation(
        `PRIMARY failover record ${record.name} has no healthCheckId; without one Route 53 never ` +
          `fails over, so attach the site's health check`,
      );
    }
  }),
};
