import type * as aws from "@pulumi/aws";
import type { StackValidationPolicy } from "@pulumi/policy";
import { propsOf } from "../../../lib/resources";
import { primaryInstances } from "../../../lib/role";

/**
 * A PRIMARY-role site's source instance has deletion protection on.
 *
 * Severity: critical; enforcement: mandatory. Deleting the primary is the one mistake a DR stack
 * cannot undo in minutes. A stack policy because "primary" is read from the stack's database
 * shape (policies/lib/role.ts), not from one resource. A deliberate failback rebuild turns it off
 * for one update; override this policy's enforcement for that update only.
 * https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_DeleteInstance.html#USER_DeleteInstance.DeletionProtection
 */
export const drRdsInstancePrimaryDeletionProtection: StackValidationPolicy = {
  name: "dr-rds-instance-primary-deletion-protection",
  description: "The primary site's database has deletion protection on.",
  enforcementLevel: "mandatory",
  severity: "critical",
  url: "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_DeleteInstance.html",
  validateStack: (args, reportViolation) => {
    for (const db of primaryInstances(args.resources)) {
      if (propsOf<aws.rds.InstanceArgs>(db).deletionProtection !== true) {
        reportViolation(
          `primary instance ${db.name} has deletionProtection off; set it to true`,
          db.urn,
        );
      }
    }
  },
};
