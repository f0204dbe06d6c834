import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { randomBytes } from "node:crypto";

export interface DbCredentialArgs {
  /** This site's region: the secret lives here, so the site can log in while the peer is down. */
  readonly region: string;
  /** From naming.dbMasterSecretName or naming.dbLoginSecretName. */
  readonly secretName: string;
  /** PostgreSQL role name stored beside the password. */
  readonly username: string;
  /** The site key: encrypts the secret in this region. */
  readonly kmsKeyArn: pulumi.Input<string>;
  /**
   * The peer's region, where Secrets Manager keeps a read-only replica of this secret. The
   * replica is encrypted with the peer region's `aws/secretsmanager` key, which exists in every
   * account and region: the replica is created in the first deployment's first step, before the
   * peer's site key exists, and never changes with `peerLinks` or `role`.
   */
  readonly replicaRegion: string;
  /**
   * Where the password comes from. `generate` (a site whose database is its own: primary,
   * promoting, fenced) writes a fresh one once and keeps it. `{ copyOf }` (a standby) follows the
   * same-named login of the peer, read from that secret's replica **in this region**: a standby's
   * database is a physical copy of the peer's, so its logins are the peer's logins, and after a
   * promotion this secret already holds the password the promoted database accepts.
   */
  readonly source: "generate" | { readonly copyOf: string };
  /**
   * With `source: "generate"`, the value written: index.ts generates the master password once per
   * run and hands the same value to the instance, whose password is create-only too.
   * @default a fresh generatePassword()
   */
  readonly initialPassword?: pulumi.Input<string>;
  /**
   * Where the credential connects: stored beside it as AWS's documented keys for an RDS
   * PostgreSQL secret (`engine`, `host`, `port`, `dbname`; "JSON structure of AWS Secrets Manager
   * secrets", https://docs.aws.amazon.com/secretsmanager/latest/userguide/reference_secret_json_structure.html#reference_secret_json_structure_rds-postgres),
   * so a client needs the secret alone.
   */
  readonly connection: DbConnection;
  /** @default {} */
  readonly tags?: Record<string, string>;
}

/** The database a credential logs in to. */
export interface DbConnection {
  /** This site's instance address (its own, in every role: a standby's is its replica's). */
  readonly host: pulumi.Input<string>;
  readonly port: pulumi.Input<number>;
  readonly dbname: string;
}

/** The secret's JSON, in AWS's documented shape for RDS PostgreSQL (key order as AWS shows it). */
export function credentialJson(c: {
  username: string;
  password: string;
  host: string;
  port: number;
  dbname: string;
}): string {
  return JSON.stringify({
    engine: "postgres",
    host: c.host,
    username: c.username,
    password: c.password,
    dbname: c.dbname,
    port: c.port,
  });
}

/** 32 characters of base64url: none of the `/`, `"`, `@` or space RDS refuses in a master password. */
export function generatePassword(): string {
  return randomBytes(24).toString("base64url");
}

/**
 * A database credential (`credentialJson`: engine, host, username, password, dbname, port) in
 * Secrets Manager in the site's own region, with a replica in the peer's: the master credential,
 * and the same for each login the jobs use. The password is never an output of the stack nor in any pod spec: pods get
 * the secret's ARN and read it with their own IAM identity.
 *
 * Why not RDS-managed passwords: RDS refuses to create a read replica of a source whose master
 * password Secrets Manager manages ("Limitations for Secrets Manager integration with Amazon
 * RDS", https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-secrets-manager.html#rds-secrets-manager-limitations).
 *
 * Why generated here and not @pulumi/random: the value is written once and then owned by
 * Secrets Manager (`ignoreChanges`), so node's CSPRNG is enough and no extra provider plugin is
 * needed. It is kept in Pulumi state as a secret (encrypted by the stack's secrets provider).
 * Rotation is deliberate and changes the database first: docs/runbooks/upgrades.md, "Rotating a
 * password". Whatever reads the password later (the PostgreSQL provider, the jobs) reads the
 * secret's current value, never this program's copy in state.
 */
export class DbCredential extends pulumi.ComponentResource {
  public readonly secretArn: pulumi.Output<string>;
  /**
   * The secret's ARN, resolved only once its first value is stored: look the current value up
   * through this (`aws.secretsmanager.getSecretVersion`), so a rotated password is read, not the
   * one this program wrote.
   */
  public readonly storedSecretArn: pulumi.Output<string>;
  public readonly username: pulumi.Output<string>;

  constructor(name: string, args: DbCredentialArgs, opts?: pulumi.ComponentResourceOptions) {
    super("drstack:database:DbCredential", name, {}, opts);
    if (args.region === args.replicaRegion) {
      throw new Error(`[replicaRegion] must be the peer's region, not ${args.region} itself`);
    }
    const tags = args.tags ?? {};
    const region = args.region;
    const child = { parent: this };

    const secret = new aws.secretsmanager.Secret(
      name,
      {
        region,
        name: args.secretName,
        description: `PostgreSQL credential ${args.username} (dr-stack)`,
        kmsKeyId: args.kmsKeyArn,
        recoveryWindowInDays: 30,
        replicas: [{ region: args.replicaRegion }],
        tags,
      },
      // A deleted credential locks everyone out of the database: never delete it with the stack.
      { parent: this, retainOnDelete: true },
    );

    const source = args.source;
    const conn = args.connection;
    const password =
      source === "generate"
        ? pulumi.secret(args.initialPassword ?? generatePassword())
        : aws.secretsmanager
            .getSecretVersionOutput({ region, secretId: source.copyOf }, child)
            .secretString.apply((s) => (JSON.parse(s) as { password?: string }).password ?? "");
    const value = pulumi
      .all([password, conn.host, conn.port])
      .apply(([p, host, port]) =>
        credentialJson({ username: args.username, password: p, host, port, dbname: conn.dbname }),
      );

    const version = new aws.secretsmanager.SecretVersion(
      name,
      { region, secretId: secret.id, secretString: pulumi.secret(value) },
      // A generated value is kept once written (a new random string each run must not rotate
      // it); a copy follows the peer on every update of the standby.
      { parent: this, ignoreChanges: source === "generate" ? ["secretString"] : [] },
    );

    this.secretArn = secret.arn;
    this.storedSecretArn = pulumi.all([secret.arn, version.id]).apply(([arn]) => arn);
    this.username = pulumi.output(args.username);
    this.registerOutputs({
      secretArn: this.secretArn,
      storedSecretArn: this.storedSecretArn,
      username: this.username,
    });
  }
}
