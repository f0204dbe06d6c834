import * as postgresql from "@pulumi/postgresql";
import * as pulumi from "@pulumi/pulumi";

/** A login the program creates in PostgreSQL, and the predefined roles it is granted. */
export interface DbLogin {
  /** PostgreSQL role name, e.g. "backup"; the same as the username in its DbCredential. */
  readonly name: string;
  /** Its password, from its DbCredential (a Pulumi secret). */
  readonly password: pulumi.Input<string>;
  /** Roles granted to it, e.g. ["pg_read_all_data"]. @default [] */
  readonly grants?: string[];
  /**
   * BYPASSRLS: reads every row of a table with row-level security. pg_dump as a mere
   * pg_read_all_data member stops at the first such table ("query would be affected by
   * row-level security policy"), because it sets row_security=off unless --enable-row-security
   * (https://www.postgresql.org/docs/current/app-pgdump.html). @default false
   */
  readonly bypassRowLevelSecurity?: boolean;
}

export interface DbRolesArgs {
  /** The primary's address; the deployer must reach it (database.adminCidrs). */
  readonly host: pulumi.Input<string>;
  readonly port: pulumi.Input<number>;
  /** Database the provider connects to. */
  readonly database: string;
  readonly masterUsername: string;
  /** From the site's master DbCredential; never stored beyond the provider's secret config. */
  readonly masterPassword: pulumi.Input<string>;
  /** The logins to create; index.ts passes `backup` (pg_read_all_data, BYPASSRLS) and `app`. */
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
 * over TLS. The passwords are the DbCredentials' (Secrets Manager), so
 * the jobs and the database agree by construction.
 */
export class DbRoles extends pulumi.ComponentResource {
  /** PostgreSQL role names created, by login. */
  public readonly roleNames: pulumi.Output<Record<string, string>>;

  constructor(name: string, args: DbRolesArgs, opts?: pulumi.ComponentResourceOptions) {
    super("drstack:database:DbRoles", name, {}, opts);
    const problems = dbRolesArgsProblems(args);
    if (problems.length) throw new Error(`invalid DbRoles args:\n  ${problems.join("\n  ")}`);

    const provider = new postgresql.Provider(
      `${name}-pg`,
      {
        host: args.host,
        port: args.port,
        database: args.database,
        username: args.masterUsername,
        password: pulumi.secret(args.masterPassword),
        // Encrypted but not verified: verify-full needs the RDS CA bundle on the deployer's disk
        // (the provider's `sslrootcert`), which the program cannot assume; the path is the
        // operator's own network (database.adminCidrs). The CronJobs verify (contract C5).
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
          password: pulumi.secret(login.password),
          // Hashed (SCRAM on RDS for PostgreSQL 14+), never plaintext, in pg_authid.
          encryptedPassword: true,
          bypassRowLevelSecurity: login.bypassRowLevelSecurity ?? false,
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
