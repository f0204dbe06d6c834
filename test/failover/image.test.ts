import { execFile, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { builtinModules } from "node:module";
import { join, relative } from "node:path";
import { promisify } from "node:util";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DATABASE_TLS } from "../../components/backups/cronJobs";
import { RDS_CA_BUNDLE } from "../../components/restoreTesting/check";
import { IMAGE_RDS_CA_PATH } from "../../drctl/src/postgres/tls";

/**
 * The backup agent image carries no Pulumi SDK and no failover orchestrator (docs/architecture.md §3, issue 15):
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
      `COPY --from=rds-ca /ca/rds-ca.pem ${IMAGE_RDS_CA_PATH}`,
    ]);
  });
});

/**
 * The image ships the RDS CA bundle where the CronJobs' PGSSLROOTCERT points (database TLS, docs/architecture.md §8), and
 * no build can ship one whose SHA-256 nobody stated: the rds-ca stage's own shell step is run
 * here against a stand-in bundle. The real bundle's checksum is not sourced in this repository
 * (truststore.pki.rds.amazonaws.com is unreachable from CI); drctl/README.md says how to pin it.
 */
describe("the image's RDS CA bundle", () => {
  const dockerfile = readFileSync(join(ROOT, "drctl", "Dockerfile"), "utf8");
  const stageStart = dockerfile.indexOf("FROM ${BASE} AS rds-ca\n");
  const stage = dockerfile.slice(stageStart, dockerfile.indexOf("\nFROM ", stageStart + 1));
  /** The stage's RUN instruction as the shell gets it (backslash-newline is a continuation). */
  const script = /^RUN ((?:.*\\\n)*.*)$/m.exec(stage)?.[1] ?? "";
  const bundle =
    "-----BEGIN CERTIFICATE-----\nstand-in for global-bundle.pem\n-----END CERTIFICATE-----\n";
  const sha = createHash("sha256").update(bundle).digest("hex");
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "drctl-rds-ca-"));
    chmodSync(dir, 0o755); // as COPY makes /etc/drctl: traversable by the non-root user
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const build = (sha256: string | undefined) => {
    writeFileSync(join(dir, "rds-ca.pem"), bundle, { mode: 0o600 }); // ADD of a URL: 0600
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      RDS_CA_BUNDLE_URL: "https://mirror.example/b.pem",
    };
    if (sha256 !== undefined) env.RDS_CA_BUNDLE_SHA256 = sha256;
    return spawnSync("sh", ["-c", script], { cwd: dir, env, encoding: "utf8" });
  };

  it("lands at exactly the path the CronJobs' PGSSLROOTCERT names", () => {
    expect(IMAGE_RDS_CA_PATH).toBe(DATABASE_TLS.rootCert);
    expect(RDS_CA_BUNDLE).toBe(DATABASE_TLS.rootCert);
    const runtime = dockerfile.slice(dockerfile.lastIndexOf("\nFROM "));
    expect(runtime).toContain(`\nCOPY --from=rds-ca /ca/rds-ca.pem ${DATABASE_TLS.rootCert}\n`);
    expect(stage).toContain("\nWORKDIR /ca\nADD ${RDS_CA_BUNDLE_URL} rds-ca.pem\n");
    // No default: a default would be a checksum this repository cannot source.
    expect(stage).toMatch(/^ARG RDS_CA_BUNDLE_SHA256$/m);
  });

  it("fails the build without a checksum, or with a malformed one", () => {
    for (const given of [undefined, "", sha.toUpperCase(), sha.slice(1)]) {
      const r = build(given);
      expect(r.status).toBe(1);
      expect(r.stderr.trim()).toBe(
        `RDS_CA_BUNDLE_SHA256 must be the bundle's SHA-256 (64 lowercase hex digits), got '${given ?? ""}'; ` +
          "see drctl/README.md, Connection security",
      );
    }
  });

  it("fails the build when the bundle is not the one pinned", () => {
    const wrong = "0".repeat(64);
    const r = build(wrong);
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe(
      `the RDS CA bundle from https://mirror.example/b.pem has SHA-256 ${sha}, not ` +
        `RDS_CA_BUNDLE_SHA256=${wrong}; if AWS published a new bundle, check it and re-pin ` +
        "(drctl/README.md, Connection security)",
    );
  });

  it("with the right checksum, leaves a bundle the image's non-root user can read", () => {
    const r = build(sha);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const file = join(dir, "rds-ca.pem");
    expect(statSync(file).mode & 0o777).toBe(0o444);
    const user = /^USER (\d+):(\d+)$/m.exec(dockerfile);
    expect(user?.slice(1)).toEqual(["10001", "10001"]);
    // The file is root's in the image (COPY without --chown): the user reads it as "other".
    if (process.getuid?.() === 0) {
      const read = spawnSync("cat", [file], {
        uid: Number(user?.[1]),
        gid: Number(user?.[2]),
        encoding: "utf8",
      });
      expect(read.stdout).toBe(bundle);
    }
  });
});

/**
 * In a checkout too, drctl loads the failover code only for a failover command: the backup
 * commands never pay for it (or for the Pulumi SDK it pulls in).
 */
describe("drctl's module loading", () => {
  const loaded = async (argv: string[]): Promise<string[]> => {
    const script =
      `const m = require("./drctl/src/main.ts");` +
      `const out = { write() { return true; } };` +
      `m.main(${JSON.stringify(argv)}, { stdout: out, stderr: out, env: {} }).then(() => {` +
      `  const keys = Object.keys(require.cache).map((k) => require("path").relative(process.cwd(), k));` +
      `  process.stdout.write(JSON.stringify(keys.filter((k) => k.startsWith("drctl/src/failover/") || k.includes("node_modules/@pulumi/"))));` +
      `});`;
    const { stdout } = await run(
      process.execPath,
      ["-r", "ts-node/register/transpile-only", "-e", script],
      { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 },
    );
    return JSON.parse(stdout) as string[];
  };

  it("loads none of drctl/src/failover or @pulumi/* for a backup command or for help", async () => {
    const runs = await Promise.all([
      loaded(["list", "--help"]),
      loaded(["--help"]),
      loaded(["failover", "reconcile", "--help"]),
    ]);
    expect(runs).toEqual([[], [], []]);
  }, 240_000);

  it("loads the failover code for a failover command", async () => {
    const files = await loaded(["failover", "--to", "usw2", "--print", "--work-dir", ROOT]);
    expect(files).toContain("drctl/src/failover/command.ts");
    expect(files).toContain("drctl/src/failover/regionSwitch/execution.ts");
  }, 240_000);
});
