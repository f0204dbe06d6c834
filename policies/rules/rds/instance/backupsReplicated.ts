import type * as aws from "@pulumi/aws";
import type { PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import { daysProperty, thresholds } from "../../../lib/config";
import { ofTypes, propsOf, TYPES } from "../../../lib/resources";
import { primaryInstances } from "../../../lib/role";

const configSchema = {
  properties: {
    minimumDays: daysProperty("Fewest days the replicated automated backups are kept.", 7),
  },
};

/** Whether `replication` copies `db`'s automated backups (by ARN, identifier or dependency). */
function replicates(replication: PolicyResource, db: PolicyResource): boolean {
  const source =
    propsOf<aws.rds.InstanceAutomatedBackupsReplicationArgs>(replication).sourceDbInstanceArn;
  const { arn, identifier } = db.props as { arn?: string; identifier?: string };
  if (
    source !== undefined &&
    (source === arn || (identifier && source.endsWith(`:db:${identifier}`)))
  )
    return true;
  return (replication.propertyDependencies.sourceDbInstanceArn ?? []).some((d) => d.urn === db.urn);
}

/**
 * A PRIMARY-role site's database has its automated backups replicated to another region
 * (`aws.rds.InstanceAutomatedBackupsReplication`), kept at least 7 days (by default).
 *
 * Severity: high; enforcement: mandatory. If the primary region is lost, point-in-time recovery
 * is only possible from backups already copied out of it (docs/architecture.md §4, layer 1). The replication
 * resource must say its `region` (the peer's): left to the provider default, it lands in the
 * source's own region.
 * https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ReplicateBackups.html
 */
export const drRdsInstanceBackupsReplicated: StackValidationPolicy = {
  name: "dr-rds-instance-backups-replicated",
  description: "The primary site's automated backups are replicated to another region.",
  enforcementLevel: "mandatory",
  severity: "high",
  url: "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ReplicateBackups.html",
  configSchema,
  validateStack: (args, reportViolation) => {
    const { minimumDays } = thresholds<{ minimumDays: number }>(configSchema, args);
    const replications = ofTypes(args.resources, TYPES.dbBackupsReplication);
    for (const db of primaryInstances(args.resources)) {
      const mine = replications.filter((r) => replicates(r, db));
      if (mine.length === 0) {
        reportViolation(
          `primary instance ${db.name} has no InstanceAutomatedBackupsReplication: replicate its ` +
            `automated backups to the peer region`,
          db.urn,
        );
      }
      const dbRegion = propsOf<aws.rds.InstanceArgs>(db).region;
      for (const r of mine) {
        const p = propsOf<aws.rds.InstanceAutomatedBackupsReplicationArgs>(r);
        if (p.region === undefined || p.region === dbRegion) {
          reportViolation(
            `automated backups of ${db.name} are replicated to ${p.region ?? "the provider's default region"}, ` +
              `not another region; set region to the peer region`,
            r.urn,
          );
        }
        if (p.retentionPeriod !== undefined && p.retentionPeriod < minimumDays) {
          reportViolation(
            `replicated automated backups of ${db.name} are kept ${p.retentionPeriod} days; keep ` +
              `them at least ${minimumDays}`,
            r.urn,
          );
        }
      }
    }
  },
};
