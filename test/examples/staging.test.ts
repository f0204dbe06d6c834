import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { runProgram } from "../harness";
import { ROOT } from "../support/stackFiles";

const STAGING = join(ROOT, "docs", "examples", "staging");

function configOf(path: string): Record<string, unknown> {
  return (parse(readFileSync(path, "utf8")) as { config: Record<string, unknown> }).config;
}

describe("the example staging pair", () => {
  it.each([
    ["Pulumi.staging-primary.yaml", "primary", "acme-stg-use1-backups-111122223333"],
    ["Pulumi.staging-dr.yaml", "dr", "acme-stg-usw2-backups-111122223333"],
  ] as const)(
    "%s deploys under mocks with names apart from production",
    async (file, stack, bucket) => {
      const run = await runProgram(configOf(join(STAGING, file)), stack);
      expect(run.outputs.backupBucketName).toBe(bucket);
      const cidrs = run.ofType("aws:ec2/vpc:Vpc").map((v) => v.inputs.cidrBlock);
      expect(cidrs).toEqual([stack === "primary" ? "10.30.0.0/16" : "10.40.0.0/16"]);
    },
  );
});

describe("placeholders in the example stack files", () => {
  const files = [
    "Pulumi.primary.yaml",
    "Pulumi.dr.yaml",
    "docs/examples/staging/Pulumi.staging-primary.yaml",
    "docs/examples/staging/Pulumi.staging-dr.yaml",
  ];
  it.each(files)("%s marks each value to replace with a placeholder comment", (file) => {
    const lines = readFileSync(join(ROOT, file), "utf8").split("\n");
    const marked = (re: RegExp): boolean => {
      const i = lines.findIndex((l) => re.test(l));
      return i > 0 && /# placeholder: /.test(lines[i - 1]);
    };
    for (const re of [
      /dr-stack:accountId:/,
      /^\s*image: /,
      /^\s*scratchImage: /,
      /^\s*email: /,
      /^\s*zoneId: /,
      /^\s*recordName: /,
    ]) {
      expect(marked(re), `${file}: ${re}`).toBe(true);
    }
  });
});
