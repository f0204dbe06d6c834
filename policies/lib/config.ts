import type { PolicyConfigSchema } from "@pulumi/policy";

/**
 * A policy's thresholds: the pack config the CLI hands over (`getConfig()`), over the defaults
 * declared in the policy's own `configSchema`. The CLI fills in schema defaults itself; merging
 * them here too means a rule never sees `undefined` for a threshold whichever caller runs it
 * (the CLI, the offline check, or a test).
 */
export function thresholds<T extends object>(
  schema: PolicyConfigSchema,
  args: { getConfig<U extends object>(): U },
): T {
  const defaults: Record<string, unknown> = {};
  for (const [key, prop] of Object.entries(schema.properties)) {
    if (prop.default !== undefined) defaults[key] = prop.default;
  }
  return { ...defaults, ...args.getConfig<Partial<T>>() } as T;
}

/** A non-negative integer number of days, with its default, for a `configSchema`. */
export function daysProperty(description: string, defaultDays: number) {
  return { type: "integer" as const, minimum: 0, default: defaultDays, description };
}

/** The tiers' day floors a rule's config holds: `dailyDays`, `weeklyDays`, `monthlyDays`. */
export interface TierDaysConfig {
  dailyDays: number;
  weeklyDays: number;
  monthlyDays: number;
}

/**
 * The three tier floors as `configSchema` properties, defaulting to docs/architecture.md §4's 7 / 28 / 365 days;
 * `describe` says what the floor bounds for one tier.
 */
export function tierDaysProperties(describe: (tier: "daily" | "weekly" | "monthly") => string) {
  return {
    dailyDays: daysProperty(describe("daily"), 7),
    weeklyDays: daysProperty(describe("weekly"), 28),
    monthlyDays: daysProperty(describe("monthly"), 365),
  };
}

/** A rule's tier floors, by tier, over the schema's defaults. */
export function tierFloors(
  schema: PolicyConfigSchema,
  args: { getConfig<U extends object>(): U },
): Record<"daily" | "weekly" | "monthly", number> {
  const cfg = thresholds<TierDaysConfig>(schema, args);
  return { daily: cfg.dailyDays, weekly: cfg.weeklyDays, monthly: cfg.monthlyDays };
}
