import type * as aws from "@pulumi/aws";
import type { PolicyResource } from "@pulumi/policy";
import type * as pulumi from "@pulumi/pulumi";
import { ofTypes, propsOf, TYPES } from "./resources";

/**
 * How a policy tells that a stack is on the PRIMARY role, from the resources alone.
 *
 * A policy cannot read the stack's `dr-stack:role`, and a failover must not need a second config
 * key kept in step with it (docs/architecture.md §3: failover changes only `role`). So the signal is the shape
 * of the database, which the role decides:
 *
 * - `standby`: the instance is a cross-region read replica (`replicateSourceDb` set);
 * - `promoting`: the replica is detached, with its backup retention already (the provider passes it
 *   to PromoteReadReplica), but without what only a source instance has: no `username`
 *   (`isPromotingReplica`); Multi-AZ and the rest are phase 2, the `primary` role
 *   (terraform-provider-aws #4419);
 * - `fenced`: the old primary's parameter group turns `default_transaction_read_only` on;
 * - `primary`: the one left — a source instance, backups on, writable.
 *
 * A stack with such an instance must have what the primary promises: Multi-AZ, deletion
 * protection, automated backups replicated to the peer and its backup bucket replicating there.
 */
export function primaryInstances(resources: PolicyResource[]): PolicyResource[] {
  return ofTypes(resources, TYPES.dbInstance).filter((db) => {
    const p = propsOf<aws.rds.InstanceArgs>(db);
    if (p.replicateSourceDb) return false;
    if ((p.backupRetentionPeriod ?? 0) < 1) return false;
    if (isPromotingReplica(p)) return false;
    return !isReadOnly(resources, db);
  });
}

/**
 * Whether `db` (its inputs) is a read replica in phase 1 of promotion: no `replicateSourceDb`, and
 * nothing RDS needs to create a source instance — no `username` (MasterUsername), no
 * `snapshotIdentifier`, `restoreToPointInTime` or `s3Import`. RDS cannot create such an instance;
 * it can only be a replica whose source was just removed. Read from inputs, so use it in
 * resource policies (the CLI hands those the program's inputs; a stack policy sees outputs, where
 * a promoted replica reports the `username` it inherited).
 */
export function isPromotingReplica(db: Partial<pulumi.Unwrap<aws.rds.InstanceArgs>>): boolean {
  return (
    !db.replicateSourceDb &&
    !db.username &&
    !db.snapshotIdentifier &&
    !db.restoreToPointInTime &&
    !db.s3Import
  );
}

const ON = new Set(["1", "on", "true"]);

/** Whether the instance's parameter group fences it read-only (default_transaction_read_only). */
export function isReadOnly(resources: PolicyResource[], db: PolicyResource): boolean {
  const groupName = propsOf<aws.rds.InstanceArgs>(db).parameterGroupName;
  const groupDeps = new Set((db.propertyDependencies.parameterGroupName ?? []).map((d) => d.urn));
  return ofTypes(resources, TYPES.dbParameterGroup).some((g) => {
    const p = propsOf<aws.rds.ParameterGroupArgs>(g);
    const linked = groupDeps.has(g.urn) || (groupName !== undefined && p.name === groupName);
    return (
      linked &&
      (p.parameters ?? []).some(
        (x) => x.name === "default_transaction_read_only" && ON.has(String(x.value).toLowerCase()),
      )
    );
  });
}
