import { makeCtx, type Io } from "./cli";
import { backupCli, BACKUP_USAGE } from "./commands/backup";
import { drillCli, DRILL_USAGE } from "./commands/drill";
import { listCli, LIST_USAGE } from "./commands/list";
import { pitrTestCli, PITR_TEST_USAGE } from "./commands/pitrTest";
import { pruneCli, PRUNE_USAGE } from "./commands/prune";
import { rpoCli, RPO_USAGE } from "./commands/rpo";
import { restoreCli, RESTORE_USAGE } from "./commands/restore";
import { restoreTestCli, RESTORE_TEST_USAGE } from "./commands/restoreTestCli";
import { statusCli, STATUS_USAGE } from "./commands/status";
import { verifyCli, VERIFY_USAGE } from "./commands/verify";
import { DrctlError, EXIT, explain } from "./errors";
import { FAILOVER_USAGE } from "./failoverUsage";
import { withBackupMetrics } from "./metrics";
import { DRCTL_VERSION } from "./version";

export { runBackup } from "./commands/backup";
export { verifyBackup } from "./commands/verify";
export { restoreBackup } from "./commands/restore";
export { pruneBackups } from "./commands/prune";
export { backupStatus } from "./commands/status";
export { drill, writeReport, lastPassingDrill } from "./commands/drill";
export { publishMetrics, metricsTarget } from "./metrics";
export { listBackups, findBackup } from "./catalog";
export { openStore } from "./store";
export { resolveTarget } from "./postgres/target";
export { EXIT } from "./errors";

const COMMANDS = {
  // Metrics are published around the backup command, not inside it: a metrics outage must never
  // fail a backup, and the backup pipeline stays free of CloudWatch.
  backup: withBackupMetrics(backupCli),
  list: listCli,
  verify: verifyCli,
  restore: restoreCli,
  prune: pruneCli,
  status: statusCli,
  drill: drillCli,
  "restore-test": restoreTestCli,
  "pitr-test": pitrTestCli,
  rpo: rpoCli,
} as const;

const USAGE = `drctl ${DRCTL_VERSION}: logical PostgreSQL backups with integrity manifests

${BACKUP_USAGE}

${LIST_USAGE}

${VERIFY_USAGE}

${RESTORE_USAGE}

${PRUNE_USAGE}

${STATUS_USAGE}

${DRILL_USAGE}

${RESTORE_TEST_USAGE}

${PITR_TEST_USAGE}

${RPO_USAGE}

${FAILOVER_USAGE}
With DRCTL_METRICS_NAMESPACE set, backup, drill and status publish CloudWatch metrics
(--no-metrics turns that off for one run; a metrics failure is only a warning).
Exit codes: 0 success, 1 operation failed, 2 objective breached or verification failed, 64 usage error.`;

/** Runs drctl with `argv` (without node and script) and returns the exit code. Never exits. */
export async function main(
  argv: string[],
  io: Io = { stdout: process.stdout, stderr: process.stderr, env: process.env },
): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "help" || command === "--help" || command === "-h") {
    io.stdout.write(`${USAGE}\n`);
    return command === undefined ? EXIT.usage : EXIT.ok;
  }
  if (command === "--version" || command === "version") {
    io.stdout.write(`drctl ${DRCTL_VERSION}\n`);
    return EXIT.ok;
  }
  if (command === "failover" || command === "failback") {
    // The failover orchestrator drives Pulumi stacks, not a backup store: it parses its own flags.
    // It is the operator's tool and the backup agent image does not ship it (DESIGN §3): the path
    // is a variable so that the image's build (drctl/tsconfig.build.json) does not compile it in.
    if (argv.includes("--help") || argv.includes("-h")) {
      io.stdout.write(FAILOVER_USAGE);
      return EXIT.ok;
    }
    const orchestrator = "./failover/command";
    let mod: { failoverCommand(argv: string[], io: Io): Promise<number> };
    try {
      mod = (await import(orchestrator)) as typeof mod;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "MODULE_NOT_FOUND") throw err;
      io.stderr.write(
        `drctl ${command}: the failover orchestrator is not in this build (the backup agent image ` +
          `ships without it); run it from a checkout of the repository: drctl/bin/drctl ${command} --to <site>\n`,
      );
      return EXIT.usage;
    }
    return mod.failoverCommand(argv, io);
  }
  if (!Object.hasOwn(COMMANDS, command)) {
    io.stderr.write(
      `drctl: unknown command "${command}"; expected one of ${[...Object.keys(COMMANDS), "failover", "failback"].join(", ")} (drctl --help)\n`,
    );
    return EXIT.usage;
  }
  const ctx = makeCtx(io);
  try {
    return await COMMANDS[command as keyof typeof COMMANDS](rest, ctx);
  } catch (err) {
    const e = explain(err, "drctl");
    if (e instanceof DrctlError) {
      ctx.sink({ event: "error", op: command, message: e.message });
      io.stderr.write(`drctl ${command}: ${e.message}\n`);
      return e.exitCode;
    }
    // A bug, not a user error: the stack trace is what the maintainer needs.
    io.stderr.write(`drctl ${command}: unexpected error: ${e.stack ?? e.message}\n`);
    return EXIT.failed;
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
