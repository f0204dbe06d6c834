/**
 * drctl as a library, for programs that drive it in-process (the local rehearsal, rehearsal/).
 * Kept apart from main.ts, which loads only the command being run so that the CLI starts fast.
 */
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
