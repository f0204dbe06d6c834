import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { findPgBinary } from "../../drctl/src/postgres/binaries";
import { freePort, type LocalCluster } from "../../drctl/src/postgres/localCluster";
import { drctl, errorEvents, plainErrors } from "../support/cli";
import { createDatabase, sql, startCluster } from "../support/postgres";

/**
 * Every failure a person can cause is one line (what, why, what to do) plus a JSON error event,
 * and no secret reaches a child's argv (issue 14, items 6 and 7).
 */
let cluster: LocalCluster;
let work: string;
let db: string;
const PASSWORD = "pw-Kx81-never-in-argv";

beforeAll(async () => {
  cluster = await startCluster();
  db = await createDatabase(cluster, "errs");
  await sql(
    cluster,
    db,
    `create table payload as select g as id, md5(g::text) || md5((g + 1)::text) as body
     from generate_series(1, 40000) g`,
  );
  // `app` must authenticate with SCRAM; the superuser keeps trust for the test's own SQL.
  await sql(cluster, "postgres", `create role app login password '${PASSWORD}'`);
  await sql(cluster, db, "grant select on payload to app");
  writeFileSync(
    join(cluster.dataDir, "pg_hba.conf"),
    "host all postgres 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 scram-sha-256\n",
  );
  await sql(cluster, "postgres", "select pg_reload_conf()");
  work = mkdtempSync(join(tmpdir(), "drctl-errs-"));
}, 120_000);

afterAll(async () => {
  await cluster?.destroy();
  rmSync(work, { recursive: true, force: true });
});

function appUrl(extra = ""): string {
  return `postgresql://app${extra}@127.0.0.1:${cluster.port}/${db}`;
}

describe("one line and a JSON event for each failure a person can cause", () => {
  let store: string;
  beforeAll(() => {
    store = pathToFileURL(mkdtempSync(join(work, "store-"))).href;
  });

  it("a host that accepts and never answers fails within DRCTL_CONNECT_TIMEOUT", async () => {
    // What a regional outage looks like from the client: the SYN is answered, nothing else is.
    const sockets: Socket[] = [];
    const silent: Server = createServer((s) => void sockets.push(s));
    const port = await freePort();
    await new Promise<void>((r) => silent.listen(port, "127.0.0.1", r));
    try {
      const started = Date.now();
      const r = await drctl(["backup", "--tier", "daily", "--store", store], {
        DATABASE_URL: `postgresql://app@127.0.0.1:${port}/app`,
        DRCTL_CONNECT_TIMEOUT: "1",
      });
      const message = `database 127.0.0.1:${port}/app: no answer within the connect deadline (DRCTL_CONNECT_TIMEOUT, default 10 s); check that the host is up and reachable (a regional outage looks like this)`;
      expect(r.code).toBe(1);
      expect(plainErrors(r.stderr)).toEqual([`drctl backup: ${message}`]);
      expect(errorEvents(r.stderr)).toEqual([message]);
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });

  it("no password for a SCRAM login", async () => {
    const r = await drctl(["backup", "--tier", "daily", "--store", store], {
      DATABASE_URL: appUrl(),
    });
    expect(r.code).toBe(1);
    expect(plainErrors(r.stderr)).toEqual([
      `drctl backup: database 127.0.0.1:${cluster.port}/${db}: the server asks for a password and none was given; set PGPASSWORD, DRCTL_DB_SECRET_ARN, or a ~/.pgpass file (a password in the URL works but shows in argv)`,
    ]);
    expect(errorEvents(r.stderr)).toHaveLength(1);
  });

  it("a malformed percent-escape in the URL is a usage error, not a stack trace", async () => {
    const r = await drctl(["backup", "--tier", "daily", "--store", store], {
      DATABASE_URL: `postgresql://ap%zzp@127.0.0.1:${cluster.port}/${db}`,
    });
    expect(r.code).toBe(64);
    expect(plainErrors(r.stderr)).toEqual([
      "drctl backup: --database-url has a malformed percent-escape in its user name; write a literal % as %25 (expected postgresql://user@host:5432/database)",
    ]);
  });
});

/** A bin directory whose PostgreSQL programs log their argv, then run the real ones. */
function loggingBin(dir: string, log: string): void {
  const realBin = dirname(findPgBinary("pg_dump").path);
  mkdirSync(dir);
  for (const tool of ["pg_dump", "pg_dumpall", "pg_restore", "psql"]) {
    writeFileSync(
      join(dir, tool),
      `#!/bin/bash\nprintf '%s\\n' "${tool} $*" >> "${log}"\nexec "${realBin}/${tool}" "$@"\n`,
    );
    chmodSync(join(dir, tool), 0o755);
  }
}

describe("no secret in any argv", () => {
  it("a password in the URL (userinfo or ?password=) reaches no child's argv, and argv use is warned about", async () => {
    const bin = join(work, "logbin");
    const log = join(work, "argv.log");
    loggingBin(bin, log);
    const store = pathToFileURL(mkdtempSync(join(work, "argv-"))).href;
    const backup = await drctl(
      [
        "backup",
        "--tier",
        "daily",
        "--store",
        store,
        "--database-url",
        `${appUrl()}?password=${PASSWORD}`,
      ],
      { PG_BIN: bin },
    );
    expect(plainErrors(backup.stderr)).toEqual([]);
    expect(backup.code).toBe(0);
    const warnings = backup.stderr
      .split("\n")
      .filter((l) => l.includes('"event":"warning"'))
      .map((l) => (JSON.parse(l) as { message: string }).message);
    expect(warnings).toEqual([
      "--database-url carries a password, which any local user can read in drctl's command line; prefer PGPASSWORD or the URL in the environment, DRCTL_DB_SECRET_ARN, or ~/.pgpass",
    ]);
    const target = await createDatabase(cluster, "argvdst");
    await sql(cluster, "postgres", `alter database ${target} owner to app`);
    await sql(cluster, "postgres", "alter role app createrole");
    const restore = await drctl(
      [
        "restore",
        "latest",
        "--store",
        store,
        "--no-owner",
        "--target-url",
        `postgresql://app:${PASSWORD}@127.0.0.1:${cluster.port}/${target}`,
      ],
      { PG_BIN: bin },
    );
    expect(plainErrors(restore.stderr)).toEqual([]);
    expect(restore.code).toBe(0);
    const argv = readFileSync(log, "utf8");
    expect(argv).toMatch(/^pg_dump /m);
    expect(argv).toMatch(/^pg_dumpall /m);
    expect(argv).toMatch(/^psql /m);
    expect(argv).not.toContain(PASSWORD);
  });
});

function canMount(): boolean {
  if (process.getuid?.() !== 0) return false;
  const probe = mkdtempSync(join(tmpdir(), "drctl-mount-"));
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", probe], { stdio: "ignore" });
    execFileSync("umount", [probe], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
}

// A real full file system: a 1 MiB tmpfs (needs root and CAP_SYS_ADMIN, as in CI's container).
describe.skipIf(!canMount())("a full file system is said as such", () => {
  let small: string;
  beforeAll(() => {
    small = mkdtempSync(join(tmpdir(), "drctl-full-"));
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", small]);
  });
  afterAll(() => {
    execFileSync("umount", [small]);
    rmSync(small, { recursive: true, force: true });
  });

  it("ENOSPC on backup names the path and the bytes", async () => {
    const storeDir = join(small, "store");
    const r = await drctl(
      ["backup", "--tier", "daily", "--compress", "none", "--store", pathToFileURL(storeDir).href],
      { DATABASE_URL: cluster.url(db) },
    );
    expect(r.code).toBe(1);
    expect(plainErrors(r.stderr)).toEqual([
      expect.stringMatching(
        new RegExp(
          `^drctl backup: no space left on device writing ${storeDir}/daily/\\d{8}T\\d{6}Z-[0-9a-f]{6}/dump: \\d+ bytes written, \\d+ bytes free; the dump needs more than that: free space or point --store at a larger volume$`,
        ),
      ),
    ]);
    expect(errorEvents(r.stderr)).toHaveLength(1);
  });

  it("a full TMPDIR on restore is not reported as a corrupt archive", async () => {
    const storeDir = mkdtempSync(join(work, "tmpfull-"));
    const store = pathToFileURL(storeDir).href;
    const b = await drctl(["backup", "--tier", "daily", "--compress", "zstd", "--store", store], {
      DATABASE_URL: cluster.url(db),
    });
    expect(b.code).toBe(0);
    const target = await createDatabase(cluster, "tmpfull");
    const r = await drctl(
      ["restore", "latest", "--store", store, "--target-url", cluster.url(target)],
      {
        TMPDIR: small,
      },
    );
    expect(r.code).toBe(1);
    expect(plainErrors(r.stderr)).toEqual([
      expect.stringMatching(
        new RegExp(
          `^drctl restore: no space left in TMPDIR \\(${small}/drctl-restore-\\d+-\\w+\\) writing ${small}/drctl-restore-\\d+-\\w+/dump after \\d+ bytes \\(\\d+ bytes free\\); restore needs room for the uncompressed dump there: set TMPDIR to a larger volume$`,
        ),
      ),
    ]);
  });
});
