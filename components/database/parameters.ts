import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

export interface DbParametersArgs {
  readonly region: string;
  /** PostgreSQL major version, e.g. "16" (a minor such as "16.4" is accepted and truncated). */
  readonly engineVersion: string;
  /**
   * Make every new transaction read-only (`default_transaction_read_only=1`): the fence on a former
   * primary, so a region that comes back cannot take writes the new primary never sees.
   * @default false
   */
  readonly readOnly?: boolean;
  /** Tags for the group. @default {} */
  readonly tags?: Record<string, string>;
}

/** The RDS parameter family of a PostgreSQL version: "16.4" → "postgres16". */
export function postgresFamily(engineVersion: string): string {
  const major = /^(\d+)(\.\d+)?$/.exec(engineVersion)?.[1];
  if (major === undefined) {
    throw new Error(
      `[engineVersion] must be a PostgreSQL version such as "16" or "16.4", got "${engineVersion}"`,
    );
  }
  return `postgres${major}`;
}

/** The parameters of the site's group; a pure function so tests and docs can show exactly what ships. */
export function dbParameterList(readOnly: boolean): aws.types.input.rds.ParameterGroupParameter[] {
  const params: aws.types.input.rds.ParameterGroupParameter[] = [
    // TLS for every connection, including drctl's and the replicas'.
    // https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/PostgreSQL.Concepts.General.SSL.html
    { name: "rds.force_ssl", value: "1", applyMethod: "immediate" },
    // pg_cron writes the heartbeat that measures the data at risk in seconds (docs/restore-testing.md):
    // a library loaded at server start, so it is in the group from its creation and no instance
    // ever needs a reboot for it (a static parameter: pending-reboot). RDS runs pg_cron 1.6 on
    // PostgreSQL 16 (pg_available_extensions shows 1.6), and interval schedules ('5 seconds') need
    // 1.5 or later. The same group in every role: the job catalog replicates with everything
    // else, and a hot standby refuses the heartbeat's write, so only the writable instance beats,
    // the promoted one included, with no step of ours. What pg_cron's launcher itself does on a
    // standby we found in no AWS page: the heartbeat's design does not depend on it.
    // https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/PostgreSQL_pg_cron.html
    // https://github.com/citusdata/pg_cron (README: "'[1-59] seconds'" schedules, from 1.5)
    { name: "shared_preload_libraries", value: "pg_cron", applyMethod: "pending-reboot" },
  ];
  if (readOnly) {
    // Dynamic parameter: takes effect for new transactions without a reboot.
    // https://www.postgresql.org/docs/current/runtime-config-client.html#GUC-DEFAULT-TRANSACTION-READ-ONLY
    params.push({ name: "default_transaction_read_only", value: "1", applyMethod: "immediate" });
  }
  return params;
}

/**
 * The instance's own parameter group. Every role uses the same group (the same logical resource),
 * so fencing or unfencing changes parameter values in place and never the instance's
 * `parameterGroupName`, and a cross-region replica does not fall back to the region's default
 * group, which would not force TLS.
 */
export class DbParameters extends pulumi.ComponentResource {
  public readonly name: pulumi.Output<string>;
  public readonly family: pulumi.Output<string>;

  constructor(name: string, args: DbParametersArgs, opts?: pulumi.ComponentResourceOptions) {
    super("drstack:database:DbParameters", name, {}, opts);
    const readOnly = args.readOnly ?? false;
    const tags = args.tags ?? {};
    const family = postgresFamily(args.engineVersion);

    // No explicit `name`: a major-version upgrade changes the family, which replaces the group,
    // and an auto-generated name lets the new group exist before the old one is detached.
    const group = new aws.rds.ParameterGroup(
      name,
      {
        region: args.region,
        family,
        // Constant: a description change replaces the group (and reboots the instance to attach it).
        description: `dr-stack ${family} parameters`,
        parameters: dbParameterList(readOnly),
        tags,
      },
      { parent: this },
    );

    this.name = group.name;
    this.family = group.family;
    this.registerOutputs({ name: this.name, family: this.family });
  }
}
