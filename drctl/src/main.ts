import type { Ctx, Io } from "./cli";
import { DrctlError, EXIT, explain } from "./errors";
import { FAILOVER_USAGE } from "./failoverUsage";
import { DRCTL_VERSION } from "./version";

type Command = (argv: string[], ctx: Ctx) => Promise<number>;

/**
 * Each command's module is loaded only when that command runs: loading all of them (the AWS SDK
 * clients, pg, zod) took most of a second before `drctl --version` could answer. The library
 * exports live in api.ts for the same reason.
 */
const COMMANDS: Record<string, () => Promise<Command>> = {
  // Metrics are published around the backup command, not inside it: a metrics outage must never
  // fail a backup, and the backup pipeline stays free of CloudWatch.
  backup: async () => {
    const [{ backupCli }, { withBackupMetrics }] = await Promise.all([
      import("./commands/backup"),
      import("./metrics"),
    ]);
    return withBackupMetrics(backupCli);
  },
  list: async () => (await import("./commands/list")).listCli,
  verify: async () => (await import("./commands/verify")).verifyCli,
  restore: async () => (await import("./commands/restore")).restoreCli,
  prune: async () => (await import("./commands/prune")).pruneCli,
  status: async () => (await import("./commands/status")).statusCli,
  check: async () => (await import("./commands/check")).checkCli,
  drill: async () => (await import("./commands/drill")).drillCli,
  "restore-test": async () => (await import("./commands/restoreTestCli")).restoreTestCli,
  "pitr-test": async () => (await import("./commands/pitrTest")).pitrTestCli,
  rpo: async () => (await import("./commands/rpo")).rpoCli,
};

/** The full usage: loads every command's module, which only --help needs. */
async function usage(): Promise<string> {
  const texts = await Promise.all([
    import("./commands/backup").then((m) => m.BACKUP_USAGE),
    import("./commands/list").then((m) => m.LIST_USAGE),
    import("./commands/verify").then((m) => m.VERIFY_USAGE),
    import("./commands/restore").then((m) => m.RESTORE_USAGE),
    import("./commands/prune").then((m) => m.PRUNE_USAGE),
    import("./commands/status").then((m) => m.STATUS_USAGE),
    import("./commands/check").then((m) => m.CHECK_USAGE),
    import("./commands/drill").then((m) => m.DRILL_USAGE),
    import("./commands/restoreTestCli").then((m) => m.RESTORE_TEST_USAGE),
    import("./commands/pitrTest").then((m) => m.PITR_TEST_USAGE),
    import("./commands/rpo").then((m) => m.RPO_USAGE),
  ]);
  return `drctl ${DRCTL_VERSION}: logical PostgreSQL backups with integrity manifests

${texts.join("\n\n")}

${FAILOVER_USAGE}
With DRCTL_METRICS_NAMESPACE set, backup, drill and status publish CloudWatch metrics
(--no-metrics turns that off for one run; a metrics failure is only a warning).
Exit codes: 0 success, 1 operation failed, 2 objective breached or verification failed, 64 usage error.`;
}

/** Runs drctl with `argv` (without node and script) and returns the exit code. Never exits. */
export async function main(
  argv: string[],
  io: Io = { stdout: process.stdout, stderr: process.stderr, env: process.env },
): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "help" || command === "--help" || command === "-h") {
    io.stdout.write(`${await usage()}\n`);
    return command === undefined ? EXIT.usage : EXIT.ok;
  }
  if (command === "--version" || command === "version") {
    io.stdout.write(`drctl ${DRCTL_VERSION}\n`);
    return EXIT.ok;
  }
  if (command === "failover" || command === "failback") {
    // The failover orchestrator drives Pulumi stacks, not a backup store: it parses its own flags.
    // It is the operator's tool and the backup agent image does not ship it (docs/architecture.md §3): the path
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
  const ctx = (await import("./cli")).makeCtx(io);
  try {
    const run = await COMMANDS[command]();
    return await run(rest, ctx);
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
