import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { evaluate, formatViolations } from "../../policies/evaluate";
import { checkCase, ROLES, runCheck, STACKS, type StackRunner } from "../../policies/offline";
import { policies } from "../../policies/rules";
import { ROOT, runStack } from "../harness";

/**
 * The offline policy check as part of `npm test`: every stack file in every role, run under
 * mocks, passes every rule — advisory ones included.
 */

const run: StackRunner = (stack, overrides) => runStack(stack, overrides);

describe("npm run policy:check: every stack in every role", () => {
  const matrix = STACKS.flatMap((stack) =>
    ROLES.map((role) => ({ stack, role, file: `Pulumi.${stack}.yaml` })),
  );

  it.each(matrix)("$file as $role: no violations", async ({ stack, role }) => {
    const result = await checkCase(run, stack, role);
    expect(result.error).toBeUndefined();
    expect(formatViolations(result.violations)).toBe(
      "Policies:\n    ✅ dr-stack-guard: no violations\n",
    );
  });
});

describe("the rules over what a real stack registered, one property changed", () => {
  it("the site key with rotation off", async () => {
    const { resources } = await runStack("primary");
    const mutated = resources.map((r) =>
      r.type === "aws:kms/key:Key"
        ? { ...r, inputs: { ...r.inputs, enableKeyRotation: false } }
        : r,
    );
    const key = resources.find((r) => r.type === "aws:kms/key:Key")!;
    expect(await evaluate(policies, mutated)).toEqual([
      {
        policyName: "dr-kms-key-rotation",
        description: "Symmetric KMS keys have automatic rotation on.",
        enforcementLevel: "mandatory",
        severity: "medium",
        urn: key.urn,
        message: "enableKeyRotation is not true; turn on automatic key rotation",
      },
    ]);
  });

  it("the EKS cluster without secrets encryption", async () => {
    const { resources } = await runStack("dr", { role: "promoting" });
    const mutated = resources.map((r) =>
      r.type === "aws:eks/cluster:Cluster"
        ? { ...r, inputs: { ...r.inputs, encryptionConfig: undefined } }
        : r,
    );
    expect((await evaluate(policies, mutated)).map((v) => [v.policyName, v.message])).toEqual([
      [
        "dr-eks-cluster-secrets-encryption",
        'encryptionConfig does not encrypt "secrets" with a KMS key; set encryptionConfig ' +
          '{ provider: { keyArn: <site key ARN> }, resources: ["secrets"] }',
      ],
    ]);
  });
});

describe("npm run policy:check as a command", () => {
  it("exits 0 and prints no violations for a compliant stack (a real child process)", async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        "-r",
        "ts-node/register/transpile-only",
        "policies/check.ts",
        "--stack",
        "primary",
        "--role",
        "primary",
      ],
      { cwd: ROOT },
    );
    expect(stdout).toContain("== Pulumi.primary.yaml as primary: 0 violation(s), 0 mandatory");
    expect([...stdout.matchAll(/dr-stack-guard@v0\.1\.0 {2}(\S+)/g)]).toEqual([]);
  }, 180_000);

  it("exits 1 and prints the rule's message when what a stack registers breaks a rule", async () => {
    // The stack config cannot express a violation: components/config/ refuses, before any
    // resource exists, every value the rules forbid (retention under the floors, a vault lock
    // under 3 days, a PRIMARY record without a health check). So the break is made where a
    // changed component would make it: in what the stack registers, here the site key's rotation.
    const broken: StackRunner = async (stack, overrides) => {
      const { resources } = await runStack(stack, overrides);
      return {
        resources: resources.map((r) =>
          r.type === "aws:kms/key:Key"
            ? { ...r, inputs: { ...r.inputs, enableKeyRotation: false } }
            : r,
        ),
      };
    };
    const lines: string[] = [];
    const code = await runCheck(broken, { stacks: ["dr"], roles: ["standby"] }, (l) =>
      lines.push(l),
    );
    expect(code).toBe(1);
    const out = lines.join("\n");
    expect(out).toContain("== Pulumi.dr.yaml as standby: 1 violation(s), 1 mandatory");
    expect(out).toMatch(
      /\[mandatory\] {2}dr-stack-guard@v0\.1\.0 {2}dr-kms-key-rotation \(aws:kms\/key:Key: acme-dr-usw2-key\)/,
    );
    expect(out).toContain("enableKeyRotation is not true; turn on automatic key rotation");

    // The pack config (--policy-config, as the CLI's --policy-pack-config) can make it advisory:
    // reported, and the check passes.
    const advisory: string[] = [];
    const relaxed = await runCheck(
      broken,
      {
        stacks: ["dr"],
        roles: ["standby"],
        config: { "dr-kms-key-rotation": { enforcementLevel: "advisory" } },
      },
      (l) => advisory.push(l),
    );
    expect(relaxed).toBe(0);
    expect(advisory.join("\n")).toContain(
      "== Pulumi.dr.yaml as standby: 1 violation(s), 0 mandatory",
    );
  });
});
