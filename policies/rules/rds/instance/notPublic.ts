import * as aws from "@pulumi/aws";
import { validateResourceOfType, type ResourceValidationPolicy } from "@pulumi/policy";

/**
 * RDS instances are not publicly accessible.
 *
 * Severity: critical; enforcement: mandatory. A public instance gets a DNS name resolving to a
 * public IP; one security-group mistake then exposes the database to the internet. The backup
 * jobs reach it from inside the VPC.
 * https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_VPC.WorkingWithRDSInstanceinaVPC.html#USER_VPC.Hiding
 */
export const drRdsInstanceNotPublic: ResourceValidationPolicy = {
  name: "dr-rds-instance-not-public",
  description: "RDS instances are not publicly accessible.",
  enforcementLevel: "mandatory",
  severity: "critical",
  url: "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_VPC.WorkingWithRDSInstanceinaVPC.html",
  validateResource: validateResourceOfType(aws.rds.Instance, (db, _args, reportViolation) => {
    if (db.publiclyAccessible === true) {
      reportViolation(
        "publiclyAccessible is true; set it to false and reach the database from inside the VPC",
      );
    }
  }),
};
