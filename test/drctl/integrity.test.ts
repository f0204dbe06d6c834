import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { createHash } from "node:crypto";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { findPgBinary } from "../../drctl/src/postgres/binaries";
import type { LocalCluster } from "../../drctl/src/postgres/localCluster";
import { drctl, plainErrors } from "../support/cli";
import { createDatabase, sql } from "../support/postgres";
import { startPayloadFixture, type PayloadFixture } from "../support/payloadFixture";
import type { S3Server } from "../support/s3server";

let fixture: PayloadFixture;
let cluster: LocalCluster;
let s3: S3Server;
let work: string;
let dbUrl: string;

beforeAll(async () => {
  fixture = await startPayloadFixture("integrity");
  ({ cluster, s3, work, dbUrl } = fixture);
});

afterAll(async () => fixture?.stop());

function sha256(bytes: Buffer): string {
  return createHash("sha256").update(bytes).digest("hex");
}

describe("verify", () => {
  let store: string;
  let storeDir: string;
  beforeAll(() => {
    storeDir = mkdtempSync(join(work, "store-"));
    store = pathToFileURL(storeDir).href;
  });

  async function backup(compress: string): Promise<string> {
    const r = await drctl(["backup", "--tier", "weekly", "--compress", compress], {
      DRCTL_STORE: store,
      DATABASE_URL: dbUrl,
    });
    expect(r.code).toBe(0);
    return r.stdout.trim();
  }

  it("fails (exit 2) on a flipped byte, and restore refuses the backup", async () => {
    const id = await backup("zstd");
    const path = join(storeDir, "weekly", id, "dump");
    const bytes = readFileSync(path);
    bytes[Math.floor(bytes.length / 2)] ^= 0x01;
    writeFileSync(path, bytes);
    const r = await drctl(["verify", id, "--store", store]);
    expect(r.code).toBe(2);
    const manifest = JSON.parse(
      readFileSync(join(storeDir, "weekly", id, "manifest.json"), "utf8"),
    ) as {
      dump: { sha256: string };
    };
    expect(r.stdout).toBe(
      `FAILED  weekly/${id}  sha256 is ${sha256(bytes)}, the manifest says ${manifest.dump.sha256}\n`,
    );
    const target = await createDatabase(cluster, "flip");
    const restore = await drctl([
      "restore",
      id,
      "--store",
      store,
      "--target-url",
      cluster.url(target),
    ]);
    expect(restore.code).toBe(2);
    expect(plainErrors(restore.stderr)).toEqual([
      expect.stringMatching(
        new RegExp(
          `^drctl restore: backup ${id} failed its checksum on download .*run drctl verify --all`,
        ),
      ),
    ]);
    expect(
      await sql(
        cluster,
        target,
        "select count(*)::int as n from pg_tables where schemaname = 'public'",
      ),
    ).toEqual([{ n: 0 }]);
  });

  it(
    "--deep passes 100 of 100 runs on a valid zstd-wrapped dump",
    { timeout: 300_000 },
    async () => {
      // pg_dump 15 (this machine's) hands raw bytes to the zstd program: the wrapped path. These
      // used to end "archive is unreadable: Premature close" in a few runs of 30 (see ChildSink).
      const id = await backup("zstd");
      const manifest = JSON.parse(
        readFileSync(join(storeDir, "weekly", id, "manifest.json"), "utf8"),
      ) as { envelope: string };
      expect(manifest.envelope).toBe(findPgBinary("pg_dump").major >= 16 ? "none" : "zstd");
      const failures: string[] = [];
      for (let i = 0; i < 100; i++) {
        const r = await drctl(["verify", id, "--deep", "--store", store]);
        if (r.code !== 0) failures.push(`run ${i}: ${r.stdout.trim()}`);
      }
      expect(failures).toEqual([]);
    },
  );

  it("--deep catches a truncated dump whose manifest was re-hashed to match", async () => {
    const id = await backup("none");
    const path = join(storeDir, "weekly", id, "dump");
    const truncated = readFileSync(path).subarray(0, 1_000_000);
    writeFileSync(path, truncated);
    const manifestPath = join(storeDir, "weekly", id, "manifest.json");
    const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as {
      dump: { sha256: string; size: number };
    };
    manifest.dump.sha256 = sha256(truncated);
    manifest.dump.size = truncated.length;
    writeFileSync(manifestPath, JSON.stringify(manifest));

    const shallow = await drctl(["verify", id, "--store", store]);
    expect(shallow.code).toBe(0);
    const deep = await drctl(["verify", id, "--deep", "--store", store]);
    expect(deep.code).toBe(2);
    expect(deep.stdout).toMatch(
      new RegExp(
        `^FAILED  weekly/${id}  archive is unreadable: pg_restore exited with status 1: pg_restore: error: could not read from input file: end of file\\n$`,
      ),
    );
  });
});

describe.each(["file", "s3"])("a pg_dump killed mid-backup (%s store)", (kind) => {
  it("exits 1 and leaves no dump, no manifest and no complete backup", async () => {
    const wrapper = join(work, `pg_dump-${kind}`);
    mkdirBin(wrapper);
    const storeDir = mkdtempSync(join(work, "killed-"));
    const env: NodeJS.ProcessEnv =
      kind === "s3"
        ? { ...s3.env(), DRCTL_STORE: "s3://integrity/killed" }
        : { DRCTL_STORE: pathToFileURL(storeDir).href };
    const r = await drctl(["backup", "--tier", "daily", "--compress", "none"], {
      ...env,
      DATABASE_URL: dbUrl,
      PG_BIN: wrapper,
    });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(plainErrors(r.stderr)).toEqual(["drctl backup: pg_dump exited with status 141"]);
    if (kind === "s3") {
      const client = s3.client();
      const listed = await client.send(
        new ListObjectsV2Command({ Bucket: "integrity", Prefix: "killed/" }),
      );
      client.destroy();
      expect(listed.Contents ?? []).toEqual([]);
    } else {
      // Only the (now empty) backup directory may remain: no dump, no temp file, no manifest.
      const left = readdirSync(storeDir, { recursive: true }).map(String);
      expect(left.filter((f) => f.includes("dump") || f.includes("manifest"))).toEqual([]);
      expect(existsSync(join(storeDir, "daily"))).toBe(true);
    }
    const list = await drctl(["list", "--json"], env);
    expect(JSON.parse(list.stdout)).toEqual([]);
  });
});

/** A bin directory whose pg_dump is the real one piped through `head -c 1MiB` (SIGPIPE kills it). */
function mkdirBin(dir: string): void {
  const realBin = dirname(findPgBinary("pg_dump").path);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  for (const tool of ["pg_restore", "psql"]) symlinkSync(join(realBin, tool), join(dir, tool));
  writeFileSync(
    join(dir, "pg_dump"),
    `#!/bin/bash
set -o pipefail
if [ "$1" = "--version" ]; then exec "${realBin}/pg_dump" --version; fi
"${realBin}/pg_dump" "$@" | head -c 1048576
`,
  );
  chmodSync(join(dir, "pg_dump"), 0o755);
}
