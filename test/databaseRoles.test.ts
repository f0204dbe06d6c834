import { describe, expect, it } from "vitest";
import { runStack } from "./harness";

describe("database logins (database.manageRoles)", () => {
  it("are off by default: the program needs network reach to the primary to manage them", async () => {
    const run = await runStack("primary");
    expect(run.resources.filter((r) => r.type.includes("postgresql"))).toEqual([]);
  });

  it("connect as the non-superuser RDS master over TLS, with the password read from the RDS secret", async () => {
    const run = await runStack("primary", { database: { manageRoles: true } });
    const provider = run.one("pulumi:providers:postgresql");
    const secretArn = run.outputs.dbMasterSecretArn as string;
    expect(secretArn).toMatch(/:secret:rds!db-/);
    expect(provider.inputs).toMatchObject({
      host: run.outputs.dbEndpoint,
      database: "app",
      username: "dradmin",
      sslmode: "require",
    });
    expect(String(provider.inputs.superuser)).toBe("false");
    expect(String(provider.inputs.port)).toBe("5432");
    // The mock's secret for exactly this ARN: the provider got the RDS-managed password.
    expect(provider.inputs.password).toMatch(/^mock-password-[0-9A-F]{8}$/);
  });

  it("creates backup (granted pg_read_all_data) and app, with passwords kept in Secrets Manager", async () => {
    const run = await runStack("primary", { database: { manageRoles: true } });
    const keyArn = run.outputs.kmsKeyArn as string;
    for (const login of ["backup", "app"]) {
      const secret = run.one("aws:secretsmanager/secret:Secret", `acme-dr-use1-db-roles-${login}`);
      expect(secret.inputs).toMatchObject({
        region: "us-east-1",
        name: `acme-dr-use1/db/${login}`,
        kmsKeyId: keyArn,
        recoveryWindowInDays: 30,
        replicas: [
          {
            region: "us-west-2",
            kmsKeyId: "arn:aws:kms:us-west-2:111122223333:alias/acme-dr-usw2",
          },
        ],
      });
      const version = run.one(
        "aws:secretsmanager/secretVersion:SecretVersion",
        `acme-dr-use1-db-roles-${login}`,
      );
      expect(version.inputs.secretId).toBe(secret.id);
      expect(version.ignoreChanges).toEqual(["secretString"]);
      const stored = JSON.parse(version.inputs.secretString) as {
        username: string;
        password: string;
      };
      expect(stored.username).toBe(login);
      expect(stored.password).toMatch(/^[A-Za-z0-9_-]{32}$/);

      const role = run.one("postgresql:index/role:Role", `acme-dr-use1-db-roles-${login}`);
      expect(role.inputs).toMatchObject({ name: login, login: true, encryptedPassword: true });
      expect(role.inputs.password).toBe(stored.password);
      expect(role.inputs.superuser ?? false).toBe(false);
    }
    const grants = run.ofType("postgresql:index/grantRole:GrantRole");
    expect(grants.map((g) => g.inputs)).toEqual([
      { role: "backup", grantRole: "pg_read_all_data" },
    ]);
  });

  it("are only managed on a primary: a replica's catalog is read-only", async () => {
    for (const [stack, role] of [
      ["dr", "standby"],
      ["dr", "promoting"],
      ["primary", "fenced"],
    ] as const) {
      const run = await runStack(stack, { role, database: { manageRoles: true } });
      expect(run.resources.filter((r) => r.type.includes("postgresql"))).toEqual([]);
    }
  });
});
