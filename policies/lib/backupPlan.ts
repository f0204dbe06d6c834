import type * as aws from "@pulumi/aws";
import type * as pulumi from "@pulumi/pulumi";
import type { Tier } from "./lifecycle";

export type PlanRule = pulumi.Unwrap<aws.types.input.backup.PlanRule>;
export interface Lifecycle {
  coldStorageAfter?: number;
  deleteAfter?: number;
}

/** The tier a plan rule serves, from its name (`daily`, `weekly`, `monthly`), if it says. */
export function ruleTier(rule: PlanRule): Tier | undefined {
  const name = rule.ruleName.toLowerCase();
  return (["monthly", "weekly", "daily"] as const).find((t) => name.includes(t));
}

/** A rule's own lifecycle and each copy action's, labelled for messages. */
export function lifecycles(rule: PlanRule): { where: string; lifecycle: Lifecycle }[] {
  return [
    { where: `rule ${rule.ruleName}`, lifecycle: rule.lifecycle ?? {} },
    ...(rule.copyActions ?? []).map((c) => ({
      where: `rule ${rule.ruleName} copy to ${c.destinationVaultArn}`,
      lifecycle: c.lifecycle ?? {},
    })),
  ];
}
