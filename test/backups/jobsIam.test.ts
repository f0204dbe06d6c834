import { describe, expect, it } from "vitest";
import { jobPolicyDocument } from "../../components/backups/identity";
import { irsaTrustPolicy } from "../../components/platform/irsa";
import { ROLES } from "../../components/config";
import * as naming from "../../components/naming";
import { runStack, type StackRun } from "../harness";

const ROLE = "aws:iam/role:Role";
const ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy";
const PURPOSES = ["writer", "reader", "drill"] as const;

function jobPolicy(run: StackRun, stem: string, purpose: string): any {
  return JSON.parse(run.one(ROLE_POLICY, `${stem}-backup-irsa-${purpose}`).inputs.policy);
}
const bySid = (doc: any) => Object.fromEntries(doc.Statement.map((s: any) => [s.Sid, s]));

/** Every statement each purpose's policy must have, exactly (docs/architecture.md §8). */
function expected(site: "use1" | "usw2", region: string, kmsKeyArn: string) {
  const arn = `arn:aws:s3:::acme-dr-${site}-backups-111122223333`;
  const tiers = [`${arn}/daily/*`, `${arn}/weekly/*`, `${arn}/monthly/*`];
  const list = (prefixes: string[]) => ({
    Sid: "ListPrefixes",
    Effect: "Allow",
    Action: ["s3:ListBucket"],
    Resource: [arn],
    Condition: { StringLike: { "s3:prefix": prefixes } },
  });
  const read = (resources: string[]) => ({
    Sid: "ReadObjects",
    Effect: "Allow",
    Action: ["s3:GetObject", "s3:GetObjectRetention"],
    Resource: resources,
  });
  const key = (actions: string[]) => ({
    Sid: "UseSiteKeyThroughS3",
    Effect: "Allow",
    Action: actions,
    Resource: [kmsKeyArn],
    Condition: { StringEquals: { "kms:ViaService": `s3.${region}.amazonaws.com` } },
  });
  const metrics = {
    Sid: "PublishBackupMetrics",
    Effect: "Allow",
    Action: ["cloudwatch:PutMetricData"],
    Resource: "*",
    Condition: { StringEquals: { "cloudwatch:namespace": "DrStack/Backups" } },
  };
  const create = (resources: string[]) => ({
    Sid: "CreateObjects",
    Effect: "Allow",
    Action: ["s3:PutObject", "s3:PutObjectRetention", "s3:AbortMultipartUpload"],
    Resource: resources,
  });
  // Both sites' master secrets, in any region (each has a replica in the peer's), master credential: docs/architecture.md §8.
  const denyMaster = {
    Sid: "DenyMasterCredentials",
    Effect: "Deny",
    Action: ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
    Resource: [
      `arn:aws:secretsmanager:*:111122223333:secret:acme-dr-${site}/db/master-??????`,
      `arn:aws:secretsmanager:*:111122223333:secret:acme-dr-${site === "use1" ? "usw2" : "use1"}/db/master-??????`,
    ],
  };
  const withReports = [...tiers, `${arn}/reports/*`];
  const tierPrefixes = ["daily/*", "weekly/*", "monthly/*"];
  return {
    writer: {
      // reports/check/: the probe of `drctl check`, which runs before each monthly backup.
      CreateObjects: create([...tiers, `${arn}/reports/check/*`]),
      ReadObjects: read([...tiers, `${arn}/reports/check/*`]),
      ListPrefixes: list([...tierPrefixes, "reports/check/*"]),
      ReadBucketProtection: {
        Sid: "ReadBucketProtection",
        Effect: "Allow",
        Action: [
          "s3:GetBucketVersioning",
          "s3:GetBucketObjectLockConfiguration",
          "s3:GetBucketPolicy",
        ],
        Resource: [arn],
      },
      UseSiteKeyThroughS3: key(["kms:GenerateDataKey", "kms:Decrypt"]),
      PublishBackupMetrics: metrics,
      ReadBackupLoginSecret: {
        Sid: "ReadBackupLoginSecret",
        Effect: "Allow",
        Action: ["secretsmanager:GetSecretValue"],
        Resource: [
          `arn:aws:secretsmanager:${region}:111122223333:secret:acme-dr-${site}/db/backup-??????`,
        ],
      },
      DecryptBackupLoginSecret: {
        Sid: "DecryptBackupLoginSecret",
        Effect: "Allow",
        Action: ["kms:Decrypt"],
        Resource: [kmsKeyArn],
        Condition: {
          StringEquals: { "kms:ViaService": `secretsmanager.${region}.amazonaws.com` },
        },
      },
      DenyMasterCredentials: denyMaster,
    },
    reader: {
      ReadObjects: read(withReports),
      ListPrefixes: list([...tierPrefixes, "reports/*"]),
      UseSiteKeyThroughS3: key(["kms:Decrypt"]),
      PublishBackupMetrics: metrics,
      DenyMasterCredentials: denyMaster,
    },
    drill: {
      CreateObjects: create([`${arn}/reports/*`]),
      ReadObjects: read(withReports),
      ListPrefixes: list([...tierPrefixes, "reports/*"]),
      UseSiteKeyThroughS3: key(["kms:GenerateDataKey", "kms:Decrypt"]),
      PublishBackupMetrics: metrics,
      DenyMasterCredentials: denyMaster,
    },
  };
}

describe("one IAM identity per job purpose (docs/architecture.md §8)", () => {
  it("primary: each purpose gets exactly its statements, scoped to use1", async () => {
    const run = await runStack("primary");
    const want = expected("use1", "us-east-1", run.outputs.kmsKeyArn);
    for (const purpose of PURPOSES) {
      const doc = jobPolicy(run, "acme-dr-use1", purpose);
      expect(doc.Version).toBe("2012-10-17");
      expect(bySid(doc), purpose).toEqual(want[purpose]);
    }
    expect(run.outputs.backupJobRoleArns).toEqual({
      writer: "arn:aws:iam::111122223333:role/acme-dr-use1-drctl-writer",
      reader: "arn:aws:iam::111122223333:role/acme-dr-use1-drctl-reader",
      drill: "arn:aws:iam::111122223333:role/acme-dr-use1-drctl-drill",
    });
  });

  it("standby: the same identities over usw2's own (replicated) bucket and key", async () => {
    const run = await runStack("dr");
    const want = expected("usw2", "us-west-2", run.outputs.kmsKeyArn);
    for (const purpose of PURPOSES) {
      expect(bySid(jobPolicy(run, "acme-dr-usw2", purpose)), purpose).toEqual(want[purpose]);
    }
  });

  // Done-when of issue 16: no Delete*, no BypassGovernanceRetention, no master secret; and
  // docs/architecture.md §2b: the same IAM in every role, so promotion changes no IAM resource.
  for (const stack of ["primary", "dr"] as const) {
    it(`${stack}: in every role, the same roles and policies, with no delete, bypass or master access`, async () => {
      const site = stack === "primary" ? "use1" : "usw2";
      let first: unknown;
      for (const role of ROLES) {
        const run = await runStack(stack, { role });
        const iam = PURPOSES.map((purpose) => ({
          role: run.one(ROLE, `acme-dr-${site}-backup-irsa-${purpose}`).inputs,
          policy: jobPolicy(run, `acme-dr-${site}`, purpose),
        }));
        first ??= iam;
        expect(iam, role).toEqual(first);
        for (const { role: r, policy } of iam) {
          expect(r.name.length).toBeLessThanOrEqual(64);
          const allowed: string[] = policy.Statement.filter(
            (s: any) => s.Effect === "Allow",
          ).flatMap((s: any) => s.Action);
          expect(allowed.filter((a) => /delete/i.test(a))).toEqual([]);
          expect(allowed).not.toContain("s3:BypassGovernanceRetention");
          expect(allowed.filter((a) => a.includes("*"))).toEqual([]);
          const secretResources = policy.Statement.filter((s: any) => s.Effect === "Allow")
            .filter((s: any) => s.Action.some((a: string) => a.startsWith("secretsmanager:")))
            .flatMap((s: any) => s.Resource);
          expect(secretResources.filter((x: string) => x.includes("/db/master"))).toEqual([]);
        }
      }
    });
  }

  it("keeps the login secret away from the reader and drill identities", () => {
    const doc = JSON.parse(
      jobPolicyDocument({
        purpose: "reader",
        region: "us-east-1",
        bucketArn: "arn:aws:s3:::b",
        kmsKeyArn: "k",
        metricsNamespace: "n",
        loginSecretArnPattern: "arn:aws:secretsmanager:us-east-1:1:secret:x-??????",
      }),
    );
    expect(doc.Statement.map((s: any) => s.Sid)).not.toContain("ReadBackupLoginSecret");
  });
});

describe("drctl's IRSA trust policies", () => {
  for (const [stack, region] of [
    ["primary", "us-east-1"],
    ["dr", "us-west-2"],
  ] as const) {
    it(`${stack}: each role trusts only its own ServiceAccount's STS tokens from this cluster`, async () => {
      const run = await runStack(stack);
      const site = stack === "primary" ? "use1" : "usw2";
      const providerArn: string = run.outputs.oidcProviderArn;
      const issuer = providerArn.split(":oidc-provider/")[1];
      expect(issuer).toMatch(
        new RegExp(`^oidc\\.eks\\.${region}\\.amazonaws\\.com/id/[0-9A-F]{32}$`),
      );
      for (const purpose of PURPOSES) {
        const role = run.one(ROLE, `acme-dr-${site}-backup-irsa-${purpose}`);
        expect(role.inputs.name).toBe(`acme-dr-${site}-drctl-${purpose}`);
        expect(JSON.parse(role.inputs.assumeRolePolicy)).toEqual({
          Version: "2012-10-17",
          Statement: [
            {
              Effect: "Allow",
              Principal: { Federated: providerArn },
              Action: "sts:AssumeRoleWithWebIdentity",
              Condition: {
                StringEquals: {
                  [`${issuer}:sub`]: `system:serviceaccount:dr-backup:drctl-${purpose}`,
                  [`${issuer}:aud`]: "sts.amazonaws.com",
                },
              },
            },
          ],
        });
      }
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

describe("IAM role names at the config's maximums", () => {
  it("stay within IAM's 64 characters for a 20-character name and 10-character sites", () => {
    // CreateRole: RoleName is 1-64 characters.
    // https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html
    const n = { name: "a".repeat(20), accountId: "111122223333" };
    const self = { site: "b".repeat(10), region: "us-east-1" };
    const peer = { site: "c".repeat(10), region: "us-west-2" };
    const names = [
      naming.replicationRoleName(n, self, peer),
      naming.backupServiceRoleName(n, self),
      ...naming.BACKUP_JOB_PURPOSES.map((p) => naming.backupJobRoleName(n, self, p)),
    ];
    expect(Math.max(...names.map((x) => x.length))).toBe(53);
    for (const name of names) expect(name).toMatch(/^[\w+=,.@-]{1,64}$/);
  });
});
