import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { grantedForbidden, list, statements, type Statement } from "../policies/lib/iam";
import { ROOT } from "./harness";

/**
 * The GitHub workflows call only scripts that exist, pin every action to a commit SHA with a
 * version comment, check out without persisting credentials and grant least privilege
 * (STYLE rule 21). The preview runs a pull request's code with cloud credentials, so it gets
 * only short-lived ones, in a protected environment, from a role that cannot read secrets
 * (docs/architecture.md §8, docs/ci/preview.md).
 */

const DIR = join(ROOT, ".github", "workflows");
const FILES = readdirSync(DIR).filter((f) => /\.ya?ml$/.test(f));
const scripts = Object.keys(
  (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: object }).scripts,
);

interface Step {
  uses?: string;
  env?: Record<string, unknown>;
  run?: string;
  with?: Record<string, unknown>;
}
interface Job {
  permissions?: Record<string, string>;
  environment?: string | { name: string };
  steps: Step[];
  strategy?: { matrix?: { include?: Record<string, string>[] } };
}
interface Workflow {
  on: Record<string, unknown>;
  permissions?: Record<string, string>;
  jobs: Record<string, Job>;
}

const load = (file: string) => {
  const text = readFileSync(join(DIR, file), "utf8");
  return { text, doc: parse(text) as Workflow };
};
const steps = (w: Workflow) => Object.values(w.jobs).flatMap((j) => j.steps);

describe.each(FILES)(".github/workflows/%s", (file) => {
  const { text, doc } = load(file);

  it("calls only npm scripts that package.json defines", () => {
    const called = steps(doc)
      .flatMap((s) => (s.run ?? "").split("\n"))
      .flatMap((line) => {
        const run = /npm run(?: --[a-z-]+)* ([\w:-]+)/.exec(line);
        if (run) return [run[1]];
        return /\bnpm (test|t)\b/.test(line) ? ["test"] : [];
      });
    expect(called.filter((s) => !scripts.includes(s))).toEqual([]);
  });

  it("pins every action to a full commit SHA with a version comment", () => {
    const lines = text.split("\n").filter((l) => /^\s*(-\s*)?uses:/.test(l));
    expect(lines.length).toBe(steps(doc).filter((s) => s.uses).length);
    for (const line of lines) {
      expect(line, line).toMatch(/uses: [\w.-]+\/[\w./-]+@[0-9a-f]{40} # v\d+(\.\d+){0,2}$/);
    }
  });

  it("checks out without persisting the token", () => {
    const checkouts = steps(doc).filter((s) => s.uses?.startsWith("actions/checkout@"));
    expect(checkouts.length).toBeGreaterThan(0);
    for (const s of checkouts) expect(s.with?.["persist-credentials"]).toBe(false);
  });

  it("grants only contents: read at the workflow level", () => {
    expect(doc.permissions).toEqual({ contents: "read" });
  });
});

describe("ci.yml", () => {
  const { doc } = load("ci.yml");
  it("runs on every push and pull request, with the offline policy check and the tests", () => {
    expect(Object.keys(doc.on).sort()).toEqual(["pull_request", "push"]);
    const runs = steps(doc).map((s) => s.run ?? "");
    for (const cmd of [
      "npm ci",
      "npm run typecheck",
      "npm run lint",
      "npm run format:check",
      "npm run policy:check",
      "npm test",
    ]) {
      expect(runs).toContain(cmd);
    }
    expect(runs.join("\n")).toMatch(/apt-get install .*postgresql zstd/);
    expect(Object.values(doc.jobs).every((j) => j.permissions === undefined)).toBe(true);
  });
});

describe("preview.yml", () => {
  const { text, doc } = load("preview.yml");
  const job = doc.jobs.preview;
  const step = (action: string) => job.steps.find((s) => s.uses?.startsWith(`${action}@`));
  const environment = typeof job.environment === "string" ? job.environment : job.environment?.name;

  it("previews both stack files with the policy pack and comments on the PR", () => {
    // pull_request (not pull_request_target): a PR from a fork runs without secrets or OIDC.
    expect(Object.keys(doc.on)).toEqual(["pull_request"]);
    const stacks = (job.strategy?.matrix?.include ?? []).map((m) => m.stack);
    expect(stacks).toEqual(["primary", "dr"]);
    for (const s of stacks) expect(existsSync(join(ROOT, `Pulumi.${s}.yaml`))).toBe(true);
    expect(step("pulumi/actions")?.with).toMatchObject({
      command: "preview",
      "stack-name": "${{ vars.PULUMI_ORG }}/dr-stack/${{ matrix.stack }}",
      policyPacks: "policies",
      "comment-on-pr": true,
    });
    expect(existsSync(join(ROOT, "policies", "PulumiPolicy.yaml"))).toBe(true);
  });

  it("runs in the protected preview environment, with write scopes only in that job", () => {
    expect(environment).toBe("preview");
    expect(job.permissions).toEqual({
      contents: "read",
      "id-token": "write",
      "pull-requests": "write",
    });
  });

  it("holds no long-lived Pulumi token: a team token from GitHub OIDC instead", () => {
    expect(text).not.toMatch(/secrets\.PULUMI/);
    expect(text).not.toMatch(/PULUMI_ACCESS_TOKEN\s*:/);
    for (const s of job.steps) expect(s.env ?? {}).not.toHaveProperty("PULUMI_ACCESS_TOKEN");
    const auth = step("pulumi/auth-actions");
    expect(auth?.with).toEqual({
      organization: "${{ vars.PULUMI_ORG }}",
      "requested-token-type": "urn:pulumi:token-type:access_token:team",
      scope: "team:${{ vars.PULUMI_PREVIEW_TEAM }}",
      "token-expiration": 3600,
    });
    // Before the preview, after the dependencies are installed.
    const at = (action: string) => job.steps.findIndex((s) => s.uses?.startsWith(`${action}@`));
    expect(at("pulumi/auth-actions")).toBeLessThan(at("pulumi/actions"));
    expect(job.steps.findIndex((s) => s.run === "npm ci")).toBeLessThan(at("pulumi/auth-actions"));
  });

  it("gets AWS credentials through OIDC, for an hour at most", () => {
    const aws = step("aws-actions/configure-aws-credentials");
    expect(aws?.with?.["role-to-assume"]).toBe("${{ vars.AWS_PREVIEW_ROLE_ARN }}");
    expect(aws?.with?.["role-duration-seconds"]).toBe(3600);
    for (const key of ["aws-access-key-id", "aws-secret-access-key", "aws-session-token"])
      expect(aws?.with).not.toHaveProperty(key);
    expect(text).not.toMatch(/secrets\.AWS/);
  });

  it("pins the Pulumi CLI to the release of the SDK that package.json pins", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
      dependencies: Record<string, string>;
    };
    expect(pkg.dependencies["@pulumi/pulumi"]).toMatch(/^\d+\.\d+\.\d+$/);
    expect(step("pulumi/actions")?.with?.["pulumi-version"]).toBe(
      pkg.dependencies["@pulumi/pulumi"],
    );
  });
});

/**
 * The AWS role the preview assumes, as docs/ci/ holds it for `aws iam create-role` (see
 * docs/ci/preview.md). GitHub's OIDC token for a job in an environment carries
 * `sub: repo:<org>/<repo>:environment:<name>` and `aud: sts.amazonaws.com` for the AWS action:
 * https://docs.github.com/en/actions/security-for-github-actions/security-hardening-your-deployments/about-security-hardening-with-openid-connect#example-subject-claims
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_create_for-idp_oidc.html#idp_oidc_Create_GitHub
 */
describe("docs/ci/preview-role-*.json", () => {
  const read = (f: string) => readFileSync(join(ROOT, "docs", "ci", f), "utf8");
  const trust = statements(read("preview-role-trust.json"));
  const policy = statements(read("preview-role-policy.json"));
  const { doc } = load("preview.yml");
  const job = doc.jobs.preview;
  const env = typeof job.environment === "string" ? job.environment : job.environment?.name;

  it("trusts only GitHub OIDC tokens of this repository's preview environment", () => {
    expect(trust).toEqual([
      {
        Sid: "GitHubPreviewEnvironmentOnly",
        Effect: "Allow",
        Principal: {
          Federated: "arn:aws:iam::<ACCOUNT_ID>:oidc-provider/token.actions.githubusercontent.com",
        },
        Action: "sts:AssumeRoleWithWebIdentity",
        // StringEquals, never StringLike: a wildcard sub would admit any branch or PR job.
        Condition: {
          StringEquals: {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": `repo:<GITHUB_ORG>/<GITHUB_REPO>:environment:${env}`,
          },
        },
      },
    ]);
  });

  const allows = policy.filter((s) => s.Effect === "Allow");
  const allowed = allows.flatMap((s) => list(s.Action));

  it("allows only read actions (Describe, Get, List), never NotAction", () => {
    expect(allowed.length).toBeGreaterThan(0);
    expect(allowed.filter((a) => !/^[a-z0-9-]+:(Describe|Get|List)[A-Za-z*]*$/.test(a))).toEqual(
      [],
    );
    expect(policy.filter((s) => s.NotAction !== undefined || s.NotResource !== undefined)).toEqual(
      [],
    );
  });

  // What a preview never needs and a pull request's code must never get: secret values, the
  // keys that decrypt stack secrets and backups, the backups themselves, logs.
  const SECRET_READS = [
    "secretsmanager:GetSecretValue",
    "secretsmanager:BatchGetSecretValue",
    "kms:Decrypt",
    "kms:GenerateDataKey",
    "kms:ReEncryptFrom",
    "s3:GetObject",
    "s3:GetObjectVersion",
    "ssm:GetParameter",
    "ssm:GetParameters",
    "ssm:GetParametersByPath",
    "logs:GetLogEvents",
    "rds-db:connect",
  ];

  it("grants no secret, key or data read, even through a wildcard", () => {
    expect(allows.flatMap((s: Statement) => grantedForbidden(s, SECRET_READS))).toEqual([]);
  });

  it("denies those reads outright, so that a later broader grant cannot add them", () => {
    const denied = policy
      .filter((s) => s.Effect === "Deny" && list(s.Resource).includes("*") && !s.Condition)
      .flatMap((s) => list(s.Action));
    const covered = (a: string) =>
      denied.some((d) => new RegExp(`^${d.replace(/\*/g, ".*")}$`, "i").test(a));
    expect(SECRET_READS.filter((a) => !covered(a))).toEqual([]);
  });
});
