import { Cleanup } from "./cleanup";
import { USAGE, UsageError, faultFromEnv, parseOptions, type RehearsalOptions } from "./options";
import { newReport, writeReport, type DrReport } from "./report";
import { StepFailed, rehearse } from "./steps";
import { writeTimeline } from "./timeline";
import { formatSummary, judge } from "./summary";

/** Exit codes (docs/drill.md). */
export const EXIT = { ok: 0, failed: 1, missed: 2, usage: 64 } as const;

/**
 * `npm run drill`: runs the rehearsal, writes dr_report.json, prints the summary, and returns the
 * exit code. Every process it started is stopped before it returns, on any outcome.
 */
export async function runRehearsal(argv: string[]): Promise<number> {
  let options: RehearsalOptions;
  let fault;
  try {
    const parsed = parseOptions(argv);
    if (parsed === "help") {
      process.stdout.write(`${USAGE}\n`);
      return EXIT.ok;
    }
    options = parsed;
    fault = faultFromEnv();
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`drill: ${err.message}\n${USAGE}\n`);
      return EXIT.usage;
    }
    throw err;
  }
  const report: DrReport = newReport(options.sync ? "sync" : "async", options.sizeBytes);
  const cleanup = new Cleanup();
  const live = options.json ? process.stderr : process.stdout;
  const log = (line: string): void => void live.write(`${line}\n`);

  const finish = async (failure?: { step: string; reason: string }): Promise<number> => {
    if (failure) report.failure = failure;
    const problems = await cleanup.run();
    if (problems.length > 0 && !report.failure) {
      report.failure = { step: "cleanup", reason: problems.join("; ") };
    }
    judge(report, options);
    writeReport(options.reportPath, report);
    const timeline = writeTimeline(options.reportPath, report);
    if (options.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    else {
      process.stdout.write(
        `${formatSummary(report)}\n  report: ${options.reportPath}\n  timeline: ${timeline}\n`,
      );
    }
    if (report.failure) return EXIT.failed;
    return report.passed ? EXIT.ok : EXIT.missed;
  };

  // Ctrl-C / SIGTERM: stop everything we started, write a failing report, exit 1.
  let interrupted: Promise<number> | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (interrupted) return;
    log(`  ! ${signal}: stopping every process the rehearsal started`);
    const running = report.components.find((c) => c.status === "not run");
    interrupted = finish({ step: running?.name ?? "unknown", reason: `interrupted by ${signal}` });
    void interrupted.then((code) => process.exit(code));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  log(
    `dr-stack rehearsal: ${options.sizeLabel} dataset, ${options.sync ? "synchronous" : "asynchronous"} replication` +
      (fault ? `, injected fault ${fault}` : ""),
  );
  try {
    await rehearse({ options, fault, cleanup, report, log });
  } catch (err) {
    if (interrupted) return interrupted;
    if (err instanceof StepFailed) return finish({ step: err.step, reason: err.message });
    const e = err instanceof Error ? err : new Error(String(err));
    return finish({ step: "setup", reason: e.stack ?? e.message });
  }
  if (interrupted) return interrupted;
  return finish();
}

if (require.main === module) {
  void runRehearsal(process.argv.slice(2)).then((code) => process.exit(code));
}
