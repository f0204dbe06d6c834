import { describe, expect, it } from "vitest";
import { runStack } from "../harness";
import { mockCall } from "../support/mocks";

const SECRET = "aws:secretsmanager/secret:Secret";
const VERSION = "aws:secretsmanager/secretVersion:SecretVersion";
const withRoles = { database: { manageRoles: true, adminCidrs: ["10.99.0.0/24"] } };

function stored(run: Awaited<ReturnType<typeof runStack>>, name: string) {
  return JSON.parse(run.one(VERSION, name).inputs.secretString) as {
    username: string;
    password: string;
  };
}

const GET_SECRET = "aws:secretsmanager/getSecretVersion:getSecretVersion";
/** What Secrets Manager answers now for `secretId` (the mocked GetSecretValue): its current value. */
function currentPassword(secretId: string): string {
  const answer = mockCall(
    { token: GET_SECRET, inputs: { region: "us-east-1", secretId }, provider: "" },
    "us-east-1",
  );
  return (JSON.parse(answer.secretString as string) as { password: string }).password;
}

describe("database credentials (docs/architecture.md §8) and logins (issue 16.4)", () => {
  it("keeps the master, backup and app credentials in this region, replicated to the peer's", async () => {
    const run = await runStack("primary");
    const keyArn = run.outputs.kmsKeyArn as string;
    for (const [logical, secretName, username] of [
      ["acme-dr-use1-db-master", "acme-dr-use1/db/master", "dradmin"],
      ["acme-dr-use1-db-backup", "acme-dr-use1/db/backup", "backup"],
      ["acme-dr-use1-db-app", "acme-dr-use1/db/app", "app"],
    ]) {
      const secret = run.one(SECRET, logical);
      // The replica takes the peer region's aws/secretsmanager key (no kmsKeyId): the peer's site
      // key does not exist yet in the first deployment's first step.
      expect(secret.inputs).toEqual({
        region: "us-east-1",
        name: secretName,
        description: `PostgreSQL credential ${username} (dr-stack)`,
        kmsKeyId: keyArn,
        recoveryWindowInDays: 30,
        replicas: [{ region: "us-west-2" }],
        tags: expect.any(Object),
      });
      expect(secret.retainOnDelete).toBe(true);
      const version = run.one(VERSION, logical);
      expect(version.inputs.secretId).toBe(secret.id);
      expect(version.ignoreChanges).toEqual(["secretString"]);
      expect(stored(run, logical).username).toBe(username);
      expect(stored(run, logical).password).toMatch(/^[A-Za-z0-9_-]{32}$/);
    }
    expect(run.outputs.dbMasterSecretArn).toBe(
      "arn:aws:secretsmanager:us-east-1:111122223333:secret:acme-dr-use1/db/master-AbCdEf",
    );
  });

  it("gives the primary instance the master secret's password and no RDS-managed secret", async () => {
    const run = await runStack("primary");
    const db = run.one("aws:rds/instance:Instance");
    expect(db.inputs.manageMasterUserPassword).toBeUndefined();
    expect(db.inputs.password).toBe(stored(run, "acme-dr-use1-db-master").password);
    expect(db.ignoreChanges).toEqual(["username", "dbName", "password"]);
  });

  it("a standby's credentials follow the peer's, read from their replicas in its own region", async () => {
    const run = await runStack("dr");
    const db = run.one("aws:rds/instance:Instance");
    // A replica inherits its source's catalog, passwords included: none is sent.
    expect(db.inputs.password).toBeUndefined();
    expect(db.inputs.manageMasterUserPassword).toBeUndefined();
    for (const login of ["master", "backup", "app"]) {
      const logical = `acme-dr-usw2-db-${login}`;
      expect(run.one(SECRET, logical).inputs.name).toBe(`acme-dr-usw2/db/${login}`);
      // The mocked GetSecretValue answers for the replica named here, in us-west-2.
      expect(stored(run, logical).password).toMatch(/^mock-password-[0-9A-F]{8}$/);
      expect(run.one(VERSION, logical).ignoreChanges).toEqual([]);
    }
  });

  it("after phase 1 the promoted database's credential is in its own region, and never sent again", async () => {
    const run = await runStack("dr", { role: "promoting", database: { previousRole: "standby" } });
    const db = run.one("aws:rds/instance:Instance");
    expect(db.inputs.password).toBe(stored(run, "acme-dr-usw2-db-master").password);
    // The engine keeps the standby's (absent) password: the promotion sends no new one.
    expect(db.ignoreChanges).toContain("password");
    expect(run.one(VERSION, "acme-dr-usw2-db-master").ignoreChanges).toEqual(["secretString"]);
    expect(run.outputs.dbMasterSecretArn).toMatch(
      /^arn:aws:secretsmanager:us-west-2:111122223333:secret:acme-dr-usw2\/db\/master-/,
    );
  });

  it("never puts a password into a stack output or a Kubernetes object", async () => {
    for (const [stack, role] of [
      ["primary", "primary"],
      ["dr", "standby"],
    ] as const) {
      const run = await runStack(stack, { role });
      const site = stack === "primary" ? "use1" : "usw2";
      const passwords = ["master", "backup", "app"].map(
        (l) => stored(run, `acme-dr-${site}-db-${l}`).password,
      );
      const outputs = JSON.stringify(run.outputs);
      const k8s = JSON.stringify(run.resources.filter((r) => r.type.startsWith("kubernetes:")));
      for (const p of passwords) {
        expect(outputs).not.toContain(p);
        expect(k8s).not.toContain(p);
      }
    }
  });

  it("are managed in PostgreSQL only with manageRoles, from the admitted network", async () => {
    expect(
      (await runStack("primary")).resources.filter((r) => r.type.includes("postgresql")),
    ).toEqual([]);
    const run = await runStack("primary", withRoles);
    const provider = run.one("pulumi:providers:postgresql");
    // The provider logs in with the master secret's current value, looked up on every run, not
    // the value this program wrote once (kept in state, ignoreChanges): after a rotation the
    // next up logs in with the rotated password.
    const masterArn = run.outputs.dbMasterSecretArn as string;
    expect(run.invokes).toContainEqual({
      token: GET_SECRET,
      inputs: { region: "us-east-1", secretId: masterArn },
    });
    expect(provider.inputs).toMatchObject({
      host: run.outputs.dbEndpoint,
      database: "app",
      username: "dradmin",
      sslmode: "require",
      password: currentPassword(masterArn),
    });
    expect(provider.inputs.password).not.toBe(stored(run, "acme-dr-use1-db-master").password);
    expect(String(provider.inputs.superuser)).toBe("false");
    const admin = run.one(
      "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
      "acme-dr-use1-db-from-admin-0",
    );
    expect(admin.inputs).toMatchObject({ cidrIpv4: "10.99.0.0/24", fromPort: 5432, toPort: 5432 });
  });

  it("creates backup with pg_read_all_data and no BYPASSRLS, and app, with their secrets' current passwords", async () => {
    const run = await runStack("primary", withRoles);
    const secretArn = (login: string) =>
      `arn:aws:secretsmanager:us-east-1:111122223333:secret:acme-dr-use1/db/${login}-AbCdEf`;
    const backup = run.one("postgresql:index/role:Role", "acme-dr-use1-db-roles-backup");
    // Exactly these inputs: no bypassRowLevelSecurity, superuser or replication, which the RDS
    // master (NOSUPERUSER CREATEROLE) cannot grant (test/database/rdsMaster.test.ts).
    expect(backup.inputs).toEqual({
      name: "backup",
      login: true,
      encryptedPassword: true,
      password: currentPassword(secretArn("backup")),
    });
    const app = run.one("postgresql:index/role:Role", "acme-dr-use1-db-roles-app");
    expect(app.inputs.bypassRowLevelSecurity).toBeUndefined();
    expect(app.inputs.password).toBe(currentPassword(secretArn("app")));
    expect(run.ofType("postgresql:index/grantRole:GrantRole").map((g) => g.inputs)).toEqual([
      { role: "backup", grantRole: "pg_read_all_data" },
    ]);
  });

  it("stores AWS's documented keys for an RDS PostgreSQL secret: engine, host, port, dbname", async () => {
    for (const [stack, site] of [
      ["primary", "use1"],
      ["dr", "usw2"],
    ] as const) {
      const run = await runStack(stack);
      for (const login of ["master", "backup", "app"]) {
        const value = JSON.parse(
          run.one(VERSION, `acme-dr-${site}-db-${login}`).inputs.secretString,
        );
        // https://docs.aws.amazon.com/secretsmanager/latest/userguide/reference_secret_json_structure.html
        expect(Object.keys(value)).toEqual([
          "engine",
          "host",
          "username",
          "password",
          "dbname",
          "port",
        ]);
        expect(value).toMatchObject({
          engine: "postgres",
          host: run.outputs.dbEndpoint,
          port: 5432,
          dbname: "app",
          username: login === "master" ? "dradmin" : login,
        });
      }
    }
  });

  it("are only managed on a primary: a replica's catalog is read-only", async () => {
    for (const [stack, role, previousRole] of [
      ["dr", "standby", undefined],
      ["dr", "promoting", "standby"],
      ["primary", "fenced", "primary"],
    ] as const) {
      const run = await runStack(stack, {
        role,
        database: { ...withRoles.database, previousRole },
      });
      expect(run.resources.filter((r) => r.type.includes("postgresql"))).toEqual([]);
    }
  });
});
