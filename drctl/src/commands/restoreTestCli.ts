import { parse, pick, parsePositiveInt, storeFrom, str, type Ctx } from "../cli";
import { DrctlError, EXIT, UsageError, explain } from "../errors";
import {
  checkRestoreTests,
  DEFAULT_RESTORE_TEST_DIR,
  message,
  RESTORE_TEST_METRICS,
} from "./restoreTest";
import { awsRestoreTestPort, regionOfPlanArn, type RestoreTestAws } from "./restoreTestAws";

/** The command line of `drctl restore-test` (the logic is ./restoreTest.ts). */

export const RESTORE_TEST_USAGE = `drctl restore-test --plan-arn ARN [--plan-arn ARN ...] [--store URL] [--login NAME]
            [--modify-timeout-minutes N] [--smoke-sql SQL ...] [--database NAME] [--lookback-hours N]
            [--report-dir DIR] [--no-metrics] [--json]
Validates the restore jobs of AWS Backup restore testing plans: sets each completed restore's master
password (ModifyDBInstance; the copy holds its recovery point's passwords), gives the login (default
backup) a throwaway password on the copy as that master, runs the smoke SQL as the login, writes
<report-dir>/<date>-<job>.json to the store and publishes the result with PutRestoreValidationResult.
Env: DRCTL_RESTORE_TEST_PLAN_ARNS, DRCTL_RESTORE_TEST_LOGIN, DRCTL_SMOKE_SQL, PGDATABASE, PGSSLMODE,
PGSSLROOTCERT. Exit 2 when a test finished in this run failed.`;

function jsonOf<T>(text: string, name: string, valid: (v: unknown) => v is T, example: string): T {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new UsageError(`${name} is not valid JSON; expected ${example}`);
  }
  if (!valid(v)) throw new UsageError(`${name} must be ${example}`);
  return v;
}

const isStrings = (v: unknown): v is string[] =>
  Array.isArray(v) && v.every((x) => typeof x === "string");

/** `drctl restore-test`; `port` is for tests (the CLI builds the real one from the plan's region). */
export async function restoreTestCli(
  argv: string[],
  ctx: Ctx,
  port?: (region: string) => Promise<RestoreTestAws>,
): Promise<number> {
  const { values } = parse(
    "restore-test",
    argv,
    {
      store: { type: "string" },
      "s3-endpoint": { type: "string" },
      help: { type: "boolean", short: "h" },
      "plan-arn": { type: "string", multiple: true },
      login: { type: "string" },
      "modify-timeout-minutes": { type: "string" },
      "smoke-sql": { type: "string", multiple: true },
      database: { type: "string" },
      "lookback-hours": { type: "string" },
      "report-dir": { type: "string" },
      "sse-kms-key-id": { type: "string" },
      "no-metrics": { type: "boolean" },
      json: { type: "boolean" },
    },
    false,
  );
  if (values.help) {
    ctx.out(RESTORE_TEST_USAGE);
    return EXIT.ok;
  }
  const env = ctx.env;
  const raw = values as Record<string, unknown>;
  const flagPlans = raw["plan-arn"] as string[] | undefined;
  const planArns =
    flagPlans && flagPlans.length > 0
      ? flagPlans
      : env.DRCTL_RESTORE_TEST_PLAN_ARNS
        ? jsonOf(
            env.DRCTL_RESTORE_TEST_PLAN_ARNS,
            "DRCTL_RESTORE_TEST_PLAN_ARNS",
            isStrings,
            "a JSON array of plan ARNs",
          )
        : [];
  if (planArns.length === 0) {
    throw new UsageError(
      "drctl restore-test needs --plan-arn arn:aws:backup:<region>:<account>:restore-testing-plan:<name> " +
        "(or DRCTL_RESTORE_TEST_PLAN_ARNS)",
    );
  }
  const regions = [...new Set(planArns.map(regionOfPlanArn))];
  if (regions.length !== 1 || regions[0] === undefined) {
    throw new UsageError(
      `--plan-arn must be restore testing plan ARNs of one region (the site's own), got ${planArns.join(", ")}`,
    );
  }
  const login = pick(values, "login", env, "DRCTL_RESTORE_TEST_LOGIN") ?? "backup";
  const modifyMinutes = str(values, "modify-timeout-minutes");
  const flagSql = raw["smoke-sql"] as string[] | undefined;
  const smokeSql =
    flagSql && flagSql.length > 0
      ? flagSql
      : env.DRCTL_SMOKE_SQL
        ? jsonOf(env.DRCTL_SMOKE_SQL, "DRCTL_SMOKE_SQL", isStrings, `a JSON array of SQL strings`)
        : [];
  const database = str(values, "database") ?? env.PGDATABASE ?? "postgres";
  const lookback = str(values, "lookback-hours");
  const store = storeFrom(values, env, pick(values, "sse-kms-key-id", env, "DRCTL_SSE_KMS_KEY_ID"));
  const namespace =
    values["no-metrics"] === true ? undefined : env.DRCTL_METRICS_NAMESPACE || undefined;

  const aws = await (port ?? awsRestoreTestPort)(regions[0]);
  try {
    const run = await checkRestoreTests({
      planArns,
      store,
      aws,
      login,
      // Within the CronJob's 30-minute deadline, with room for the checks.
      modifyTimeoutMs:
        (modifyMinutes === undefined
          ? 15
          : parsePositiveInt(modifyMinutes, "--modify-timeout-minutes")) * 60_000,
      pollMs: 15_000,
      database,
      smokeSql,
      env,
      sink: ctx.sink,
      reportDir: str(values, "report-dir") ?? env.DRCTL_RESTORE_TEST_DIR,
      lookbackHours:
        lookback === undefined ? undefined : parsePositiveInt(lookback, "--lookback-hours"),
    });
    if (namespace) {
      const m = RESTORE_TEST_METRICS;
      const data: { name: string; unit: string; value: number }[] = run.finished.map((r) => ({
        ...m.success,
        value: r.passed ? 1 : 0,
      }));
      if (run.lastSuccess) {
        const age = (Date.now() - run.lastSuccess.validatedAt.getTime()) / 1000;
        data.push({ ...m.lastSuccessAge, value: Math.max(0, Math.round(age)) });
      }
      if (data.length > 0) {
        try {
          await aws.putMetrics(namespace, data);
        } catch (err) {
          ctx.io.stderr.write(
            `drctl restore-test: warning: publishing ${data.length} metric(s) to ${namespace} failed ` +
              `(${message(err)}); the results are in the store and in AWS Backup. Check ` +
              `cloudwatch:PutMetricData for this namespace in the role's policy\n`,
          );
        }
      }
    }
    if (values.json) {
      ctx.out(JSON.stringify(run, null, 2));
    } else {
      for (const r of run.finished) {
        ctx.out(
          `${r.passed ? "PASSED" : "FAILED"} ${r.restoreJobId} (${r.sourceResourceArn ?? "?"}): ${r.reason}`,
        );
      }
      for (const w of run.waiting) ctx.out(`waiting ${w.restoreJobId}: ${w.reason}`);
      ctx.out(
        `last passing restore test: ${run.lastSuccess ? `${run.lastSuccess.validatedAt.toISOString()} (${run.lastSuccess.key})` : "none on record"}`,
      );
    }
    const failed = run.finished.filter((r) => !r.passed);
    if (failed.length > 0) {
      ctx.io.stderr.write(
        `drctl restore-test: ${failed.length} restore test(s) failed; the reports are under ` +
          `${store.url} ${str(values, "report-dir") ?? env.DRCTL_RESTORE_TEST_DIR ?? DEFAULT_RESTORE_TEST_DIR}/ ` +
          `and in AWS Backup's restore jobs\n`,
      );
      return EXIT.breached;
    }
    return EXIT.ok;
  } catch (err) {
    throw err instanceof DrctlError ? err : explain(err, "drctl restore-test");
  } finally {
    aws.destroy();
  }
}
