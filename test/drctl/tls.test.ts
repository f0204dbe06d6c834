import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findPgBinary } from "../../drctl/src/postgres/binaries";
import { resolveTarget } from "../../drctl/src/postgres/target";
import {
  IMAGE_RDS_CA_PATH,
  libpqTls,
  nodePgSsl,
  rdsVerifyFull,
  sslFor,
} from "../../drctl/src/postgres/tls";
import { drctl, plainErrors } from "../support/cli";
import { sql } from "../support/postgres";
import { startTlsCluster, type TlsCluster } from "../support/tlsCluster";

/**
 * drctl's own connections (node-postgres) and the PostgreSQL programs it runs (libpq) honour the
 * same TLS settings, against a real server with ssl=on whose certificate names `localhost` only.
 * libpq's rules: https://www.postgresql.org/docs/current/libpq-ssl.html ("SSL Mode
 * Descriptions") and https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-CONNECT-SSLMODE.
 */
const run = promisify(execFile);
let tls: TlsCluster;
let work: string;

const url = (host: string, query = ""): string =>
  `postgresql://postgres@${host}:${tls.cluster.port}/${tls.database}${query}`;

/** Connects as drctl does (resolveTarget's ClientConfig) and asks the server whether TLS is on. */
async function sslInUse(target: string | undefined, env: NodeJS.ProcessEnv): Promise<boolean> {
  const client = new Client(resolveTarget(target, env).client);
  client.on("error", () => undefined);
  try {
    await client.connect();
    const { rows } = await client.query<{ ssl: boolean }>(
      "select ssl from pg_stat_ssl where pid = pg_backend_pid()",
    );
    return rows[0].ssl;
  } finally {
    await client.end().catch(() => undefined);
  }
}

beforeAll(async () => {
  tls = await startTlsCluster();
  await sql(tls.cluster, "postgres", `create database ${tls.database}`);
  work = mkdtempSync(join(tmpdir(), "drctl-tls-"));
}, 60_000);

afterAll(async () => {
  await tls?.cluster.destroy();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("libpq's sslmode, mapped onto node-postgres", () => {
  const none = join(tmpdir(), "drctl-no-such-dir", "root.crt");

  it("encrypts nothing under disable, allow and prefer, and libpq's default is prefer", () => {
    for (const mode of ["disable", "allow", "prefer"]) {
      expect(sslFor({ PGSSLMODE: mode, PGSSLROOTCERT: none })).toBe(false);
    }
    expect(libpqTls({ PGSSLROOTCERT: none }).mode).toEqual({
      value: "prefer",
      from: "libpq's default sslmode",
    });
  });

  it("verifies under require only when the root certificate exists, as verify-ca", () => {
    expect(sslFor({ PGSSLMODE: "require", PGSSLROOTCERT: none })).toEqual({
      rejectUnauthorized: false,
    });
    const withCa = sslFor({ PGSSLMODE: "require", PGSSLROOTCERT: tls.ca.cert });
    expect(withCa).toMatchObject({
      ca: readFileSync(tls.ca.cert, "utf8"),
      rejectUnauthorized: true,
    });
    expect(typeof withCa === "object" && withCa.checkServerIdentity).toBeInstanceOf(Function);
  });

  it("takes sslmode and sslrootcert from the URL over PGSSLMODE and PGSSLROOTCERT", () => {
    const u = new URL(`postgresql://h/db?sslmode=verify-full&sslrootcert=${tls.ca.cert}`);
    const got = libpqTls({ PGSSLMODE: "disable", PGSSLROOTCERT: tls.otherCa.cert }, u, "--x");
    expect(got).toEqual({
      mode: { value: "verify-full", from: "sslmode in --x" },
      rootCert: { value: tls.ca.cert, from: "sslrootcert in --x" },
    });
    expect(nodePgSsl(got)).toEqual({
      ca: readFileSync(tls.ca.cert, "utf8"),
      rejectUnauthorized: true,
    });
  });

  it("allows sslrootcert=system only with verify-full, which it makes the default (libpq 16+)", () => {
    expect(sslFor({ PGSSLROOTCERT: "system" })).toEqual({ rejectUnauthorized: true });
    expect(() => sslFor({ PGSSLROOTCERT: "system", PGSSLMODE: "require" })).toThrow(
      'PGSSLROOTCERT is "system", which libpq allows only with sslmode verify-full, but ' +
        'PGSSLMODE is "require"; set sslmode=verify-full',
    );
  });

  it("refuses an unknown sslmode in one line naming where it came from", () => {
    expect(() => sslFor({ PGSSLMODE: "verify_full" })).toThrow(
      'PGSSLMODE is "verify_full", which is not a libpq sslmode; expected one of disable, allow, ' +
        "prefer, require, verify-ca, verify-full (verify-full with the RDS CA bundle for RDS)",
    );
    expect(() => resolveTarget("postgresql://h/db?sslmode=on", {}, "--database-url")).toThrow(
      'sslmode in --database-url is "on", which is not a libpq sslmode',
    );
  });

  it("refuses verify-* without its root certificate, saying where to get the RDS bundle", () => {
    expect(() => sslFor({ PGSSLMODE: "verify-full", PGSSLROOTCERT: none })).toThrow(
      `sslmode verify-full (PGSSLMODE) needs the CA certificate that signed the server's, but ` +
        `PGSSLROOTCERT names ${none}, which does not exist; for RDS download ` +
        `https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem and set PGSSLROOTCERT ` +
        `to it, or run drctl's image, which ships it at ${IMAGE_RDS_CA_PATH}`,
    );
    // A directory is there but not readable as a file: libpq fails in every mode.
    expect(() => sslFor({ PGSSLMODE: "require", PGSSLROOTCERT: work })).toThrow(
      `PGSSLROOTCERT names ${work}, which cannot be read (EISDIR)`,
    );
  });
});

describe("drctl failover's sessions with the master credential", () => {
  it("are verify-full whatever PGSSLMODE says, against PGSSLROOTCERT", () => {
    expect(nodePgSsl(rdsVerifyFull({ PGSSLMODE: "disable", PGSSLROOTCERT: tls.ca.cert }))).toEqual({
      ca: readFileSync(tls.ca.cert, "utf8"),
      rejectUnauthorized: true,
    });
  });

  it("default to the image's bundle, and say so when it is not there", () => {
    expect(() => nodePgSsl(rdsVerifyFull({}))).toThrow(
      "sslmode verify-full (always, for drctl failover's master-credential sessions) needs the CA " +
        "certificate that signed the server's, but drctl's default RDS CA bundle (set " +
        `PGSSLROOTCERT) names ${IMAGE_RDS_CA_PATH}, which does not exist; for RDS download`,
    );
  });
});

describe("what node-postgres does with sslmode in a URL, and why drctl strips it", () => {
  it("pg's parser replaces an explicit ssl option with {} (Node's public roots)", () => {
    // node_modules/pg/lib/connection-parameters.js: Object.assign({}, config, parse(url)).
    const raw = new Client({
      connectionString: url("localhost", "?sslmode=disable&x=1"),
      ssl: { ca: "x" },
    });
    expect(
      (raw as unknown as { connectionParameters: { ssl: unknown } }).connectionParameters.ssl,
    ).toBe(false);
    const full = new Client({
      connectionString: url("localhost", "?sslmode=verify-full"),
      ssl: false,
    });
    expect(
      (full as unknown as { connectionParameters: { ssl: unknown } }).connectionParameters.ssl,
    ).toEqual({});
  });

  it("resolveTarget gives pg the URL without TLS parameters and pg_dump the URL with them", () => {
    const t = resolveTarget(
      `postgresql://u:pw@h:5432/db?application_name=a%20b&sslmode=require&sslrootcert=${tls.ca.cert}`,
      {},
    );
    expect(t.client.connectionString).toBe("postgresql://u:pw@h:5432/db?application_name=a+b");
    expect(t.dbnameArg).toBe(
      `postgresql://u@h:5432/db?application_name=a%20b&sslmode=require&sslrootcert=${tls.ca.cert}`,
    );
    expect(t.client.ssl).toMatchObject({ rejectUnauthorized: true });
  });
});

describe("against a PostgreSQL server with TLS on loopback", () => {
  const verifyFull = () => ({ PGSSLMODE: "verify-full", PGSSLROOTCERT: tls.ca.cert });

  it("verify-full to localhost with the CA that signed it: connected, over TLS", async () => {
    expect(await sslInUse(url("localhost"), verifyFull())).toBe(true);
    // PG* variables only, no URL: the same rules.
    expect(
      await sslInUse(undefined, {
        ...verifyFull(),
        PGHOST: "localhost",
        PGPORT: String(tls.cluster.port),
        PGUSER: "postgres",
        PGDATABASE: tls.database,
      }),
    ).toBe(true);
  });

  it("pg left to itself (ssl: true, what it makes of PGSSLMODE=verify-full) trusts only Node's roots", async () => {
    // connection-parameters.js readSSLConfigFromEnvironment: verify-full → true, no `ca`. Against
    // RDS, whose CAs are not public roots, drctl's queries could never connect that way.
    const client = new Client({ connectionString: url("localhost"), ssl: true });
    client.on("error", () => undefined);
    await expect(client.connect()).rejects.toThrow("unable to verify the first certificate");
    await client.end().catch(() => undefined);
  });

  it("verify-full to 127.0.0.1, a name the certificate does not hold: refused", async () => {
    await expect(sslInUse(url("127.0.0.1"), verifyFull())).rejects.toThrow(
      "Hostname/IP does not match certificate's altnames: IP: 127.0.0.1 is not in the cert's list",
    );
  });

  it("verify-full with a CA that did not sign the server's certificate: refused", async () => {
    await expect(
      sslInUse(url("localhost"), { PGSSLMODE: "verify-full", PGSSLROOTCERT: tls.otherCa.cert }),
    ).rejects.toThrow("unable to verify the first certificate");
  });

  it("verify-ca checks the chain only: 127.0.0.1 connects, a foreign CA does not", async () => {
    const q = `?sslmode=verify-ca&sslrootcert=${tls.ca.cert}`;
    expect(await sslInUse(url("127.0.0.1", q), {})).toBe(true);
    await expect(
      sslInUse(url("127.0.0.1"), { PGSSLMODE: "require", PGSSLROOTCERT: tls.otherCa.cert }),
    ).rejects.toThrow("unable to verify the first certificate");
  });

  it("sslmode=disable or prefer against a hostssl-only database: refused by the server", async () => {
    for (const mode of ["disable", "prefer"]) {
      await expect(sslInUse(url("localhost", `?sslmode=${mode}`), verifyFull())).rejects.toThrow(
        `no pg_hba.conf entry for host "127.0.0.1", user "postgres", database "${tls.database}", no encryption`,
      );
    }
  });

  it("pg_dump (libpq) honours the same settings", async () => {
    const pgDump = findPgBinary("pg_dump").path;
    const dump = (host: string) =>
      run(pgDump, ["--schema-only", `--dbname=${url(host)}`], {
        env: { PATH: process.env.PATH, ...verifyFull() },
      });
    await expect(dump("localhost")).resolves.toMatchObject({
      stdout: expect.stringContaining("PostgreSQL database dump"),
    });
    await expect(dump("127.0.0.1")).rejects.toThrow(
      'server certificate for "localhost" (and 1 other name) does not match host name "127.0.0.1"',
    );
  });

  it("drctl backup with PGSSLMODE=verify-full: its queries and its pg_dump both verify the server", async () => {
    const admin = new Client({ ...resolveTarget(url("localhost"), verifyFull()).client });
    await admin.connect();
    await admin.query(
      `create table if not exists customers (id bigint primary key, email text not null unique);
       insert into customers values (1, 'a@example.com'), (2, 'b@example.com') on conflict do nothing`,
    );
    await admin.end();
    const store = pathToFileURL(join(work, "store")).href;
    const ok = await drctl(["backup", "--tier", "daily"], {
      ...verifyFull(),
      DRCTL_STORE: store,
      DATABASE_URL: url("localhost"),
    });
    expect(plainErrors(ok.stderr)).toEqual([]);
    expect(ok.code).toBe(0);
    const id = ok.stdout.trim();
    const manifest = JSON.parse(
      readFileSync(join(work, "store", "daily", id, "manifest.json"), "utf8"),
    ) as { tables: { qualified: string; rows: number }[] };
    // The row count is taken in pg_dump's snapshot: both connections reached the database.
    expect(manifest.tables.map((t) => [t.qualified, t.rows])).toEqual([["public.customers", 2]]);
    const refused = await drctl(["backup", "--tier", "daily"], {
      ...verifyFull(),
      DRCTL_STORE: store,
      DATABASE_URL: url("127.0.0.1"),
    });
    expect(refused.code).toBe(1);
    expect(plainErrors(refused.stderr).join("\n")).toContain("127.0.0.1 is not in the cert's list");
  });
});
