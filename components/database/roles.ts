import * as aws from "@pulumi/aws";
import * as postgresql from "@pulumi/postgresql";
import * as pulumi from "@pulumi/pulumi";

/** A login the program creates in PostgreSQL, and the predefined roles it is granted. */
export interface DbLogin {
  /** PostgreSQL role name, e.g. "backup"; the same as the username in its DbCredential. */
  readonly name: string;
  /**
   * Its secret (DbCredential.storedSecretArn): the role's password is the secret's **current**
   * value, so rotating a login is "put the new value in its secret, then `pulumi up` the
   * primary" and PostgreSQL follows (docs/runbooks/upgrades.md).
   */
  readonly secretArn: pulumi.Input<string>;
  /** Roles granted to it, e.g. ["pg_read_all_data"]. @default [] */
  readonly grants?: string[];
}

export interface DbRolesArgs {
  /** The primary's region, where its secrets live. */
  readonly region: string;
  /** The primary's address; the deployer must reach it (database.adminCidrs). */
  readonly host: pulumi.Input<string>;
  readonly port: pulumi.Input<number>;
  /** Database the provider connects to. */
  readonly database: string;
  readonly masterUsername: string;
  /**
   * The master secret (DbCredential.storedSecretArn). The provider logs in with its **current**
   * value, looked up on every run: a rotated master password (changed in RDS, then in the
   * secret) is what the next `up` uses, not the value this program wrote once and keeps in state.
   */
  readonly masterSecretArn: pulumi.Input<string>;
  /**
   * The logins to create; index.ts passes `backup` (pg_read_all_data) and `app`. No login gets an
   * attribute the RDS master cannot grant: the master is `NOSUPERUSER CREATEROLE`, and PostgreSQL
   * lets only a superuser (15 and earlier) or, from 16, a role that has the attribute itself set
   * BYPASSRLS, SUPERUSER or REPLICATION (CREATE ROLE,
   * https://www.postgresql.org/docs/current/sql-createrole.html). Tables with row-level security
   * are read through a policy for the backup login (docs/first-deployment.md).
   */
  readonly logins: DbLogin[];
}

/** Problems with the args, each naming the argument. */
export function dbRolesArgsProblems(args: DbRolesArgs): string[] {
  const problems: string[] = [];
  if (args.logins.length === 0) problems.push("[logins] must name at least one login");
  const names = args.logins.map((l) => l.name);
  for (const n of names) {
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(n))
      problems.push(
        `[logins] "${n}" is not a plain PostgreSQL role name (a-z, 0-9, _; 63 at most)`,
      );
  }
  if (new Set(names).size !== names.length)
    problems.push(`[logins] names repeat: ${names.join(", ")}`);
  if (names.includes(args.masterUsername))
    problems.push(`[logins] must not include the master user ${args.masterUsername}`);
  return problems;
}

/**
 * Database logins on the primary, created with @pulumi/postgresql from the deployer. The
 * provider connects as the RDS master, which is not a superuser (`rds_superuser` is a role, not
 * SUPERUSER: https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Appendix.PostgreSQL.CommonDBATasks.Roles.rds_superuser.html),
 * over TLS. The passwords are the DbCredentials' current values (Secrets Manager), so the jobs
 * and the database agree by construction, after a rotation too.
 */
export class DbRoles extends pulumi.ComponentResource {
  /** PostgreSQL role names created, by login. */
  public readonly roleNames: pulumi.Output<Record<string, string>>;

  constructor(name: string, args: DbRolesArgs, opts?: pulumi.ComponentResourceOptions) {
    super("drstack:database:DbRoles", name, {}, opts);
    const problems = dbRolesArgsProblems(args);
    if (problems.length) throw new Error(`invalid DbRoles args:\n  ${problems.join("\n  ")}`);

    const child = { parent: this };
    const current = (secretId: pulumi.Input<string>) =>
      pulumi.secret(
        aws.secretsmanager
          .getSecretVersionOutput({ region: args.region, secretId }, child)
          .secretString.apply((s) => (JSON.parse(s) as { password: string }).password),
      );

    const provider = new postgresql.Provider(
      `${name}-pg`,
      {
        host: args.host,
        port: args.port,
        database: args.database,
        username: args.masterUsername,
        password: current(args.masterSecretArn),
        // Encrypted but not verified: verify-full needs the RDS CA bundle on the deployer's disk
        // (the provider's `sslrootcert`), which the program cannot assume; the path is the
        // operator's own network (database.adminCidrs). The CronJobs verify the server.
        sslmode: "require",
        // The RDS master lacks SUPERUSER; the provider must not use superuser-only statements.
        superuser: false,
        connectTimeout: 15,
      },
      { parent: this },
    );

    const roleNames: Record<string, pulumi.Output<string>> = {};
    for (const login of args.logins) {
      const role = new postgresql.Role(
        `${name}-${login.name}`,
        {
          name: login.name,
          login: true,
          password: current(login.secretArn),
          // Hashed (SCRAM on RDS for PostgreSQL 14+), never plaintext, in pg_authid.
          encryptedPassword: true,
        },
        { parent: this, provider },
      );
      for (const grant of login.grants ?? []) {
        new postgresql.GrantRole(
          `${name}-${login.name}-${grant}`,
          { role: role.name, grantRole: grant },
          { parent: this, provider },
        );
      }
      roleNames[login.name] = role.name;
    }

    this.roleNames = pulumi.output(roleNames);
    this.registerOutputs({ roleNames: this.roleNames });
  }
}
