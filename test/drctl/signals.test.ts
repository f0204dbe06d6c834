import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { findPgBinary } from "../../drctl/src/postgres/binaries";
import { drctl, plainErrors } from "../support/cli";
import { startPayloadFixture, type PayloadFixture } from "../support/payloadFixture";
import type { S3Server } from "../support/s3server";

let fixture: PayloadFixture;
let s3: S3Server;
let work: string;
let dbUrl: string;

beforeAll(async () => {
  fixture = await startPayloadFixture("signals");
  ({ s3, work, dbUrl } = fixture);
});

afterAll(async () => fixture?.stop());

/**
 * A bin directory whose pg_dump writes its pid, sends the first MiB of a real dump and then hangs
 * (as a long dump does) until killed: the state a CronJob's activeDeadlineSeconds finds.
 */
function hangingPgDump(dir: string, pidFile: string): void {
  const realBin = dirname(findPgBinary("pg_dump").path);
  mkdirSync(dir);
  for (const tool of ["pg_restore", "psql"]) symlinkSync(join(realBin, tool), join(dir, tool));
  writeFileSync(
    join(dir, "pg_dump"),
    `#!/bin/bash
if [ "$1" = "--version" ]; then exec "${realBin}/pg_dump" --version; fi
echo $$ > "${pidFile}"
"${realBin}/pg_dump" "$@" | head -c 1048576
exec sleep 120
`,
  );
  chmodSync(join(dir, "pg_dump"), 0o755);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe.each([
  ["file", "none"],
  ["file", "zstd"],
  ["s3", "none"],
  ["s3", "zstd"],
] as const)("SIGTERM during a backup (%s store, %s)", (kind, compress) => {
  it("kills pg_dump, exits 1, and leaves no dump, no temporary file and no manifest", async () => {
    const dir = mkdtempSync(join(work, `${kind}-${compress}-`));
    const bin = join(dir, "bin");
    const pidFile = join(dir, "pg_dump.pid");
    hangingPgDump(bin, pidFile);
    const storeDir = join(dir, "store");
    const env: NodeJS.ProcessEnv =
      kind === "s3"
        ? { ...s3.env(), DRCTL_STORE: `s3://signals/${compress}` }
        : { DRCTL_STORE: pathToFileURL(storeDir).href };
    const listeners = process.listenerCount("SIGTERM");

    const running = drctl(["backup", "--tier", "daily", "--compress", compress], {
      ...env,
      DATABASE_URL: dbUrl,
      PG_BIN: bin,
    });
    for (let i = 0; i < 200 && !existsSync(pidFile); i++) await sleep(50);
    const pid = Number(readFileSync(pidFile, "utf8").trim());
    await sleep(500); // the first MiB is on its way into the store
    expect(process.listenerCount("SIGTERM")).toBe(listeners + 1);
    // What Node does on a real SIGTERM, without risking the test runner if no handler is there.
    process.emit("SIGTERM", "SIGTERM");
    const r = await running;

    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(plainErrors(r.stderr)).toEqual([
      "drctl backup: interrupted by SIGTERM; pg_dump stopped, the partial dump removed and no manifest written",
    ]);
    expect(alive(pid)).toBe(false);
    expect(process.listenerCount("SIGTERM")).toBe(listeners);
    if (kind === "s3") {
      const client = s3.client();
      const listed = await client.send(
        new ListObjectsV2Command({ Bucket: "signals", Prefix: `${compress}/` }),
      );
      client.destroy();
      expect(listed.Contents ?? []).toEqual([]);
    } else {
      const left = readdirSync(storeDir, { recursive: true }).map(String);
      expect(left.filter((f) => f.includes("dump") || f.includes("manifest"))).toEqual([]);
    }
    const list = await drctl(["list", "--json"], env);
    expect(list.stderr).toBe("");
    expect(JSON.parse(list.stdout)).toEqual([]);
  });
});
