import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import {
  GetSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
import { mockClient } from "aws-sdk-client-mock";
import { resolveSource } from "../../drctl/src/commands/backup";
import {
  applyDbSecret,
  fetchDbSecret,
  regionFromArn,
  type SecretsClientFactory,
} from "../../drctl/src/dbSecret";
import type { DrctlEvent } from "../../drctl/src/progress";
import type { LocalCluster } from "../../drctl/src/postgres/localCluster";
import { Manifest } from "../../drctl/src/manifestSchema";
import { drctl, plainErrors } from "../support/cli";
import { createDatabase, sql, startCluster } from "../support/postgres";

// Secrets Manager has no loopback server: its calls are checked against the SDK's own command
// stream. PostgreSQL and the store are real.
const sm = mockClient(SecretsManagerClient);
afterEach(() => sm.reset());

const ARN = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:rds!db-1a2b3c-AbCdEf";
const PASSWORD = "pw-from-secret-Zq9!";
const RDS_SECRET = {
  username: "backup",
  password: PASSWORD,
  engine: "postgres",
  host: "db.secret.example",
  port: 6543,
  dbname: "secretdb",
};

function answer(secret: unknown): void {
  sm.on(GetSecretValueCommand, { SecretId: ARN }).resolves({
    ARN,
    SecretString: typeof secret === "string" ? secret : JSON.stringify(secret),
  });
}

function awsError(name: string): Error {
  return Object.assign(new Error(`${name}: the service said no`), {
    name,
    $metadata: { httpStatusCode: 400 },
  });
}

describe("regionFromArn", () => {
  it("reads the region out of a Secrets Manager ARN and nothing else", () => {
    expect(regionFromArn(ARN)).toBe("eu-central-1");
    expect(regionFromArn("arn:aws-us-gov:secretsmanager:us-gov-west-1:1:secret:x")).toBe(
      "us-gov-west-1",
    );
    expect(regionFromArn("backup-login")).toBeUndefined();
    expect(regionFromArn("arn:aws:s3:::bucket")).toBeUndefined();
  });
});

describe("fetchDbSecret", () => {
  it("asks the ARN's region, not AWS_REGION, for exactly that secret", async () => {
    answer(RDS_SECRET);
    const regions: (string | undefined)[] = [];
    const clientFor: SecretsClientFactory = (region) => {
      regions.push(region);
      return new SecretsManagerClient({ region });
    };
    const secret = await fetchDbSecret(ARN, { AWS_REGION: "us-east-1" }, clientFor);
    expect(regions).toEqual(["eu-central-1"]);
    expect(sm.commandCalls(GetSecretValueCommand).map((c) => c.args[0].input)).toEqual([
      { SecretId: ARN },
    ]);
    expect(secret).toEqual({
      username: "backup",
      password: PASSWORD,
      host: "db.secret.example",
      port: 6543,
      dbname: "secretdb",
    });
  });

  it("uses AWS_REGION for a secret given by name, and needs one", async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify(RDS_SECRET) });
    const regions: (string | undefined)[] = [];
    const clientFor: SecretsClientFactory = (region) => {
      regions.push(region);
      return new SecretsManagerClient({ region });
    };
    await fetchDbSecret("backup-login", { AWS_REGION: "us-east-1" }, clientFor);
    expect(regions).toEqual(["us-east-1"]);
    await expect(fetchDbSecret("backup-login", {}, clientFor)).rejects.toThrow(
      'cannot tell the region of secret "backup-login"; pass its full ARN (arn:aws:secretsmanager:<region>:…) or set AWS_REGION',
    );
  });

  it("accepts a port given as a string, as some hand-made secrets do", async () => {
    answer({ username: "u", password: "p", port: "5433" });
    expect((await fetchDbSecret(ARN, {})).port).toBe(5433);
  });
});

describe("precedence: what pg and pg_dump get", () => {
  const PG_ENV = {
    PGHOST: "db.env.example",
    PGPORT: "5432",
    PGDATABASE: "app",
    PGSSLMODE: "require",
  };

  async function source(values: Record<string, string>, env: NodeJS.ProcessEnv) {
    const events: DrctlEvent[] = [];
    const target = await resolveSource(values, env, (e) => events.push(e));
    return { target, events };
  }

  it("the CronJob's case: the secret supplies user and password, PG* the rest", async () => {
    answer(RDS_SECRET);
    const { target, events } = await source({}, { ...PG_ENV, DRCTL_DB_SECRET_ARN: ARN });
    expect(target.client).toEqual({
      host: "db.env.example",
      port: 5432,
      user: "backup",
      database: "app",
      password: PASSWORD,
      // PGSSLMODE=require and no root certificate: TLS, no verification (libpq's rule).
      ssl: { rejectUnauthorized: false },
      connectionTimeoutMillis: 10_000,
    });
    expect(target.dbnameArg).toBeUndefined();
    expect(target.env).toEqual({
      ...PG_ENV,
      DRCTL_DB_SECRET_ARN: ARN,
      PGUSER: "backup",
      PGPASSWORD: PASSWORD,
      PGCONNECT_TIMEOUT: "10",
    });
    expect(events).toEqual([
      { event: "db-secret", op: "backup", arn: ARN, applied: ["PGUSER", "PGPASSWORD"] },
    ]);
    expect(JSON.stringify(events)).not.toContain(PASSWORD);
  });

  it("fills host, port and database from the secret only where PG* is unset", async () => {
    answer(RDS_SECRET);
    const { target, events } = await source({}, { PGPORT: "5999", DRCTL_DB_SECRET_ARN: ARN });
    expect(target.client).toEqual({
      host: "db.secret.example",
      port: 5999,
      user: "backup",
      database: "secretdb",
      password: PASSWORD,
      ssl: false,
      connectionTimeoutMillis: 10_000,
    });
    expect(target.env).toEqual({
      DRCTL_DB_SECRET_ARN: ARN,
      PGPORT: "5999",
      PGHOST: "db.secret.example",
      PGDATABASE: "secretdb",
      PGUSER: "backup",
      PGPASSWORD: PASSWORD,
      PGCONNECT_TIMEOUT: "10",
    });
    expect(events[0]).toMatchObject({ applied: ["PGUSER", "PGPASSWORD", "PGHOST", "PGDATABASE"] });
  });

  it("PGPASSWORD wins: PGUSER and PGPASSWORD stay as given", async () => {
    answer(RDS_SECRET);
    const env = { ...PG_ENV, PGUSER: "ops", PGPASSWORD: "explicit", DRCTL_DB_SECRET_ARN: ARN };
    const { target } = await source({}, env);
    expect(target.client).toEqual({
      host: "db.env.example",
      port: 5432,
      user: "ops",
      database: "app",
      password: "explicit",
      ssl: { rejectUnauthorized: false },
      connectionTimeoutMillis: 10_000,
    });
    expect(target.env).toEqual({ ...env, PGCONNECT_TIMEOUT: "10" });
  });

  it("a --database-url with a password wins, and the secret is not even read", async () => {
    answer(RDS_SECRET);
    const url = "postgresql://ops:explicit@db.url.example:5433/urldb";
    const { target, events } = await source(
      { "database-url": url },
      { ...PG_ENV, DRCTL_DB_SECRET_ARN: ARN },
    );
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(0);
    expect(target.client).toEqual({
      connectionString: url,
      password: "explicit",
      ssl: { rejectUnauthorized: false },
      connectionTimeoutMillis: 10_000,
    });
    expect(target.env.PGPASSWORD).toBe("explicit");
    expect(target.env.PGUSER).toBeUndefined();
    expect(events[0]).toMatchObject({ applied: [] });
  });

  it("a --database-url without a password takes the secret's password, and no host from it", async () => {
    answer(RDS_SECRET);
    const url = "postgresql://db.url.example:5433/urldb";
    const { target } = await source({ "database-url": url }, { DRCTL_DB_SECRET_ARN: ARN });
    expect(target.client).toEqual({
      connectionString: url,
      password: PASSWORD,
      ssl: false,
      connectionTimeoutMillis: 10_000,
    });
    expect(target.dbnameArg).toBe(url);
    expect(target.dbnameArg).not.toContain(PASSWORD);
    expect(target.env).toEqual({
      DRCTL_DB_SECRET_ARN: ARN,
      PGUSER: "backup",
      PGPASSWORD: PASSWORD,
      PGCONNECT_TIMEOUT: "10",
    });
    expect(target).toMatchObject({ host: "db.url.example", port: 5433, user: "backup" });
  });

  it("--db-secret-arn wins over DRCTL_DB_SECRET_ARN; without either nothing is read", async () => {
    const other = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:backup-login-XyZ";
    sm.on(GetSecretValueCommand, { SecretId: other }).resolves({
      SecretString: JSON.stringify({ username: "login", password: "pw2" }),
    });
    const { target } = await source(
      { "db-secret-arn": other },
      { ...PG_ENV, DRCTL_DB_SECRET_ARN: ARN },
    );
    expect(target.client).toMatchObject({ user: "login", password: "pw2" });

    sm.reset();
    const plain = await source({}, { ...PG_ENV, PGUSER: "ops" });
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(0);
    expect(plain.events).toEqual([]);
    expect(plain.target.client).toMatchObject({ user: "ops", password: undefined });
  });

  it("applyDbSecret treats an empty PGPASSWORD as unset", () => {
    const { env, applied } = applyDbSecret(
      { username: "u", password: "p" },
      { PGPASSWORD: "", PGHOST: "h" },
      undefined,
    );
    expect(env).toEqual({ PGPASSWORD: "p", PGUSER: "u", PGHOST: "h" });
    expect(applied).toEqual(["PGUSER", "PGPASSWORD"]);
  });
});

describe("drctl backup with DRCTL_DB_SECRET_ARN", () => {
  let cluster: LocalCluster;
  let dir: string;
  let db: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    cluster = await startCluster();
    db = await createDatabase(cluster, "secret");
    await sql(cluster, db, "create table t (id int); insert into t select generate_series(1, 42)");
    dir = mkdtempSync(join(tmpdir(), "drctl-secret-"));
    // What the CronJob passes, minus PGSSLMODE=require (the test cluster has no TLS). No PGUSER:
    // without the secret drctl would connect as the OS user, which the cluster does not know.
    env = {
      DRCTL_STORE: pathToFileURL(dir).href,
      PGHOST: "127.0.0.1",
      PGPORT: String(cluster.port),
      PGDATABASE: db,
      DRCTL_DB_SECRET_ARN: ARN,
      AWS_ACCESS_KEY_ID: "test",
      AWS_SECRET_ACCESS_KEY: "test",
    };
  });

  afterAll(async () => {
    await cluster?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it("without the secret the same environment does not connect (the control)", async () => {
    const noSecret = { ...env, DRCTL_DB_SECRET_ARN: undefined };
    const r = await drctl(["backup", "--tier", "daily"], { ...noSecret, PGUSER: "nobody_here" });
    expect(r.code).toBe(1);
    expect(plainErrors(r.stderr).join("\n")).toContain('role "nobody_here" does not exist');
  });

  it("connects as the secret's user and never shows the password", async () => {
    answer({ ...RDS_SECRET, username: "postgres", host: "ignored.example", port: 1 });
    const r = await drctl(["backup", "--tier", "daily"], env);
    expect(plainErrors(r.stderr)).toEqual([]);
    expect(r.code).toBe(0);
    const id = r.stdout.trim();
    const manifest = Manifest.parse(
      JSON.parse(readFileSync(join(dir, "daily", id, "manifest.json"), "utf8")),
    );
    expect(manifest.source).toEqual({
      host: "127.0.0.1",
      port: cluster.port,
      database: db,
      user: "postgres",
    });
    expect(manifest.tables).toEqual([
      {
        schema: "public",
        name: "t",
        qualified: "public.t",
        rows: 42,
        // A zstd dump on PostgreSQL 15 is compressed by zstd outside pg_dump, so the stream drctl
        // reads is zstd's and the count comes from the snapshot.
        rowsFrom: "snapshot",
        indexes: [],
        sequences: [],
        foreignKeys: [],
        referencedBy: [],
      },
    ]);
    expect(r.stderr).toContain('"event":"db-secret"');
    expect(r.stderr + r.stdout).not.toContain(PASSWORD);
    expect(readFileSync(join(dir, "daily", id, "manifest.json"), "utf8")).not.toContain(PASSWORD);
  });

  const denied = `drctl backup: drctl cannot read secret ${ARN}: access denied; grant secretsmanager:GetSecretValue (and kms:Decrypt via Secrets Manager) to the job's role`;
  it.each([
    [
      "access denied",
      () => sm.on(GetSecretValueCommand).rejects(awsError("AccessDeniedException")),
      denied,
    ],
    [
      "not found",
      () =>
        sm.on(GetSecretValueCommand).rejects(
          new ResourceNotFoundException({
            message: "Secrets Manager can't find it",
            $metadata: {},
          }),
        ),
      `drctl backup: drctl cannot read secret ${ARN}: not found; check DRCTL_DB_SECRET_ARN (or --db-secret-arn) and that the secret exists in region eu-central-1`,
    ],
    [
      "KMS decryption failure",
      () => sm.on(GetSecretValueCommand).rejects(awsError("DecryptionFailure")),
      `drctl backup: drctl cannot read secret ${ARN}: cannot decrypt it; grant kms:Decrypt on the secret's KMS key (via Secrets Manager) to the job's role`,
    ],
    [
      "not JSON",
      () => answer(`password=${PASSWORD}`),
      `drctl backup: secret ${ARN} is not JSON; store JSON with "username" and "password" (as RDS-managed secrets do)`,
    ],
    [
      "no password",
      () => answer({ username: "postgres" }),
      `drctl backup: secret ${ARN} has no "password" field; store JSON with a non-empty string "username" and "password" (and "port" as a number, if any)`,
    ],
    [
      "no username",
      () => answer({ password: PASSWORD }),
      `drctl backup: secret ${ARN} has no "username" field; store JSON with a non-empty string "username" and "password" (and "port" as a number, if any)`,
    ],
    [
      "an empty password",
      () => answer({ username: "postgres", password: "" }),
      `drctl backup: secret ${ARN} has an invalid "password" field; store JSON with a non-empty string "username" and "password" (and "port" as a number, if any)`,
    ],
    [
      "a binary secret",
      () => sm.on(GetSecretValueCommand).resolves({ SecretBinary: new Uint8Array([1, 2]) }),
      `drctl backup: secret ${ARN} has no SecretString (binary secrets are not supported); store JSON with "username" and "password"`,
    ],
  ])("%s is one line saying what to do, exit 1", async (_what, setup, message) => {
    setup();
    const r = await drctl(["backup", "--tier", "daily"], env);
    expect(r.code).toBe(1);
    expect(plainErrors(r.stderr)).toEqual([message]);
    expect(r.stderr + r.stdout).not.toContain(PASSWORD);
  });
});
