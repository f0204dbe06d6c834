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
