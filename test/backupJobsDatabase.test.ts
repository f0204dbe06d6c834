import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { BackupJobs, scratchImageFor, type BackupJobsArgs } from "../components/backupJobs";
import { httpsExcept, jobActivity, validateBackupCronJobsArgs } from "../components/backupCronJobs";
import { computedState, mockCall } from "./support/mocks";

/**
 * The database host and the backup role's secret come from the data tier, which index.ts does
 * not compose yet. These tests build BackupJobs directly with stand-in values (outputs, as the
 * data tier will hand them over) to pin how they are wired.
 */

const SECRET = "arn:aws:secretsmanager:us-east-1:111122223333:secret:acme-dr-use1-backup-AbCdEf";
const HOST = "acme-dr-use1-pg.c0ffee123456.us-east-1.rds.amazonaws.com";

interface Seen {
  type: string;
  name: string;
  inputs: Record<string, any>;
}

async function build(overrides: Partial<BackupJobsArgs> = {}): Promise<Seen[]> {
  const seen: Seen[] = [];
  await pulumi.runtime.setMocks(
    {
      newResource(a) {
        seen.push({ type: a.type, name: a.name, inputs: a.inputs });
        return computedState(a.type, a.name, a.inputs, "us-east-1");
      },
      call: (a) => mockCall(a, "us-east-1"),
    },
    "dr-stack",
    "unit",
  );
  const provider = new k8s.Provider("k8s", { kubeconfig: "{}" });
  const jobs = new BackupJobs("t", {
    region: "us-east-1",
    role: "primary",
    provider,
    oidcProviderArn:
      "arn:aws:iam::111122223333:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC",
    oidcIssuer: "oidc.eks.us-east-1.amazonaws.com/id/ABC",
    namespace: "dr-backup",
    serviceAccount: "drctl",
    bucketName: "acme-dr-use1-backups-111122223333",
    bucketArn: "arn:aws:s3:::acme-dr-use1-backups-111122223333",
    kmsKeyArn: "arn:aws:kms:us-east-1:111122223333:key/k",
    metricsNamespace: "DrStack/Backups",
    vpcCidr: "10.10.0.0/16",
    image: "ghcr.io/dr-stack/drctl@sha256:abc",
    postgresVersion: "16",
    schedules: {
      daily: "0 2 * * *",
      weekly: "0 3 * * 0",
      monthly: "0 4 1 * *",
      verify: "30 5 * * *",
      drill: "0 6 2 * *",
      status: "15 * * * *",
    },
    databaseHost: pulumi.output(HOST),
    databaseSecretArn: pulumi.output(SECRET),
    ...overrides,
  });
  await new Promise((resolve) => pulumi.all([jobs.roleArn, jobs.cronJobNames]).apply(resolve));
  return seen;
}

const envOf = (cj: Seen): Record<string, string> =>
  Object.fromEntries(
    cj.inputs.spec.jobTemplate.spec.template.spec.containers[0].env.map((e: any) => [
      e.name,
      e.value,
    ]),
  );

describe("BackupJobs with the data tier's outputs", () => {
  it("gives only the backup jobs the database host and the secret ARN", async () => {
    const seen = await build();
    const jobs = Object.fromEntries(
      seen
        .filter((r) => r.type === "kubernetes:batch/v1:CronJob")
        .map((r) => [r.inputs.metadata.name, r]),
    );
    for (const tier of ["daily", "weekly", "monthly"]) {
      expect(envOf(jobs[`backup-${tier}`])).toMatchObject({
        PGHOST: HOST,
        PGPORT: "5432",
        PGDATABASE: "app",
        PGSSLMODE: "require",
        DRCTL_DB_SECRET_ARN: SECRET,
        DRCTL_TIER: tier,
      });
    }
    for (const n of ["verify-daily", "restore-drill", "backup-status"]) {
      expect(envOf(jobs[n]).PGHOST, n).toBeUndefined();
      expect(envOf(jobs[n]).DRCTL_DB_SECRET_ARN, n).toBeUndefined();
    }
  });

  it("lets the role read exactly that secret", async () => {
    const seen = await build();
    const policy = JSON.parse(
      seen.find((r) => r.type === "aws:iam/rolePolicy:RolePolicy")!.inputs.policy,
    );
    const secretStatements = policy.Statement.filter((s: any) =>
      s.Action.some((a: string) => a.startsWith("secretsmanager:")),
    );
    expect(secretStatements).toEqual([
      {
        Sid: "ReadBackupRoleSecret",
        Effect: "Allow",
        Action: ["secretsmanager:GetSecretValue"],
        Resource: [SECRET],
      },
    ]);
  });

  it("rejects a malformed schedule before creating anything", async () => {
    await expect(
      build({
        schedules: {
          daily: "0 25 * * *",
          weekly: "0 3 * * 0",
          monthly: "0 4 1 * *",
          verify: "30 5 * * *",
          drill: "0 6 2 * *",
          status: "15 * * * *",
        },
      }),
    ).rejects.toThrow('[schedules.daily] malformed cron "0 25 * * *": hour "25" is outside 0-23');
  });
});

describe("pure helpers", () => {
  it("runs backups only on the primary and the drill everywhere but a fenced site", () => {
    expect(jobActivity("primary")).toEqual({ backups: true, drill: true });
    expect(jobActivity("standby")).toEqual({ backups: false, drill: true });
    expect(jobActivity("promoting")).toEqual({ backups: false, drill: true });
    expect(jobActivity("fenced")).toEqual({ backups: false, drill: false });
  });

  it("also keeps HTTPS off a VPC outside the private ranges", () => {
    expect(httpsExcept("10.10.0.0/16")).not.toContain("10.10.0.0/16");
    expect(httpsExcept("198.18.0.0/16")).toEqual([
      "10.0.0.0/8",
      "172.16.0.0/12",
      "192.168.0.0/16",
      "100.64.0.0/10",
      "198.18.0.0/16",
      "169.254.0.0/16",
    ]);
  });

  it("validates store, time zone and CIDR with the argument's name", () => {
    const ok = {
      schedules: {
        daily: "0 2 * * *",
        weekly: "0 3 * * 0",
        monthly: "0 4 1 * *",
        verify: "30 5 * * *",
        drill: "0 6 2 * *",
        status: "15 * * * *",
      },
      vpcCidr: "10.10.0.0/16",
      store: "s3://b/",
    };
    expect(() => validateBackupCronJobsArgs(ok)).not.toThrow();
    expect(() => validateBackupCronJobsArgs({ ...ok, store: "s3://b" })).toThrow(
      '[store] must look like s3://<bucket>/, got "s3://b"',
    );
    expect(() => validateBackupCronJobsArgs({ ...ok, timeZone: "CET+1" })).toThrow("[timeZone]");
    expect(() => validateBackupCronJobsArgs({ ...ok, vpcCidr: "10.10.0.1/16" })).toThrow(
      "[vpcCidr]",
    );
  });

  it("maps an engine version to the scratch image", () => {
    expect(scratchImageFor("16")).toBe("postgres:16");
    expect(scratchImageFor("16.4")).toBe("postgres:16.4");
    expect(() => scratchImageFor("latest")).toThrow(
      '[postgresVersion] must look like 16 or 16.4, got "latest"',
    );
  });
});
