import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { evaluate, type Violation } from "../../policies/evaluate";
import { ROLES, roleOverrides, STACKS } from "../../policies/offline";
import { policies } from "../../policies/rules";
import { runStack } from "../harness";
import {
  AnalyzerHost,
  POLICIES_DIR,
  reconcileConfig,
  type AnalyzerInfo,
  type Diagnostic,
} from "./analyzerHost";

/**
 * The pack as the Pulumi CLI runs it (docs/architecture.md §7): started by @pulumi/pulumi's run-policy-pack
 * in policies/ (type-checked by ts-node, like `pulumi preview --policy-pack policies`), driven
 * over the analyzer gRPC protocol with what a mocked run of each stack registered, and compared
 * with the direct evaluation that policies/offline.ts and the rule tests use.
 */

const policyPkg = JSON.parse(
  readFileSync(require.resolve("@pulumi/policy/package.json"), "utf8"),
) as { version: string };

/** A violation in comparable form; the server prefixes the policy's description to messages. */
function normalize(v: Violation | Diagnostic): string {
  const message = v.message.startsWith(`${v.description}\n`)
    ? v.message.slice(v.description.length + 1)
    : v.message;
  return [v.policyName, v.enforcementLevel, v.severity ?? "", v.urn ?? "", message].join(" | ");
}
const sorted = (vs: (Violation | Diagnostic)[]) => vs.map(normalize).sort();

// ts-node type-checks the pack against the provider SDKs' declarations: 30-90 s on 2 cores.
describe("dr-stack-guard over the analyzer protocol", { timeout: 300_000 }, () => {
  let host: AnalyzerHost;
  let info: AnalyzerInfo;

  beforeAll(async () => {
    host = await AnalyzerHost.start(POLICIES_DIR);
    info = await host.analyzerInfo();
  }, 300_000);
  afterAll(async () => host?.stop());

  it("loads as the CLI loads it and describes every rule", async () => {
    expect(await host.handshake(POLICIES_DIR)).toBe("unimplemented");
    await host.configureStack("primary", "dr-stack");
    expect(info).toMatchObject({ name: "dr-stack-guard", version: "0.1.0", supportsConfig: true });
    expect(info.policies.map((p) => [p.name, p.enforcementLevel, p.severity])).toEqual(
      policies.map((p) => [p.name, p.enforcementLevel, p.severity]),
    );
    // @pulumi/policy's package.json says "v1.21.0"; the server reports its version.ts.
    expect(await host.pluginVersion()).toBe(policyPkg.version.replace(/^v/, ""));
  });

  it("declares config schemas the CLI accepts, with every threshold's default", () => {
    const { config, errors } = reconcileConfig(info.policies);
    expect(errors).toEqual([]);
    expect(config["dr-s3-bucket-tier-lifecycle"]).toEqual({
      enforcementLevel: "mandatory",
      properties: {
        dailyDays: 7,
        weeklyDays: 28,
        monthlyDays: 365,
        preRestoreDays: 7,
        backupBucketPattern: "-backups-\\d{12}$",
      },
    });
    expect(config["dr-kms-key-deletion-protection"].properties).toEqual({
      protectedActions: [
        "kms:ScheduleKeyDeletion",
        "kms:DisableKey",
        "kms:PutKeyPolicy",
        "kms:UpdateAlias",
        "kms:DeleteAlias",
      ],
      minimumDeletionWindowDays: 30,
    });
  });

  it("rejects a config the schema refuses, as the CLI would before any preview", () => {
    const { errors } = reconcileConfig(info.policies, {
      "dr-rds-instance-backup-retention": { minimumDays: "seven" },
      "dr-kubernetes-cronjob-object-lock-days": { monthlyDays: -1 },
    });
    expect(errors).toEqual([
      "dr-kubernetes-cronjob-object-lock-days: /monthlyDays must be >= 0",
      "dr-rds-instance-backup-retention: /minimumDays must be integer",
    ]);
  });

  it("rejects a schema whose own default it refuses", () => {
    const broken = [
      {
        name: "dr-example-broken",
        enforcementLevel: "mandatory" as const,
        configSchema: { properties: { days: { type: "integer", default: "7" } }, required: [] },
      },
    ];
    expect(reconcileConfig(broken).errors).toEqual(["dr-example-broken: /days must be integer"]);
  });

  const matrix = STACKS.flatMap((stack) =>
    ROLES.map((role) => ({ stack, role, file: `Pulumi.${stack}.yaml` })),
  );

  it.each(matrix)(
    "$file as $role: Analyze and AnalyzeStack report what the direct evaluation reports",
    async ({ stack, role }) => {
      const run = await runStack(stack, roleOverrides(role));
      const direct = await evaluate(policies, run.resources);
      await host.configure(reconcileConfig(info.policies).config);
      const served = [
        ...(await host.analyze(run.resources)),
        ...(await host.analyzeStack(run.resources)),
      ];
      expect(sorted(served)).toEqual(sorted(direct));
      for (const d of served) {
        expect(d.policyPackName).toBe("dr-stack-guard");
        expect(d.policyPackVersion).toBe("0.1.0");
      }
    },
  );

  it("reports a broken stack's violation with the rule's message, and honours Configure", async () => {
    const run = await runStack("dr", roleOverrides("standby"));
    const key = run.one("aws:kms/key:Key");
    const broken = run.resources.map((r) =>
      r === key ? { ...r, inputs: { ...r.inputs, enableKeyRotation: false } } : r,
    );
    await host.configure(reconcileConfig(info.policies).config);
    const before = (await host.analyze(broken)).filter((d) => d.urn === key.urn);
    expect(before.map((d) => [d.policyName, d.enforcementLevel, d.message])).toContainEqual([
      "dr-kms-key-rotation",
      "mandatory",
      "Symmetric KMS keys have automatic rotation on.\n" +
        "enableKeyRotation is not true; turn on automatic key rotation",
    ]);

    // --policy-pack-config {"dr-kms-key-rotation": "advisory"}, reconciled and sent as the CLI does.
    await host.configure(
      reconcileConfig(info.policies, { "dr-kms-key-rotation": { enforcementLevel: "advisory" } })
        .config,
    );
    const after = (await host.analyze(broken)).filter(
      (d) => d.policyName === "dr-kms-key-rotation",
    );
    expect(after.map((d) => d.enforcementLevel)).toEqual(["advisory"]);
    await host.configure(reconcileConfig(info.policies).config);
  });

  it("reports a stack policy's violation over AnalyzeStack, on the resources' outputs", async () => {
    const run = await runStack("primary", roleOverrides("primary"));
    const versioning = run.one("aws:s3/bucketVersioning:BucketVersioning");
    const bucket = run.one("aws:s3/bucket:Bucket");
    const broken = run.resources.filter((r) => r !== versioning);
    await host.configure(reconcileConfig(info.policies).config);
    const found = (await host.analyzeStack(broken)).filter(
      (d) => d.policyName === "dr-s3-bucket-versioning",
    );
    expect(found.map((d) => [d.urn, d.message])).toEqual([
      [
        bucket.urn,
        "Backup buckets keep every object version (versioning Enabled).\n" +
          `backup bucket ${bucket.state.bucket} has no BucketVersioning: add one with ` +
          'versioningConfiguration.status "Enabled"',
      ],
    ]);
  });
});

describe("a pack that does not load", { timeout: 180_000 }, () => {
  const dir = join(POLICIES_DIR, "..", "test", "policies", ".broken-pack");
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("fails to start with the type error, as `pulumi preview --policy-pack` would", async () => {
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, "package.json"),
      '{"name":"broken","version":"0.0.1","main":"index.ts"}',
    );
    writeFileSync(
      join(dir, "tsconfig.json"),
      '{"compilerOptions":{"strict":true,"module":"commonjs","target":"ES2022","types":["node"],' +
        '"skipLibCheck":true},"files":["index.ts"]}',
    );
    writeFileSync(
      join(dir, "index.ts"),
      'import { PolicyPack } from "@pulumi/policy";\n' +
        'const days: number = "7";\n' +
        'new PolicyPack("broken", { policies: [], description: String(days) });\n',
    );
    await expect(AnalyzerHost.start(dir)).rejects.toThrow(/TS2322/);
  });
});
