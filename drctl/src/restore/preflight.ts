import type { Client } from "pg";
import type { CompleteBackup } from "../catalog";
import { DrctlError } from "../errors";
import type { DbTarget } from "../postgres/target";
import {
  checkJobs,
  describeObjects,
  freeConnections,
  missingExtensions,
  missingRoles,
  userObjects,
  type UserObjects,
} from "./targetState";

export interface PreflightOptions {
  readonly backup: CompleteBackup;
  readonly target: DbTarget;
  readonly confirm?: boolean;
  readonly dryRun?: boolean;
}

/**
 * Everything that can refuse the restore, checked before the target is touched: the non-empty
 * guard (every user object, not only tables), --jobs against an occupied target and against the
 * connections it has free, extensions the server cannot provide, predefined roles it lacks.
 */
export async function preflight(
  client: Client,
  o: PreflightOptions,
  jobs: number,
): Promise<{ existing: UserObjects; createRoles: string[] }> {
  const { target, backup } = o;
  const m = backup.manifest;
  const existing = await userObjects(client);
  if (existing.total > 0 && !o.confirm && !o.dryRun) {
    throw new DrctlError(
      `target ${target.label} is not empty (${describeObjects(existing)}); restore into an empty ` +
        `database, or pass --confirm to replace the backup's objects in one transaction`,
    );
  }
  if (jobs > 1 && existing.total > 0 && !o.dryRun) {
    throw new DrctlError(
      `--jobs ${jobs} restores outside a transaction and needs an empty target, but ${target.label} ` +
        `has ${describeObjects(existing)}; use --jobs 1, which replaces them atomically`,
    );
  }
  if (jobs > 1) checkJobs(jobs, await freeConnections(client), target.label);
  const lacking = await missingExtensions(client, m.extensions ?? []);
  if (lacking.length > 0) {
    throw new DrctlError(
      `target server ${target.host}:${target.port} cannot provide extension(s) ` +
        `${lacking.map((e) => `${e.name} ${e.version}`).join(", ")} that the backup uses; install ` +
        `them on the server (Debian: postgresql-contrib; RDS: a supported extension) and retry`,
    );
  }
  const roles = await missingRoles(client, m.roles ?? []);
  if (roles.impossible.length > 0) {
    throw new DrctlError(
      `target server lacks predefined role(s) ${roles.impossible.join(", ")}, which cannot be ` +
        `created; restore into PostgreSQL ${Math.floor(m.serverVersionNum / 10000)} or newer`,
    );
  }
  return { existing, createRoles: roles.create };
}
