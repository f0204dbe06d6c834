import * as aws from "@pulumi/aws";
import * as postgresql from "@pulumi/postgresql";
import * as pulumi from "@pulumi/pulumi";
import { randomBytes } from "node:crypto";

/** A login the program creates, and the predefined roles it is granted. */
export interface DbLogin {
  /** PostgreSQL role name, e.g. "backup". */
  readonly name: string;
  /** Secrets Manager name for its credentials, from naming.dbLoginSecretName. */
  readonly secretName: string;
  /** Roles granted to it, e.g. ["pg_read_all_data"]. @default [] */
  readonly grants?: string[];
}

export interface DbRolesArgs {
  readonly region: string;
  /** The primary's address. */
  readonly host: pulumi.Input<string>;
  readonly port: pulumi.Input<number>;
  /** Database the provider connects to. */
  readonly database: string;
  readonly masterUsername: string;
  /** The RDS-managed master secret (JSON with `password`); read at deploy time, never stored. */
  readonly masterSecretArn: pulumi.Input<string>;
  /** The site key: encrypts the login secrets. */
  readonly kmsKeyArn: pulumi.Input<string>;
  /** Replicate the login secrets into the peer region, so a promoted peer finds them. @default undefined */
  readonly replicaRegion?: { readonly region: string; readonly kmsKeyArn: string };
  /** The logins to create; index.ts passes `backup` (pg_read_all_data) and `app`. */
  readonly logins: DbLogin[];
  /** Tags for the secrets. @default {} */
  readonly tags?: Record<string, string>;
}

/**
 * Database logins on the primary, managed with @pulumi/postgresql: each gets a generated password
 * kept in Secrets Manager. The provider connects as the RDS master, which is not a superuser
 * (`rds_superuser` is a role, not SUPERUSER), over TLS.
 */
export class DbRoles extends pulumi.ComponentResource {
  /** Secret ARN per login name. */
  public readonly secretArns: pulumi.Output<Record<string, string>>;

  constructor(name: string, args: DbRolesArgs, opts?: pulumi.ComponentResourceOptions) {
    super("drstack:database:DbRoles", name, {}, opts);
    const logins = args.logins;
    if (logins.length === 0) throw new Error("[logins] must name at least one login");
    const tags = args.tags ?? {};
    const region = args.region;
    const child = { parent: this };

    const master = aws.secretsmanager.getSecretVersionOutput(
      { region, secretId: args.masterSecretArn },
      child,
    );
    const provider = new postgresql.Provider(
      `${name}-pg`,
      {
        host: args.host,
        port: args.port,
        database: args.database,
        username: args.masterUsername,
        password: pulumi.secret(
          master.secretString.apply((s) => (JSON.parse(s) as { password: string }).password),
        ),
        sslmode: "require",
        // The RDS master lacks SUPERUSER; the provider must not use superuser-only statements.
        superuser: false,
        connectTimeout: 15,
      },
      child,
    );

    const arns: Record<string, pulumi.Output<string>> = {};
    for (const login of logins) {
      const secret = new aws.secretsmanager.Secret(
        `${name}-${login.name}`,
        {
          region,
          name: login.secretName,
          description: `PostgreSQL login ${login.name} (dr-stack)`,
          kmsKeyId: args.kmsKeyArn,
          recoveryWindowInDays: 30,
          replicas: args.replicaRegion
            ? [{ region: args.replicaRegion.region, kmsKeyId: args.replicaRegion.kmsKeyArn }]
            : [],
          tags,
        },
        child,
      );
      // The password is generated here, written once, and then owned by Secrets Manager:
      // `ignoreChanges` keeps the first value, so a fresh random string on every run (node crypto
      // is not stable across runs, and @pulumi/random is not a dependency) never rotates it by
      // accident. The role's password is read back from the stored version, so both agree.
      // Rotating is deliberate: replace this SecretVersion (`pulumi up --replace <urn>`).
      const version = new aws.secretsmanager.SecretVersion(
        `${name}-${login.name}`,
        {
          region,
          secretId: secret.id,
          secretString: pulumi.secret(
            JSON.stringify({
              username: login.name,
              password: randomBytes(24).toString("base64url"),
            }),
          ),
        },
        { parent: this, ignoreChanges: ["secretString"] },
      );
      const role = new postgresql.Role(
        `${name}-${login.name}`,
        {
          name: login.name,
          login: true,
          password: pulumi.secret(
            version.secretString.apply(
              (s) => (JSON.parse(s ?? "{}") as { password: string }).password,
            ),
          ),
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
      arns[login.name] = secret.arn;
    }

    this.secretArns = pulumi.output(arns);
    this.registerOutputs({ secretArns: this.secretArns });
  }
}
