import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { findPgBinary } from "../../drctl/src/postgres/binaries";
import { freePort, type LocalCluster } from "../../drctl/src/postgres/localCluster";
import { DRCTL_VERSION } from "../../drctl/src/version";
import { drctl, plainErrors } from "../support/cli";
import { createDatabase, startCluster } from "../support/postgres";

let work: string;
let store: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "drctl-cli-"));
  // An existing, empty store: one that does not exist is an error of its own (storeMissing.test.ts).
  mkdirSync(join(work, "store"));
  store = pathToFileURL(join(work, "store")).href;
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("usage errors exit 64 with what was expected", () => {
  it.each([
    [
      ["frobnicate"],
      'drctl: unknown command "frobnicate"; expected one of backup, list, verify, restore, prune, status, drill, restore-test, failover, failback (drctl --help)',
    ],
    [["list", "--bogus"], "drctl list: Unknown option '--bogus'; run drctl list --help"],
    [
      ["backup", "--store", "file:///tmp/x"],
      "drctl backup: drctl backup needs --tier daily|weekly|monthly (or DRCTL_TIER)",
    ],
    [
      ["backup", "--tier", "hourly"],
      'drctl backup: --tier must be one of daily, weekly, monthly, pre-restore, got "hourly"',
    ],
    [
      ["backup", "--tier", "daily", "--compress", "lz4"],
      'drctl backup: --compress must be one of zstd, gzip, none, got "lz4"',
    ],
    [
      ["status", "--max-age", "soon", "--store", "file:///tmp/x"],
      'drctl status: --max-age must be a duration like 30s, 15m, 26h or 7d, got "soon"',
    ],
    [
      ["list", "--store", "ftp://host/x"],
      'drctl list: --store "ftp://host/x" is not supported; expected s3://bucket/prefix or file:///absolute/path',
    ],
    [
      ["list"],
      "drctl list: no store given; pass --store s3://bucket/prefix or file:///path, or set DRCTL_STORE",
    ],
    [
      ["restore", "latest", "--store", "file:///tmp/x"],
      "drctl restore: drctl restore needs --target-url postgresql://user@host/database (or DRCTL_TARGET_URL)",
    ],
    [
      ["restore", "latest", "--store", "file:///tmp/x", "--target-url", "mysql://h/db"],
      'drctl restore: --target-url must start with postgresql://, got "mysql://"; expected postgresql://user@host:5432/database',
    ],
    [
      [
        "restore",
        "latest",
        "--store",
        "file:///tmp/x",
        "--target-url",
        "postgresql://h/db",
        "--jobs",
        "0",
      ],
      'drctl restore: --jobs must be a whole number of at least 1, got "0"',
    ],
    [
      ["verify", "abc", "--all", "--store", "file:///tmp/x"],
      "drctl verify: drctl verify takes one of: a backup ID, --latest or --all",
    ],
  ])("drctl %j", async (argv, message) => {
    const r = await drctl(argv);
    expect(r.code).toBe(64);
    expect(plainErrors(r.stderr)).toEqual([message]);
    expect(r.stdout).toBe("");
  });

  it("flags win over the environment", async () => {
    const r = await drctl(["backup", "--tier", "yearly"], { DRCTL_TIER: "daily" });
    expect(plainErrors(r.stderr)).toEqual([
      'drctl backup: --tier must be one of daily, weekly, monthly, pre-restore, got "yearly"',
    ]);
  });
});

describe("failover and failback are drctl subcommands", () => {
  it("routes them to the orchestrator, whose usage the top-level help includes", async () => {
    const help = await drctl(["failover", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout.split("\n")[0]).toBe("usage: drctl failover --to <site> [options]");
    const top = await drctl(["--help"]);
    expect(top.stdout).toContain("drctl failback --to <site> [options]");
    const missing = await drctl(["failback"]);
    expect(missing.code).toBe(64);
  });
});

describe("operation errors are one line with what to do next (exit 1)", () => {
  it("an unreachable database", async () => {
    const port = await freePort();
    const r = await drctl(["backup", "--tier", "daily", "--store", store], {
      DATABASE_URL: `postgresql://app:s3cret@127.0.0.1:${port}/app`,
    });
    expect(r.code).toBe(1);
    expect(plainErrors(r.stderr)).toEqual([
      `drctl backup: database 127.0.0.1:${port}/app: connection refused; check the host and port, and that it is up`,
    ]);
    expect(r.stderr).not.toContain("s3cret");
  });

  it("an unknown backup id and an empty store", async () => {
    const r = await drctl(["verify", "20260101T000000Z-abcdef", "--store", store]);
    expect(r.code).toBe(1);
    expect(plainErrors(r.stderr)).toEqual([
      `drctl verify: backup 20260101T000000Z-abcdef not found in ${store}; run drctl list to see the ids`,
    ]);
    const latest = await drctl(["verify", "--latest", "--store", store]);
    expect(plainErrors(latest.stderr)).toEqual([
      `drctl verify: no complete backup in ${store}; run drctl backup first or check --store`,
    ]);
  });

  it("a missing pg_dump names where it looked and what to install", async () => {
    const r = await drctl(["backup", "--tier", "daily", "--store", store], { PG_BIN: "/nowhere" });
    expect(r.code).toBe(1);
    expect(plainErrors(r.stderr)).toEqual([
      "drctl backup: pg_dump not found (looked in: /nowhere); install the PostgreSQL client (Debian: apt-get install postgresql-client) or set PG_BIN to its bin directory",
    ]);
  });

  describe("against a server", () => {
    let cluster: LocalCluster;
    beforeAll(async () => {
      cluster = await startCluster();
    });
    afterAll(async () => cluster?.destroy());

    it("a pg_dump older than the server is refused before anything is written", async () => {
      const bin = join(work, "old-bin");
      const real = dirname(findPgBinary("pg_dump").path);
      rmSync(bin, { recursive: true, force: true });
      mkdirSync(bin);
      writeFileSync(join(bin, "pg_dump"), `#!/bin/sh\necho "pg_dump (PostgreSQL) 14.11"\n`);
      chmodSync(join(bin, "pg_dump"), 0o755);
      symlinkSync(join(real, "pg_restore"), join(bin, "pg_restore"));
      const r = await drctl(["backup", "--tier", "daily", "--store", store], {
        DATABASE_URL: cluster.url(),
        PG_BIN: bin,
      });
      expect(r.code).toBe(1);
      expect(plainErrors(r.stderr)).toEqual([
        expect.stringMatching(
          /^drctl backup: pg_dump 14\.11 \(.*old-bin\/pg_dump\) is older than the server \(PostgreSQL 15\.\d+.*\) and cannot dump it; install postgresql-client-15 or point PG_BIN at its bin directory$/,
        ),
      ]);
      expect((await drctl(["list", "--json", "--store", store])).stdout).toBe("[]\n");
    });

    it("the launcher runs drctl as a program: id on stdout, JSON events on stderr", async () => {
      const db = await createDatabase(cluster, "launch");
      const launcher = join(__dirname, "..", "..", "drctl", "bin", "drctl");
      // From outside the checkout: ts-node must find the repository's tsconfig, not cwd's.
      const { stdout, stderr } = await promisify(execFile)(
        launcher,
        ["backup", "--tier", "monthly"],
        {
          cwd: tmpdir(),
          env: {
            ...process.env,
            DATABASE_URL: cluster.url(db),
            DRCTL_STORE: store,
            DRCTL_COMPRESS: "none",
          },
        },
      );
      expect(stdout).toMatch(/^\d{8}T\d{6}Z-[0-9a-f]{6}\n$/);
      const events = stderr
        .trim()
        .split("\n")
        .map((l) => (JSON.parse(l) as { event: string }).event);
      expect(events[0]).toBe("start");
      expect(events[events.length - 1]).toBe("done");
    });

    it("npx drctl runs the checkout's own launcher (package.json bin)", async () => {
      // --offline: npx must resolve drctl from this project, never from the registry.
      const { stdout } = await promisify(execFile)("npx", ["--offline", "drctl", "--version"], {
        cwd: join(__dirname, "..", ".."),
      });
      expect(stdout).toBe(`drctl ${DRCTL_VERSION}\n`);
    });
  });
});
