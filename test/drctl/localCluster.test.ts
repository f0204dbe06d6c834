import { afterAll, describe, expect, it } from "vitest";
import { Client } from "pg";
import { existsSync } from "node:fs";
import { LocalCluster } from "../../drctl/src/postgres/localCluster";
import { findPgBinary, parseVersion, MissingBinaryError } from "../../drctl/src/postgres/binaries";

describe("PostgreSQL binaries", () => {
  it("parses versions from --version output", () => {
    expect(parseVersion("pg_dump (PostgreSQL) 16.4 (Debian 16.4-1.pgdg120+1)")).toEqual({
      major: 16,
      version: "16.4",
    });
    expect(parseVersion("psql (PostgreSQL) 15.18")).toEqual({ major: 15, version: "15.18" });
    expect(parseVersion("something else")).toBeUndefined();
  });

  it("finds server programs that Debian keeps off PATH", () => {
    const initdb = findPgBinary("initdb");
    expect(existsSync(initdb.path)).toBe(true);
    expect(initdb.major).toBeGreaterThanOrEqual(13);
  });

  it("says where it looked and what to install when a program is missing", () => {
    expect(() => findPgBinary("pg_nonexistent", { PG_BIN: "/nowhere" })).toThrow(
      MissingBinaryError,
    );
    expect(() => findPgBinary("pg_nonexistent", { PG_BIN: "/nowhere" })).toThrow(
      "pg_nonexistent not found (looked in: /nowhere); install the PostgreSQL client",
    );
  });
});

describe("LocalCluster", () => {
  let cluster: LocalCluster | undefined;
  afterAll(async () => cluster?.destroy());

  it("starts on a loopback port, answers queries, and crashes on kill", async () => {
    cluster = await LocalCluster.init({ settings: { fsync: "off" } });
    await cluster.start();
    const client = new Client({ connectionString: cluster.url() });
    await client.connect();
    const { rows } = await client.query<{ addr: string; port: number }>(
      "select host(inet_server_addr()) as addr, inet_server_port() as port",
    );
    await client.end();
    expect(rows[0]).toEqual({ addr: "127.0.0.1", port: cluster.port });
    await cluster.kill();
    expect(cluster.running).toBe(false);
    expect(await cluster.accepts()).toBe(false);
    await cluster.start();
    expect(await cluster.accepts()).toBe(true);
    await cluster.destroy();
    expect(existsSync(cluster.baseDir)).toBe(false);
  });
});
