import { parse, parseOneOf, parsePositiveInt, pick, storeFrom, str, type Ctx } from "../cli";
import { EXIT, UsageError } from "../errors";
import { awsPitrPort, type PitrAws } from "../pitr/aws";
import { PITR_METRICS, PITR_TARGETS, pitrTest, type PitrTarget } from "../pitr/pitrTest";

/** The command line of `drctl pitr-test` (the logic is ../pitr/pitrTest.ts). */

export const PITR_TEST_USAGE = `drctl pitr-test --instance ID --peer-instance-arn ARN --subnet-group NAME --security-group SG
            --cleanup-function NAME [--target random|latest] [--identifier-prefix P]
            [--instance-class C] [--smoke-sql SQL ...] [--database NAME] [--login NAME] [--restore-timeout-minutes N]
            [--modify-timeout-minutes N] [--store URL] [--report-dir DIR] [--no-metrics] [--json]
Restores the site's database to a point in time (random in the restore window, or the latest
restorable time - 5 min): from the site's own instance when it keeps automated backups, else from
the peer's automated backups replicated into this region. Sets a fresh master password, gives the
login (default backup) a throwaway password on the copy, runs the smoke SQL as it, writes <report-dir>/<date>-<target>.json and deletes the copy through the cleanup
function. Env: AWS_REGION, DRCTL_PITR_INSTANCE, DRCTL_PITR_PEER_INSTANCE_ARN, DRCTL_PITR_SUBNET_GROUP,
DRCTL_PITR_SECURITY_GROUP, DRCTL_PITR_CLEANUP_FUNCTION, DRCTL_PITR_INSTANCE_CLASS, DRCTL_SMOKE_SQL.
Exit 2 when the test failed (the report says why).`;

const OPTIONS = {
  store: { type: "string" },
  "s3-endpoint": { type: "string" },
  help: { type: "boolean", short: "h" },
  instance: { type: "string" },
  "peer-instance-arn": { type: "string" },
  "subnet-group": { type: "string" },
  "security-group": { type: "string" },
  "cleanup-function": { type: "string" },
  "identifier-prefix": { type: "string" },
  "instance-class": { type: "string" },
  target: { type: "string" },
  "smoke-sql": { type: "string", multiple: true },
  database: { type: "string" },
  login: { type: "string" },
  "restore-timeout-minutes": { type: "string" },
  "modify-timeout-minutes": { type: "string" },
  "report-dir": { type: "string" },
  "sse-kms-key-id": { type: "string" },
  "no-metrics": { type: "boolean" },
  json: { type: "boolean" },
} as const;

function required(
  values: Record<string, string | boolean | undefined>,
  env: NodeJS.ProcessEnv,
  flag: string,
  envName: string,
): string {
  const v = pick(values, flag, env, envName);
  if (v === undefined) {
    throw new UsageError(
      `drctl pitr-test needs --${flag} (or ${envName}); see drctl pitr-test --help`,
    );
  }
  return v;
}

function smokeSqlFrom(flags: string[] | undefined, env: NodeJS.ProcessEnv): string[] {
  if (flags && flags.length > 0) return flags;
  if (!env.DRCTL_SMOKE_SQL) return [];
  let v: unknown;
  try {
    v = JSON.parse(env.DRCTL_SMOKE_SQL);
  } catch {
    v = undefined;
  }
  if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) {
    throw new UsageError(`DRCTL_SMOKE_SQL must be a JSON array of SQL strings`);
  }
  return v;
}

/** `drctl pitr-test`; `port` is for tests (the CLI builds the real one for AWS_REGION). */
export async function pitrTestCli(
  argv: string[],
  ctx: Ctx,
  port?: (region: string, cleanupFunction: string) => Promise<PitrAws>,
  clock: { sleep?: (ms: number) => Promise<void>; pollMs?: number; random?: () => number } = {},
): Promise<number> {
  const { values } = parse("pitr-test", argv, OPTIONS, false);
  if (values.help) {
    ctx.out(PITR_TEST_USAGE);
    return EXIT.ok;
  }
  const env = ctx.env;
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  if (!region) throw new UsageError("drctl pitr-test needs AWS_REGION (the site's own region)");
  const instance = required(values, env, "instance", "DRCTL_PITR_INSTANCE");
  const peerInstanceArn = required(
    values,
    env,
    "peer-instance-arn",
    "DRCTL_PITR_PEER_INSTANCE_ARN",
  );
  if (!/^arn:[^:]+:rds:[a-z0-9-]+:\d{12}:db:[a-z][a-z0-9-]*$/.test(peerInstanceArn)) {
    throw new UsageError(
      `--peer-instance-arn must be an RDS DB instance ARN (arn:aws:rds:<region>:<account>:db:<id>), got "${peerInstanceArn}"`,
    );
  }
  const subnetGroup = required(values, env, "subnet-group", "DRCTL_PITR_SUBNET_GROUP");
  const securityGroupId = required(values, env, "security-group", "DRCTL_PITR_SECURITY_GROUP");
  const cleanupFunction = required(values, env, "cleanup-function", "DRCTL_PITR_CLEANUP_FUNCTION");
  const target = parseOneOf(
    str(values, "target") ?? "random",
    PITR_TARGETS,
    "--target",
  ) satisfies PitrTarget;
  const minutes = (flag: string, fallback: number) => {
    const v = str(values, flag);
    return (v === undefined ? fallback : parsePositiveInt(v, `--${flag}`)) * 60_000;
  };
  const store = storeFrom(values, env, pick(values, "sse-kms-key-id", env, "DRCTL_SSE_KMS_KEY_ID"));
  const namespace =
    values["no-metrics"] === true ? undefined : env.DRCTL_METRICS_NAMESPACE || undefined;

  const aws = await (port ?? awsPitrPort)(region, cleanupFunction);
  try {
    const { report, key } = await pitrTest({
      aws,
      store,
      sink: ctx.sink,
      env,
      region,
      instance,
      peerInstanceArn,
      identifierPrefix: str(values, "identifier-prefix") ?? `${instance.slice(0, 44)}-pitr`,
      subnetGroup,
      securityGroupId,
      instanceClass: pick(values, "instance-class", env, "DRCTL_PITR_INSTANCE_CLASS"),
      target,
      database: str(values, "database") ?? env.PGDATABASE ?? "postgres",
      login: pick(values, "login", env, "DRCTL_PITR_LOGIN") ?? "backup",
      smokeSql: smokeSqlFrom((values as Record<string, unknown>)["smoke-sql"] as string[], env),
      // A point-in-time restore replays WAL on top of a snapshot: an hour per few hundred GB is
      // usual; three hours is a restore that will not make the RTO either way.
      restoreTimeoutMs: minutes("restore-timeout-minutes", 180),
      modifyTimeoutMs: minutes("modify-timeout-minutes", 20),
      pollMs: clock.pollMs ?? 30_000,
      sleep: clock.sleep,
      random: clock.random,
      reportDir: str(values, "report-dir") ?? env.DRCTL_PITR_REPORT_DIR,
    });
    if (namespace) {
      try {
        await aws.putMetrics(namespace, [
          { ...PITR_METRICS.success, value: report.passed ? 1 : 0 },
        ]);
      } catch (err) {
        ctx.io.stderr.write(
          `drctl pitr-test: warning: publishing ${PITR_METRICS.success.name} to ${namespace} failed ` +
            `(${err instanceof Error ? err.message : String(err)}); the report is at ${key}\n`,
        );
      }
    }
    if (values.json) ctx.out(JSON.stringify(report, null, 2));
    else {
      ctx.out(
        `${report.passed ? "PASSED" : "FAILED"} ${report.restoredInstance ?? "(no restore)"} at ` +
          `${report.restoreTime ?? "-"} (age ${report.restoreTimeAgeSeconds ?? "-"} s, restore ` +
          `${report.restoreSeconds ?? "-"} s): ${report.reason}; ${report.cleanup}; report ${key}`,
      );
    }
    return report.passed ? EXIT.ok : EXIT.breached;
  } finally {
    aws.destroy();
  }
}
