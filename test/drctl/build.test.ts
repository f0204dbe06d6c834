import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { ROOT } from "../support/stackFiles";

const run = promisify(execFile);
// Inside the repository so the compiled files resolve node_modules as they do in the image.
const outDir = mkdtempSync(join(ROOT, "drctl", ".build-"));
afterAll(() => rmSync(outDir, { recursive: true, force: true }));

describe("the container image's build of drctl", { timeout: 300_000 }, () => {
  it("compiles with drctl/tsconfig.build.json and runs from the compiled files", async () => {
    await run(
      process.execPath,
      [
        require.resolve("typescript/bin/tsc"),
        "-p",
        "drctl/tsconfig.build.json",
        "--outDir",
        outDir,
      ],
      {
        cwd: ROOT,
      },
    );
    const main = join(outDir, "drctl", "src", "main.js");
    const version = await run(
      process.execPath,
      [
        "-e",
        `require(${JSON.stringify(main)}).main(["--version"]).then((c) => (process.exitCode = c))`,
      ],
      { cwd: ROOT },
    );
    expect(version.stdout.trim()).toMatch(/^drctl \d+\.\d+\.\d+$/);
    const help = await run(
      process.execPath,
      [
        "-e",
        `require(${JSON.stringify(main)}).main(["failover", "--help"]).then((c) => (process.exitCode = c))`,
      ],
      { cwd: ROOT },
    );
    expect(help.stdout).toContain("usage: drctl failover --to <site> [options]");
  });
});
