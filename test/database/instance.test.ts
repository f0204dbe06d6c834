import { describe, expect, it } from "vitest";
import { runStack, type StackRun } from "../harness";
import { computedState } from "../support/mocks";

const INSTANCE = "aws:rds/instance:Instance";
const PARAMS = "aws:rds/parameterGroup:ParameterGroup";
const BACKUP_REPLICATION =
  "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication";

const USE1_ARN = "arn:aws:rds:us-east-1:111122223333:db:acme-dr-use1-pg";
const USW2_ARN = "arn:aws:rds:us-west-2:111122223333:db:acme-dr-usw2-pg";

/** The cluster nodes' security group id as the mocks compute it for this run's EKS cluster. */
function nodeSecurityGroupId(run: StackRun, region: string): string {
  const cluster = run.one("aws:eks/cluster:Cluster");
  const { state } = computedState(cluster.type, cluster.name, cluster.inputs, region);
  return (state.vpcConfig as { clusterSecurityGroupId: string }).clusterSecurityGroupId;
}

describe("role: primary (Pulumi.primary.yaml)", () => {
  it("registers a Multi-AZ, encrypted, protected instance with the primary-only settings", async () => {
    const run = await runStack("primary");
    const db = run.one(INSTANCE, "acme-dr-use1-db");
    const keyArn = run.outputs.kmsKeyArn as string;
    expect(keyArn).toMatch(/^arn:aws:kms:us-east-1:111122223333:key\/[0-9a-f-]{36}$/);
    const monitoring = run.one("aws:iam/role:Role", "acme-dr-use1-db-monitoring");
    const params = run.one(PARAMS, "acme-dr-use1-db-params");
    const subnets = run.one("aws:rds/subnetGroup:SubnetGroup", "acme-dr-use1-db");
    const sg = run.one("aws:ec2/securityGroup:SecurityGroup", "acme-dr-use1-db");

    expect(db.inputs).toEqual({
      region: "us-east-1",
      identifier: "acme-dr-use1-pg",
      engine: "postgres",
      engineVersion: "16",
      instanceClass: "db.r6g.large",
      allocatedStorage: 100,
      maxAllocatedStorage: 500,
      storageType: "gp3",
      storageEncrypted: true,
      kmsKeyId: keyArn,
      multiAz: true,
      backupRetentionPeriod: 14,
      backupWindow: "23:00-23:30",
      maintenanceWindow: "tue:05:00-tue:05:30",
      deleteAutomatedBackups: false,
      deletionProtection: true,
      skipFinalSnapshot: false,
      finalSnapshotIdentifier: "acme-dr-use1-pg-final",
      copyTagsToSnapshot: true,
      performanceInsightsEnabled: true,
      performanceInsightsKmsKeyId: keyArn,
      performanceInsightsRetentionPeriod: 7,
      monitoringInterval: 60,
      monitoringRoleArn: `arn:aws:iam::111122223333:role/${monitoring.id}`,
      enabledCloudwatchLogsExports: ["postgresql", "upgrade"],
      iamDatabaseAuthenticationEnabled: true,
      username: "dradmin",
      dbName: "app",
      // The master secret's password (docs/architecture.md §8), never an RDS-managed secret: RDS refuses a
      // read replica of a source whose password Secrets Manager manages.
      password: JSON.parse(
        run.one("aws:secretsmanager/secretVersion:SecretVersion", "acme-dr-use1-db-master").inputs
          .secretString,
      ).password,
      parameterGroupName: params.id,
      dbSubnetGroupName: subnets.id,
      vpcSecurityGroupIds: [sg.id],
      publiclyAccessible: false,
      port: 5432,
      autoMinorVersionUpgrade: true,
      applyImmediately: true,
      tags: { "dr-stack:site": "use1", "dr-stack:project": "acme-dr" },
    });
    expect(db.protect).toBe(true);
    expect(db.deleteBeforeReplace).toBe(true);
    expect(db.replaceOnChanges).toEqual([]);
    expect(db.ignoreChanges).toEqual(["username", "dbName", "password"]);
  });

  it("forces TLS, lives in the private subnets and admits 5432 only from the cluster nodes", async () => {
    const run = await runStack("primary");
    const params = run.one(PARAMS, "acme-dr-use1-db-params");
    expect(params.inputs.family).toBe("postgres16");
    expect(params.inputs.region).toBe("us-east-1");
    expect(params.inputs.parameters).toEqual([
      { name: "rds.force_ssl", value: "1", applyMethod: "immediate" },
      { name: "shared_preload_libraries", value: "pg_cron", applyMethod: "pending-reboot" },
    ]);

    const subnets = run.one("aws:rds/subnetGroup:SubnetGroup", "acme-dr-use1-db");
    expect(subnets.inputs.subnetIds).toEqual(run.outputs.privateSubnetIds);
    expect(subnets.inputs.subnetIds).toHaveLength(3);

    const sg = run.one("aws:ec2/securityGroup:SecurityGroup", "acme-dr-use1-db");
    expect(sg.inputs.vpcId).toBe(run.outputs.vpcId);
    expect(sg.inputs.ingress ?? []).toEqual([]);
    expect(sg.inputs.egress ?? []).toEqual([]);
    const rules = run
      .ofType("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
      .filter((r) => r.inputs.securityGroupId === sg.id);
    expect(rules.map((r) => r.inputs)).toEqual([
      {
        region: "us-east-1",
        securityGroupId: sg.id,
        referencedSecurityGroupId: nodeSecurityGroupId(run, "us-east-1"),
        ipProtocol: "tcp",
        fromPort: 5432,
        toPort: 5432,
        description: "PostgreSQL from the EKS nodes",
        tags: { "dr-stack:site": "use1", "dr-stack:project": "acme-dr" },
      },
    ]);
  });

  it("replicates automated backups into the peer region with the peer's key ARN and the same retention", async () => {
    const run = await runStack("primary");
    const repl = run.one(BACKUP_REPLICATION);
    expect(repl.name).toBe("acme-dr-use1-db-backups-to-us-west-2");
    // The key ARN, as KMS answers for the peer's alias (the ForceNew kmsKeyId is read back so):
    // the same ARN the dr stack's own run registers for its key.
    const drKeyArn = (await runStack("dr")).outputs.kmsKeyArn as string;
    expect(drKeyArn).toMatch(/^arn:aws:kms:us-west-2:111122223333:key\/[0-9a-f-]{36}$/);
    expect(repl.inputs).toEqual({
      region: "us-west-2",
      sourceDbInstanceArn: USE1_ARN,
      kmsKeyId: drKeyArn,
      retentionPeriod: 14,
    });
  });

  it("gives enhanced monitoring its own role with the AWS managed policy", async () => {
    const run = await runStack("primary");
    const role = run.one("aws:iam/role:Role", "acme-dr-use1-db-monitoring");
    expect(JSON.parse(role.inputs.assumeRolePolicy).Statement).toEqual([
      {
        Effect: "Allow",
        Principal: { Service: "monitoring.rds.amazonaws.com" },
        Action: "sts:AssumeRole",
      },
    ]);
    const attachment = run.one(
      "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
      "acme-dr-use1-db-monitoring",
    );
    expect(attachment.inputs).toEqual({
      role: role.id,
      policyArn: "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole",
    });
    expect(run.one(INSTANCE, "acme-dr-use1-db").dependsOn).toContain(attachment.urn);
  });

  it("takes backup retention from config and refuses less than 7 days", async () => {
    const run = await runStack("primary", { database: { backupRetentionDays: 21 } });
    expect(run.one(INSTANCE, "acme-dr-use1-db").inputs.backupRetentionPeriod).toBe(21);
    expect(run.one(BACKUP_REPLICATION).inputs.retentionPeriod).toBe(21);
    await expect(runStack("primary", { database: { backupRetentionDays: 5 } })).rejects.toThrow(
      "dr-stack:database.backupRetentionDays: must be at least 7, got 5",
    );
  });

  it("adds in-region read replicas of the primary when database.readReplicas > 0", async () => {
    const run = await runStack("primary", { database: { readReplicas: 2 } });
    const keyArn = run.outputs.kmsKeyArn as string;
    const params = run.one(PARAMS, "acme-dr-use1-db-params");
    const replicas = run.ofType(INSTANCE).filter((r) => r.name !== "acme-dr-use1-db");
    expect(replicas.map((r) => [r.name, r.inputs.identifier])).toEqual([
      ["acme-dr-use1-db-replica-0", "acme-dr-use1-pg-ro1"],
      ["acme-dr-use1-db-replica-1", "acme-dr-use1-pg-ro2"],
    ]);
    for (const r of replicas) {
      expect(r.inputs).toMatchObject({
        region: "us-east-1",
        replicateSourceDb: "acme-dr-use1-pg",
        storageEncrypted: true,
        kmsKeyId: keyArn,
        parameterGroupName: params.id,
        publiclyAccessible: false,
        deletionProtection: false,
        skipFinalSnapshot: true,
      });
      expect(r.inputs.multiAz).toBeUndefined();
      expect(r.protect).toBe(false);
    }
  });

  it("exports the endpoint, port, ARN, master secret and role", async () => {
    const run = await runStack("primary");
    expect(run.outputs.dbEndpoint).toMatch(
      /^acme-dr-use1-pg\.[0-9a-f]{12}\.us-east-1\.rds\.amazonaws\.com$/,
    );
    expect(run.outputs.dbPort).toBe(5432);
    expect(run.outputs.dbInstanceArn).toBe(USE1_ARN);
    expect(run.outputs.dbMasterSecretArn).toBe(
      "arn:aws:secretsmanager:us-east-1:111122223333:secret:acme-dr-use1/db/master-AbCdEf",
    );
    expect(run.outputs.dbRole).toBe("primary");
  });
});

describe("role: standby (Pulumi.dr.yaml)", () => {
  it("is a cross-region replica of the peer primary's computed ARN, encrypted with this region's key", async () => {
    const run = await runStack("dr");
    const db = run.one(INSTANCE, "acme-dr-usw2-db");
    const keyArn = run.outputs.kmsKeyArn as string;
    expect(keyArn).toMatch(/^arn:aws:kms:us-west-2:111122223333:key\//);
    expect(db.inputs.replicateSourceDb).toBe(USE1_ARN);
    expect(db.inputs).toMatchObject({
      region: "us-west-2",
      identifier: "acme-dr-usw2-pg",
      storageEncrypted: true,
      kmsKeyId: keyArn,
      performanceInsightsKmsKeyId: keyArn,
      multiAz: false,
      backupRetentionPeriod: 0,
      skipFinalSnapshot: true,
      deletionProtection: true,
      publiclyAccessible: false,
    });
    // Inherited from the source; the provider refuses them next to replicateSourceDb.
    for (const k of [
      "username",
      "dbName",
      "password",
      "manageMasterUserPassword",
      "finalSnapshotIdentifier",
    ]) {
      expect(db.inputs[k], k).toBeUndefined();
    }
    expect(db.protect).toBe(true);
    expect(db.replaceOnChanges).toEqual(["replicateSourceDb"]);
    expect(db.ignoreChanges).toEqual([]);
  });

  it("has its own parameter group, subnet group and security group in us-west-2", async () => {
    const run = await runStack("dr");
    const db = run.one(INSTANCE, "acme-dr-usw2-db");
    const params = run.one(PARAMS, "acme-dr-usw2-db-params");
    const subnets = run.one("aws:rds/subnetGroup:SubnetGroup", "acme-dr-usw2-db");
    const sg = run.one("aws:ec2/securityGroup:SecurityGroup", "acme-dr-usw2-db");
    expect(db.inputs.parameterGroupName).toBe(params.id);
    expect(db.inputs.dbSubnetGroupName).toBe(subnets.id);
    expect(db.inputs.vpcSecurityGroupIds).toEqual([sg.id]);
    for (const r of [params, subnets, sg]) expect(r.inputs.region).toBe("us-west-2");
    expect(params.inputs.parameters).toEqual([
      { name: "rds.force_ssl", value: "1", applyMethod: "immediate" },
      { name: "shared_preload_libraries", value: "pg_cron", applyMethod: "pending-reboot" },
    ]);
  });

  it("replicates no backups and has no read replicas, whatever readReplicas says", async () => {
    const run = await runStack("dr", { database: { readReplicas: 2 } });
    expect(run.ofType(BACKUP_REPLICATION)).toEqual([]);
    expect(run.ofType(INSTANCE).map((r) => r.name)).toEqual(["acme-dr-usw2-db"]);
    expect(run.outputs.dbRole).toBe("standby");
    // The standby owns its master secret too (docs/architecture.md §8), valid once it is promoted.
    expect(run.outputs.dbMasterSecretArn).toMatch(
      /^arn:aws:secretsmanager:us-west-2:111122223333:secret:acme-dr-usw2\/db\/master-/,
    );
    expect(run.outputs.dbInstanceArn).toBe(USW2_ARN);
  });
});

describe("role: promoting", () => {
  it("has no replicateSourceDb, is single-AZ still, and has its backup retention already", async () => {
    const run = await runStack("dr", { role: "promoting", database: { previousRole: "standby" } });
    const db = run.one(INSTANCE, "acme-dr-usw2-db");
    expect(db.inputs.replicateSourceDb).toBeUndefined();
    expect(db.inputs).toMatchObject({
      identifier: "acme-dr-usw2-pg",
      kmsKeyId: run.outputs.kmsKeyArn,
      multiAz: false,
      // Passed to PromoteReadReplica by the provider: the writable database is never without
      // automated backups (issue 13.7 / 15.3).
      backupRetentionPeriod: 14,
      skipFinalSnapshot: false,
      finalSnapshotIdentifier: "acme-dr-usw2-pg-final",
    });
    expect(db.inputs.manageMasterUserPassword).toBeUndefined();
    expect(db.protect).toBe(true);
    expect(db.replaceOnChanges).toEqual([]);
    expect(run.ofType(BACKUP_REPLICATION)).toEqual([]);
    expect(run.outputs.dbRole).toBe("promoting");
  });
});

describe("role: fenced", () => {
  it("adds default_transaction_read_only to the same parameter group; the instance only drops deletion protection", async () => {
    const run = await runStack("primary", {
      role: "fenced",
      database: { previousRole: "primary" },
    });
    const params = run.one(PARAMS, "acme-dr-use1-db-params");
    expect(params.inputs.parameters).toEqual([
      { name: "rds.force_ssl", value: "1", applyMethod: "immediate" },
      { name: "shared_preload_libraries", value: "pg_cron", applyMethod: "pending-reboot" },
      { name: "default_transaction_read_only", value: "1", applyMethod: "immediate" },
    ]);
    const db = run.one(INSTANCE, "acme-dr-use1-db");
    expect(db.inputs.parameterGroupName).toBe(params.id);
    expect(db.inputs).toMatchObject({
      multiAz: true,
      backupRetentionPeriod: 14,
      // So that a failback can replace it in one update; Pulumi's protect still guards it.
      deletionProtection: false,
    });
    expect(db.protect).toBe(true);
  });

  it("stops backup replication and drops the read replicas", async () => {
    const run = await runStack("primary", {
      role: "fenced",
      database: { previousRole: "primary", readReplicas: 2 },
    });
    expect(run.ofType(BACKUP_REPLICATION)).toEqual([]);
    expect(run.ofType(INSTANCE).map((r) => r.name)).toEqual(["acme-dr-use1-db"]);
    expect(run.outputs.dbRole).toBe("fenced");
  });
});
