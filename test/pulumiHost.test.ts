import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { ROOT, stackConfig, toAllConfig } from "./harness";

const run = promisify(execFile);
const host = join(ROOT, "test/support/pulumiHost.js");
const scratch = mkdtempSync(join(tmpdir(), "drstack-host-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function configFile(stack: "primary" | "dr"): string {
  const file = join(scratch, `${stack}.json`);
  writeFileSync(file, JSON.stringify(toAllConfig(stackConfig(stack))));
  return file;
}

// Type-checking the program against the provider SDKs' declarations takes 15-60 s on 2 cores.
describe("loading the program the way `pulumi up` does", { timeout: 300_000 }, () => {
  it("type-checks and runs index.ts through ts-node with the project's tsconfig", async () => {
    const { stdout } = await run(process.execPath, [host, "index.ts", configFile("dr"), "dr"], {
      cwd: ROOT,
      env: { ...process.env, PULUMI_NODEJS_TRANSPILE_ONLY: "" },
    });
    const result = JSON.parse(stdout);
    expect(result.types).toContain("aws:eks/cluster:Cluster");
    expect(result.types).toContain("drstack:compute:Cluster");
    expect(result.outputs).toContain("kubeconfig");
  });

  it("fails the deployment on a type error, as the real host would", async () => {
    const bad = join(ROOT, "test", ".host-type-error.ts");
    writeFileSync(bad, 'const port: number = "5432";\nexport const value = port;\n');
    try {
      await expect(
        run(process.execPath, [host, bad, configFile("primary"), "primary"], { cwd: ROOT }),
      ).rejects.toMatchObject({ stderr: expect.stringContaining("TS2322") });
    } finally {
      rmSync(bad, { force: true });
    }
  });
});
