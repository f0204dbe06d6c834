import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { ROOT } from "./harness";

/**
 * The GitHub workflows call only scripts that exist, pin every action to a commit SHA with a
 * version comment, check out without persisting credentials and grant least privilege
 * (STYLE rule 20).
 */

const DIR = join(ROOT, ".github", "workflows");
const FILES = readdirSync(DIR).filter((f) => /\.ya?ml$/.test(f));
const scripts = Object.keys(
  (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: object }).scripts,
);

interface Step {
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
}
interface Job {
  permissions?: Record<string, string>;
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
  const { doc } = load("preview.yml");
  const job = doc.jobs.preview;

  it("previews both stack files with the policy pack and comments on the PR", () => {
    expect(Object.keys(doc.on)).toEqual(["pull_request"]);
    const stacks = (job.strategy?.matrix?.include ?? []).map((m) => m.stack);
    expect(stacks).toEqual(["primary", "dr"]);
    for (const s of stacks) expect(existsSync(join(ROOT, `Pulumi.${s}.yaml`))).toBe(true);
    const pulumi = job.steps.find((s) => s.uses?.startsWith("pulumi/actions@"));
    expect(pulumi?.with).toMatchObject({
      command: "preview",
      "stack-name": "${{ matrix.stack }}",
      policyPacks: "policies",
      "comment-on-pr": true,
    });
    expect(existsSync(join(ROOT, "policies", "PulumiPolicy.yaml"))).toBe(true);
  });

  it("gets AWS credentials through OIDC and holds write scopes only in that job", () => {
    expect(job.permissions).toEqual({
      contents: "read",
      "id-token": "write",
      "pull-requests": "write",
    });
    const aws = job.steps.find((s) => s.uses?.startsWith("aws-actions/configure-aws-credentials@"));
    expect(aws?.with?.["role-to-assume"]).toBe("${{ vars.AWS_PREVIEW_ROLE_ARN }}");
    expect(aws?.with).not.toHaveProperty("aws-access-key-id");
  });
});
