import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import {
  BackupJobs,
  scratchImageProblem,
  type BackupJobsArgs,
} from "../../components/backups/jobs";
import { jobActivity, validateBackupCronJobsArgs } from "../../components/backups/cronJobs";
import { httpsExcept } from "../../components/backups/egress";
import { computedState, mockCall } from "../support/mocks";

/**
 * BackupJobs built directly with the data tier's values as outputs (as index.ts hands them
 * over), to pin how the database connection and the secret grants are wired.
 */

const SECRET = "arn:aws:secretsmanager:us-east-1:111122223333:secret:acme-dr-use1/db/backup-AbCdEf";
const SECRET_PATTERN =
  "arn:aws:secretsmanager:us-east-1:111122223333:secret:acme-dr-use1/db/backup-??????";
const MASTER = "arn:aws:secretsmanager:*:111122223333:secret:acme-dr-use1/db/master-??????";
const PINNED = `postgres:16.4@sha256:${"e6".repeat(32)}`;
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
    roleNames: {
      writer: "acme-dr-use1-drctl-writer",
      reader: "acme-dr-use1-drctl-reader",
      drill: "acme-dr-use1-drctl-drill",
    },
    bucketName: "acme-dr-use1-backups-111122223333",
    bucketArn: "arn:aws:s3:::acme-dr-use1-backups-111122223333",
    kmsKeyArn: "arn:aws:kms:us-east-1:111122223333:key/k",
    metricsNamespace: "DrStack/Backups",
    vpcCidr: "10.10.0.0/16",
    image: "ghcr.io/dr-stack/drctl@sha256:abc",
    postgresVersion: "16",
    scratchImage: PINNED,
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
    loginSecretArnPattern: SECRET_PATTERN,
    deniedSecretArnPatterns: [MASTER],
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
        PGSSLMODE: "verify-full",
        PGSSLROOTCERT: "/etc/drctl/rds-ca.pem",
        DRCTL_DB_SECRET_ARN: SECRET,
        DRCTL_TIER: tier,
      });
    }
    for (const n of ["verify-daily", "restore-drill", "backup-status"]) {
      expect(envOf(jobs[n]).PGHOST, n).toBeUndefined();
      expect(envOf(jobs[n]).DRCTL_DB_SECRET_ARN, n).toBeUndefined();
    }
  });

  it("lets only the writer read the login secret, and denies every identity the master", async () => {
    const seen = await build();
    const policies = Object.fromEntries(
      seen
        .filter((r) => r.type === "aws:iam/rolePolicy:RolePolicy")
        .map((r) => [r.name, JSON.parse(r.inputs.policy)]),
    );
    expect(Object.keys(policies).sort()).toEqual([
      "t-irsa-drill",
      "t-irsa-reader",
      "t-irsa-writer",
    ]);
    const secretStatements = (doc: any) =>
      doc.Statement.filter((s: any) =>
        s.Action.some((a: string) => a.startsWith("secretsmanager:")),
      );
    const deny = {
      Sid: "DenyMasterCredentials",
      Effect: "Deny",
      Action: ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
      Resource: [MASTER],
    };
    expect(secretStatements(policies["t-irsa-writer"])).toEqual([
      {
        Sid: "ReadBackupLoginSecret",
        Effect: "Allow",
        Action: ["secretsmanager:GetSecretValue"],
        Resource: [SECRET_PATTERN],
      },
      deny,
    ]);
    expect(secretStatements(policies["t-irsa-reader"])).toEqual([deny]);
    expect(secretStatements(policies["t-irsa-drill"])).toEqual([deny]);
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

  it("accepts only a scratch image pinned by digest, of the database's major version", () => {
    expect(scratchImageProblem(PINNED, "16")).toBeUndefined();
    expect(scratchImageProblem(`postgres@sha256:${"0".repeat(64)}`, "16")).toBeUndefined();
    expect(scratchImageProblem("postgres:16", "16")).toBe(
      '"postgres:16" is not pinned by digest; set dr-stack:jobs.scratchImage to ' +
        "postgres:16.<minor>@sha256:<64 hex digits> " +
        "(`docker buildx imagetools inspect postgres:16.<minor>` prints the digest)",
    );
    expect(scratchImageProblem("postgres:16@sha256:abc", "16")).toContain("not pinned by digest");
    expect(scratchImageProblem(PINNED, "17")).toBe(
      `"${PINNED}" is PostgreSQL 16 but the database runs 17; pin a postgres:17.x image so the drill restores into the same major version`,
    );
  });
});
