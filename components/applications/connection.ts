import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";

export interface AppConnectionArgs {
  /** The site's cluster. */
  readonly provider: k8s.Provider;
  /** The applications' namespace (dr-stack:applications.namespace), created here. */
  readonly namespace: string;
  /** naming.appDatabaseSecretName. */
  readonly secretName: string;
  /** The site's own database: its RDS endpoint, which a promotion does not change. */
  readonly host: pulumi.Input<string>;
  readonly port: pulumi.Input<number>;
  readonly database: string;
  /** The `app` login, from the site's own secret in its own region. */
  readonly username: pulumi.Input<string>;
  readonly password: pulumi.Input<string>;
  /** @default {} */
  readonly labels?: Record<string, string>;
}

/**
 * The one fixed place, in each cluster, where applications read their database connection: the
 * Secret `app-database` in their namespace, holding the site's own RDS endpoint, port, database
 * and the `app` login, and a libpq URI with sslmode=verify-full. Each site's stack writes its own
 * site's values, so an application written against it writes to whichever site is primary after
 * a failover with no edit: the plan scales the applications of the activated site, whose Secret
 * already names the database just promoted.
 *
 * `host` is the RDS endpoint's own name, the name its certificate carries, so verify-full holds;
 * a Service name (an ExternalName alias) is not in the certificate and would fail the check.
 * https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.SSL.html
 * https://www.postgresql.org/docs/current/libpq-ssl.html#LIBPQ-SSL-PROTECTION
 * Why a Secret the stack writes (and not the Secrets Store CSI driver or External Secrets):
 * docs/applications.md.
 */
export class AppConnection extends pulumi.ComponentResource {
  public readonly namespace: pulumi.Output<string>;
  public readonly secretName: pulumi.Output<string>;

  constructor(name: string, args: AppConnectionArgs, opts?: pulumi.ComponentResourceOptions) {
    super("drstack:applications:AppConnection", name, {}, opts);
    const child = { parent: this, provider: args.provider };
    const labels = { "app.kubernetes.io/managed-by": "dr-stack", ...(args.labels ?? {}) };
    const ns = new k8s.core.v1.Namespace(
      `${name}-ns`,
      { metadata: { name: args.namespace, labels } },
      child,
    );
    const uri = pulumi
      .all([args.username, args.password, args.host, args.port])
      .apply(
        ([user, password, host, port]) =>
          `postgresql://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${host}:${port}/` +
          `${encodeURIComponent(args.database)}?sslmode=verify-full`,
      );
    const secret = new k8s.core.v1.Secret(
      `${name}-secret`,
      {
        metadata: { name: args.secretName, namespace: ns.metadata.name, labels },
        type: "Opaque",
        stringData: {
          host: args.host,
          port: pulumi.output(args.port).apply(String),
          dbname: args.database,
          username: args.username,
          password: pulumi.secret(args.password),
          sslmode: "verify-full",
          uri: pulumi.secret(uri),
        },
      },
      child,
    );
    this.namespace = ns.metadata.name;
    this.secretName = secret.metadata.name;
    this.registerOutputs({ namespace: this.namespace, secretName: this.secretName });
  }
}
