import { execFile, spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { join, relative } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DRCTL_VERSION } from "../../drctl/src/version";
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

/**
 * The checkout's build (drctl/build.js, run by `npm ci` through package.json "prepare") and the
 * launcher that runs it, on a copy of the sources so that touching a file here cannot disturb a
 * test running drctl meanwhile. The copy sits inside the repository: its build resolves
 * node_modules as the real one does.
 */
describe("the checkout's build and its launcher", { timeout: 300_000 }, () => {
  const copy = mkdtempSync(join(ROOT, "drctl", ".build-"));
  const launcher = join(copy, "drctl", "bin", "drctl");
  const dist = join(copy, "drctl", "dist");
  afterAll(() => rmSync(copy, { recursive: true, force: true }));

  const drctl = (args: string[]) =>
    spawnSync(launcher, args, { encoding: "utf8", env: { PATH: process.env.PATH } });
  /** The launcher's notices: JSON warning events, stderr not being a terminal. */
  const notices = (stderr: string) =>
    stderr
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => (JSON.parse(l) as { event: string; op: string; message: string }).message);

  it("builds every command and the failover orchestrator, and runs from the build", () => {
    for (const p of ["tsconfig.json", "components", "drctl/bin", "drctl/build.js", "drctl/src"]) {
      cpSync(join(ROOT, p), join(copy, p), { recursive: true });
    }
    const built = spawnSync(process.execPath, [join(copy, "drctl", "build.js")], {
      encoding: "utf8",
    });
    expect(built.status).toBe(0);
    expect(built.stdout).toMatch(/^drctl: built \d+ files into drctl\/dist in \d+\.\d s\n$/);
    for (const f of ["main", "commands/check", "commands/backup", "failover/command"]) {
      expect(existsSync(join(dist, "drctl", "src", `${f}.js`))).toBe(true);
    }
    // The orchestrator reads the stack config's schema: built too, from outside drctl/src.
    expect(existsSync(join(dist, "components", "config", "index.js"))).toBe(true);
    const r = drctl(["--version"]);
    expect([r.status, r.stdout, r.stderr]).toEqual([0, `drctl ${DRCTL_VERSION}\n`, ""]);
    const help = drctl(["failover", "--help"]);
    expect(help.stdout).toContain("usage: drctl failover --to <site> [options]");
  });

  it("rebuilds a build older than a source before running it, and says so once", () => {
    const source = join(copy, "drctl", "src", "commands", "list.ts");
    const later = new Date(Date.now() + 5_000);
    utimesSync(source, later, later);
    const first = drctl(["--version"]);
    expect(first.stdout).toBe(`drctl ${DRCTL_VERSION}\n`);
    expect(notices(first.stderr)).toEqual([
      expect.stringMatching(
        /^drctl\/src\/commands\/list\.ts changed after the build: rebuilt drctl\/dist in \d+ ms \(npm run build:drctl\)$/,
      ),
    ]);
    const stamp = JSON.parse(readFileSync(join(dist, "checkout-build.json"), "utf8")) as {
      startedAt: number;
    };
    expect(stamp.startedAt).toBeGreaterThanOrEqual(later.getTime() - 5_000);
    // Until its clock-ahead moment passes the source still reads as newer than any build; put it
    // back in the past so that the checks below name only the file they are about, however fast
    // this machine ran them.
    const earlier = new Date(stamp.startedAt - 1_000);
    utimesSync(source, earlier, earlier);
    // A new file under drctl/src is caught the same way.
    writeFileSync(join(copy, "drctl", "src", "added.ts"), "export const added = 1;\n");
    const utime = new Date(Date.now() + 60_000);
    utimesSync(join(copy, "drctl", "src", "added.ts"), utime, utime);
    expect(notices(drctl(["--version"]).stderr)).toEqual([
      expect.stringMatching(/^drctl\/src\/added\.ts changed after the build: rebuilt/),
    ]);
    expect(existsSync(join(dist, "drctl", "src", "added.js"))).toBe(true);
  });

  it("runs the sources through ts-node when the build cannot be redone, and says why", () => {
    rmSync(join(copy, "drctl", "src", "added.ts"));
    // A file where the build writes a directory: no user, root included, can rebuild it.
    rmSync(join(dist, "drctl", "src", "commands"), { recursive: true });
    writeFileSync(join(dist, "drctl", "src", "commands"), "");
    const r = drctl(["--version"]);
    expect(r.stdout).toBe(`drctl ${DRCTL_VERSION}\n`);
    expect(notices(r.stderr)).toEqual([
      expect.stringMatching(
        /^drctl\/src\/added\.ts was removed after the build and rebuilding it failed \(EEXIST: .*\); running the TypeScript sources through ts-node \(slower start\)$/,
      ),
    ]);
  });
});

/** What `drctl --version` and one command load: only what they run (drctl/src/main.ts). */
describe("drctl's lazy loading", { timeout: 120_000 }, () => {
  const loaded = (argv: string[]): string[] => {
    const main = join(ROOT, "drctl", "dist", "drctl", "src", "main.js");
    const r = spawnSync(
      process.execPath,
      [
        "-e",
        `require(${JSON.stringify(main)}).main(${JSON.stringify(argv)}, ` +
          `{ stdout: { write() {} }, stderr: { write() {} }, env: {} })` +
          `.then(() => process.stdout.write(JSON.stringify(Object.keys(require.cache))))`,
      ],
      { encoding: "utf8", cwd: ROOT },
    );
    return (JSON.parse(r.stdout) as string[]).map((f) => relative(ROOT, f));
  };

  beforeAll(() => {
    expect(spawnSync(process.execPath, [join(ROOT, "drctl", "build.js")]).status).toBe(0);
  });

  it("--version loads no package and no command", () => {
    expect(loaded(["--version"]).sort()).toEqual([
      "drctl/dist/drctl/src/errors.js",
      "drctl/dist/drctl/src/failoverUsage.js",
      "drctl/dist/drctl/src/main.js",
      "drctl/dist/drctl/src/version.js",
    ]);
  });

  it("a command loads its own module, never another command's or the failover orchestrator", () => {
    const files = loaded(["list", "--help"]);
    expect(files).toContain("drctl/dist/drctl/src/commands/list.js");
    expect(files.filter((f) => f.includes("/commands/"))).toEqual([
      "drctl/dist/drctl/src/commands/list.js",
    ]);
    expect(files.filter((f) => f.includes("/failover/"))).toEqual([]);
    expect(files.filter((f) => f.includes("node_modules/@pulumi/"))).toEqual([]);
  });
});

describe("the image's build context", () => {
  it("leaves out every dist, so the checkout's build (with the orchestrator) never enters the image", () => {
    const ignored = readFileSync(join(ROOT, ".dockerignore"), "utf8").split("\n");
    expect(ignored).toContain("**/dist");
  });
});
