import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { join, relative } from "node:path";
import { promisify } from "node:util";
import ts from "typescript";
import { beforeAll, describe, expect, it } from "vitest";

/**
 * The backup agent image carries no Pulumi SDK and no failover orchestrator (DESIGN §3, issue 15):
 * what drctl/tsconfig.build.json compiles (the image's build stage) and what drctl/package.json
 * installs (the image's runtime stage, drctl/Dockerfile) are checked here without Docker.
 */
const ROOT = join(__dirname, "..", "..");
const run = promisify(execFile);
let files: string[] = [];

const packageOf = (spec: string): string =>
  spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0];

beforeAll(async () => {
  const { stdout } = await run(
    process.execPath,
    [require.resolve("typescript/bin/tsc"), "-p", "drctl/tsconfig.build.json", "--listFilesOnly"],
    { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 },
  );
  files = stdout
    .split("\n")
    .filter((f) => f.trim() !== "")
    .map((f) => relative(ROOT, f));
}, 120_000);

describe("the backup agent image's build", () => {
  it("compiles none of drctl/src/failover, components/ or @pulumi/*", () => {
    expect(files).toContain("drctl/src/main.ts");
    expect(files).toContain("drctl/src/commands/backup.ts");
    expect(files.filter((f) => f.startsWith("drctl/src/failover/"))).toEqual([]);
    expect(files.filter((f) => f.startsWith("components/"))).toEqual([]);
    expect(files.filter((f) => f.startsWith("node_modules/@pulumi/"))).toEqual([]);
  });

  it("imports exactly the packages drctl/package.json installs, none of them Pulumi's", () => {
    const imported = new Set<string>();
    for (const f of files.filter((x) => x.startsWith("drctl/src/"))) {
      const info = ts.preProcessFile(readFileSync(join(ROOT, f), "utf8"), true, true);
      for (const { fileName } of info.importedFiles) {
        if (fileName.startsWith(".") || fileName.startsWith("node:")) continue;
        if (builtinModules.includes(fileName)) continue;
        imported.add(packageOf(fileName));
      }
    }
    const manifest = JSON.parse(readFileSync(join(ROOT, "drctl", "package.json"), "utf8")) as {
      dependencies: Record<string, string>;
    };
    // @types/* are compile-time only: the build stage has the full devDependencies.
    const runtime = [...imported].filter((p) => !p.startsWith("@types/")).sort();
    expect(runtime).toEqual(Object.keys(manifest.dependencies).sort());
    const root = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
      dependencies: Record<string, string>;
    };
    for (const [name, range] of Object.entries(manifest.dependencies)) {
      expect(`${name}@${range}`).toBe(`${name}@${root.dependencies[name]}`);
    }
  });

  it("installs no Pulumi package at the root lock file's versions", () => {
    const lock = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8")) as {
      packages: Record<string, { dependencies?: Record<string, string>; dev?: boolean }>;
    };
    const manifest = JSON.parse(readFileSync(join(ROOT, "drctl", "package.json"), "utf8")) as {
      dependencies: Record<string, string>;
    };
    // Node's resolution over the lock's tree: nearest node_modules first, then up.
    const resolve = (from: string, name: string): string => {
      for (let dir = from; ; dir = dir.replace(/\/?node_modules\/(@[^/]+\/)?[^/]+$/, "")) {
        const path = `${dir ? `${dir}/` : ""}node_modules/${name}`;
        if (lock.packages[path]) return path;
        if (dir === "")
          throw new Error(`${name} (needed by ${from || "drctl"}) is not in the lock`);
      }
    };
    const seen = new Set<string>();
    const todo = Object.keys(manifest.dependencies).map((n) => resolve("", n));
    while (todo.length > 0) {
      const path = todo.pop() as string;
      if (seen.has(path)) continue;
      seen.add(path);
      for (const dep of Object.keys(lock.packages[path].dependencies ?? {})) {
        todo.push(resolve(path, dep));
      }
    }
    const names = [...seen].map((p) => p.replace(/^.*node_modules\//, ""));
    expect(names.filter((n) => n.startsWith("@pulumi/"))).toEqual([]);
    expect(names).toContain("pg");
    expect(names).toContain("@aws-sdk/client-s3");
  });

  it("runs the runtime stage's install from drctl/package.json, not the root manifest", () => {
    const dockerfile = readFileSync(join(ROOT, "drctl", "Dockerfile"), "utf8");
    const runtime = dockerfile.slice(dockerfile.lastIndexOf("\nFROM "));
    expect(runtime).toContain("COPY drctl/package.json ./package.json");
    expect(runtime).not.toMatch(/^COPY package\.json/m);
    expect(runtime).toMatch(/^RUN npm install --omit=dev /m);
    expect(runtime.match(/^COPY .*$/gm)).toEqual([
      "COPY drctl/package.json ./package.json",
      "COPY package-lock.json ./",
      "COPY --from=build /src/drctl/dist ./drctl/dist",
      "COPY drctl/bin ./drctl/bin",
    ]);
  });
});
