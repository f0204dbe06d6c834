import { describe, expect, it } from "vitest";
import { backupPolicyDocument, irsaTrustPolicy } from "../components/backupIdentity";
import { runStack, type StackRun } from "./harness";

const ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy";

function backupPolicy(run: StackRun, stem: string): any {
  return JSON.parse(run.one(ROLE_POLICY, `${stem}-backup-irsa`).inputs.policy);
}
const bySid = (doc: any) => Object.fromEntries(doc.Statement.map((s: any) => [s.Sid, s]));

function expectedStatements(bucket: string, region: string, kmsKeyArn: string) {
  const arn = `arn:aws:s3:::${bucket}`;
  const objects = [`${arn}/daily/*`, `${arn}/weekly/*`, `${arn}/monthly/*`, `${arn}/reports/*`];
  return {
    WriteBackupsAndReports: {
      Sid: "WriteBackupsAndReports",
      Effect: "Allow",
      Action: ["s3:PutObject", "s3:AbortMultipartUpload"],
      Resource: objects,
    },
    ReadBackupsAndReports: {
      Sid: "ReadBackupsAndReports",
      Effect: "Allow",
      Action: ["s3:GetObject"],
      Resource: objects,
    },
    ListBackupPrefixes: {
      Sid: "ListBackupPrefixes",
      Effect: "Allow",
      Action: ["s3:ListBucket"],
      Resource: [arn],
      Condition: { StringLike: { "s3:prefix": ["daily/*", "weekly/*", "monthly/*", "reports/*"] } },
    },
    UseSiteKeyThroughS3AndSecretsManager: {
      Sid: "UseSiteKeyThroughS3AndSecretsManager",
      Effect: "Allow",
      Action: ["kms:GenerateDataKey", "kms:Decrypt"],
      Resource: [kmsKeyArn],
      Condition: {
        StringEquals: {
          "kms:ViaService": [
            `s3.${region}.amazonaws.com`,
            `secretsmanager.${region}.amazonaws.com`,
          ],
        },
      },
    },
    PublishBackupMetrics: {
      Sid: "PublishBackupMetrics",
      Effect: "Allow",
      Action: ["cloudwatch:PutMetricData"],
      Resource: "*",
      Condition: { StringEquals: { "cloudwatch:namespace": "DrStack/Backups" } },
    },
  };
}

describe("drctl's IAM policy", () => {
  it("primary: scoped to use1's bucket prefixes, key and metrics namespace", async () => {
    const run = await runStack("primary");
    const doc = backupPolicy(run, "acme-dr-use1");
    expect(doc.Version).toBe("2012-10-17");
    expect(bySid(doc)).toEqual({
      ...expectedStatements(
        "acme-dr-use1-backups-111122223333",
        "us-east-1",
        run.outputs.kmsKeyArn,
      ),
      // Backups read the `backup` login's secret, never the master's (contract C2).
      ReadBackupRoleSecret: {
        Sid: "ReadBackupRoleSecret",
        Effect: "Allow",
        Action: ["secretsmanager:GetSecretValue"],
        Resource: [run.outputs.dbBackupLoginSecretArn],
      },
    });
    expect(run.outputs.dbBackupLoginSecretArn).toBe(
      "arn:aws:secretsmanager:us-east-1:111122223333:secret:acme-dr-use1/db/backup-AbCdEf",
    );
    expect(bySid(doc).WriteBackupsAndReports.Resource[0]).toBe(
      "arn:aws:s3:::acme-dr-use1-backups-111122223333/daily/*",
    );
  });

  it("standby: scoped to usw2's own (replicated) bucket and key in us-west-2", async () => {
    const run = await runStack("dr");
    const doc = backupPolicy(run, "acme-dr-usw2");
    expect(run.outputs.kmsKeyArn).toMatch(/^arn:aws:kms:us-west-2:111122223333:key\//);
    expect(bySid(doc)).toEqual(
      expectedStatements("acme-dr-usw2-backups-111122223333", "us-west-2", run.outputs.kmsKeyArn),
    );
  });

  it("names no wildcard action, grants no delete, and no secret where no backup runs", async () => {
    const doc = backupPolicy(await runStack("dr"), "acme-dr-usw2");
    const actions: string[] = doc.Statement.flatMap((s: any) => s.Action);
    expect(actions.filter((a) => a.includes("*"))).toEqual([]);
    expect(actions.filter((a) => /delete/i.test(a))).toEqual([]);
    expect(actions.filter((a) => a.startsWith("secretsmanager:"))).toEqual([]);
    // The only "*" resource is PutMetricData's, and it carries the namespace condition.
    const star = doc.Statement.filter((s: any) => s.Resource === "*");
    expect(star.map((s: any) => [s.Action, s.Condition])).toEqual([
      [
        ["cloudwatch:PutMetricData"],
        { StringEquals: { "cloudwatch:namespace": "DrStack/Backups" } },
      ],
    ]);
  });

  it("reads exactly the backup role's secret when given one", () => {
    const secret =
      "arn:aws:secretsmanager:us-east-1:111122223333:secret:acme-dr-use1-backup-AbCdEf";
    const doc = JSON.parse(
      backupPolicyDocument({
        region: "us-east-1",
        bucketArn: "arn:aws:s3:::acme-dr-use1-backups-111122223333",
        kmsKeyArn: "arn:aws:kms:us-east-1:111122223333:key/k",
        metricsNamespace: "DrStack/Backups",
        databaseSecretArn: secret,
      }),
    );
    expect(bySid(doc).ReadBackupRoleSecret).toEqual({
      Sid: "ReadBackupRoleSecret",
      Effect: "Allow",
      Action: ["secretsmanager:GetSecretValue"],
      Resource: [secret],
    });
  });
});

describe("drctl's IRSA trust policy", () => {
  for (const [stack, region] of [
    ["primary", "us-east-1"],
    ["dr", "us-west-2"],
  ] as const) {
    it(`${stack}: only dr-backup/drctl tokens for STS from this cluster's issuer`, async () => {
      const run = await runStack(stack);
      const site = stack === "primary" ? "use1" : "usw2";
      const role = run.one("aws:iam/role:Role", `acme-dr-${site}-backup-irsa`);
      const trust = JSON.parse(role.inputs.assumeRolePolicy);
      const providerArn: string = run.outputs.oidcProviderArn;
      const issuer = providerArn.split(":oidc-provider/")[1];
      expect(issuer).toMatch(
        new RegExp(`^oidc\\.eks\\.${region}\\.amazonaws\\.com/id/[0-9A-F]{32}$`),
      );
      expect(trust).toEqual({
        Version: "2012-10-17",
        Statement: [
          {
            Effect: "Allow",
            Principal: { Federated: providerArn },
            Action: "sts:AssumeRoleWithWebIdentity",
            Condition: {
              StringEquals: {
                [`${issuer}:sub`]: "system:serviceaccount:dr-backup:drctl",
                [`${issuer}:aud`]: "sts.amazonaws.com",
              },
            },
          },
        ],
      });
    });
  }

  it("is built from the issuer without a scheme", () => {
    const trust = JSON.parse(
      irsaTrustPolicy("arn:aws:iam::1:oidc-provider/oidc.example/id/X", "oidc.example/id/X", "s"),
    );
    expect(Object.keys(trust.Statement[0].Condition.StringEquals)).toEqual([
      "oidc.example/id/X:sub",
      "oidc.example/id/X:aud",
    ]);
  });
});
