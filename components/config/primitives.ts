import { z } from "zod";
import { awsCronError, cronError, parseCidr } from "../validation";

/** The config namespace of every key the program reads (`dr-stack:<key>`). */
export const NAMESPACE = "dr-stack";

export const ROLES = ["primary", "standby", "promoting", "fenced"] as const;
export type Role = (typeof ROLES)[number];

/** Floors below which a tier's retention would break the monthly-restore promise (docs/architecture.md §4). */
export const RETENTION_FLOORS = { daily: 7, weekly: 28, monthly: 365 } as const;
export const TIERS = ["daily", "weekly", "monthly"] as const;
/** How long a restore can be undone from its pre-restore backup, at least (docs/backup-storage.md). */
export const PRE_RESTORE_FLOOR = 7;
export type Tier = (typeof TIERS)[number];

/** RDS backup retention floor: a week of point-in-time recovery. */
export const DB_BACKUP_RETENTION_FLOOR = 7;

export const region = z.string().regex(/^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$/, {
  error: "must be an AWS region such as us-east-1",
});

export const cidr = z.string().refine((v) => parseCidr(v) !== undefined, {
  error: "must be an IPv4 network in CIDR form such as 10.10.0.0/16 (no host bits set)",
});

export const cron = z.string().superRefine((v, ctx) => {
  const err = cronError(v);
  if (err) ctx.addIssue({ code: "custom", message: `malformed cron "${v}": ${err}` });
});

export const awsCron = z.string().superRefine((v, ctx) => {
  const err = awsCronError(v);
  if (err) ctx.addIssue({ code: "custom", message: `malformed AWS cron "${v}": ${err}` });
});

/**
 * A boolean that may arrive as text: `pulumi config set dr-stack:peerLinks false` stores the
 * string "false" for a top-level key (only objects and arrays arrive as JSON).
 */
export const flag = z.union([
  z.boolean(),
  z.enum(["true", "false"]).transform((v) => v === "true"),
]);

/**
 * A key the program no longer reads. Setting it is an error that says what replaced it, rather
 * than zod's bare "unknown key" (or, worse, a silently ignored setting).
 */
export function removedKey(replacement: string) {
  return z
    .unknown()
    .optional()
    .superRefine((v, ctx) => {
      if (v !== undefined) ctx.addIssue({ code: "custom", message: `was removed; ${replacement}` });
    })
    .transform(() => undefined);
}
