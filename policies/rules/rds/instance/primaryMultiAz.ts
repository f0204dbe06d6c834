import type * as aws from "@pulumi/aws";
import type { StackValidationPolicy } from "@pulumi/policy";
import { propsOf } from "../../../lib/resources";
import { primaryInstances } from "../../../lib/role";

/**
 * A PRIMARY-role site's source instance is Multi-AZ.
 *
 * Severity: high; enforcement: mandatory. An AZ failure must fail over inside the region in a
 * minute or two, not trigger a cross-region failover. A stack policy because "primary" is read from
 * the stack's database shape (policies/lib/role.ts).
 * https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Concepts.MultiAZSingleStandby.html
 */
export const drRdsInstancePrimaryMultiAz: StackValidationPolicy = {
  name: "dr-rds-instance-primary-multi-az",
  description: "The primary site's database is Multi-AZ.",
  enforcementLevel: "mandatory",
  severity: "high",
  url: "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Concepts.MultiAZSingleStandby.html",
  validateStack: (args, reportViolation) => {
    for (const db of primaryInstances(args.resources)) {
      if (propsOf<aws.rds.InstanceArgs>(db).multiAz !== true) {
        reportViolation(`primary instance ${db.name} is not Multi-AZ; set multiAz to true`, db.urn);
      }
    }
  },
};
