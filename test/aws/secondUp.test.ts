import { isDeepStrictEqual } from "node:util";
import { describe, expect, it } from "vitest";
import { runStack, type RegisteredResource, type StackRun } from "../harness";
import { keepGeneratedPasswords } from "../support/diff";
import { computedState } from "../support/mocks";

/**
 * Issue 13, "second up is empty": the mocks answer as AWS reads resources back (a key ARN where
 * an alias was given, lowercase RDS identifiers), and the second `up` of each stack, diffed
 * against that state the way the engine does (new inputs against old state, minus
 * ignoreChanges), plans nothing.
 */

/** Inputs that replace the resource when they change (terraform-provider-aws schemas, ForceNew). */
const FORCE_NEW: Record<string, string[]> = {
  "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication": [
    "kmsKeyId",
    "sourceDbInstanceArn",
    "retentionPeriod",
    "preSignedUrl",
  ],
  "aws:rds/instance:Instance": ["identifier", "kmsKeyId", "storageEncrypted", "dbName", "username"],
  "aws:kms/alias:Alias": ["name"],
  "aws:secretsmanager/secret:Secret": ["name"],
};

/**
 * Whether an input differs from the state read back: only what the program sets counts, so a
 * computed field AWS adds inside an object (EKS's vpcConfig.clusterSecurityGroupId) is no diff.
 */
function differs(input: unknown, state: unknown): boolean {
  if (Array.isArray(input))
    return (
      !Array.isArray(state) ||
      input.length !== state.length ||
      input.some((x, i) => differs(x, state[i]))
    );
  if (input && typeof input === "object")
    return (
      !state ||
      typeof state !== "object" ||
      Object.entries(input).some(([k, v]) => differs(v, (state as Record<string, unknown>)[k]))
    );
  return !isDeepStrictEqual(input, state);
}

export interface Planned {
  readonly resource: string;
  readonly key: string;
  readonly replace: boolean;
}

/** What the engine would plan for `next` (inputs of this up) against `prev` (state of the last). */
export function plan(prev: RegisteredResource, next: RegisteredResource): Planned[] {
  return Object.keys(next.inputs)
    .filter((k) => !next.ignoreChanges.includes(k))
    .filter((k) => differs(next.inputs[k], prev.state[k]))
    .map((k) => ({
      resource: `${next.type} ${next.name}`,
      key: k,
      replace: (FORCE_NEW[next.type] ?? []).includes(k),
    }));
}

function planAll(first: StackRun, second: StackRun): Planned[] {
  return keepGeneratedPasswords(first, second).flatMap((r) => {
    const prev = first.resources.find((p) => p.urn === r.urn);
    return prev
      ? plan(prev, r)
      : [{ resource: `${r.type} ${r.name}`, key: "(create)", replace: false }];
  });
}

describe("a second up is empty", () => {
  for (const [stack, overrides] of [
    ["primary", {}],
    ["dr", {}],
    ["dr", { role: "promoting", database: { previousRole: "standby" } }],
  ] as const) {
    it(`${stack} ${JSON.stringify(overrides)}: nothing to update or replace`, async () => {
      const first = await runStack(stack, overrides);
      const second = await runStack(stack, overrides);
      expect(planAll(first, second)).toEqual([]);
    });
  }

  it("the backups replication's key ARN is what AWS reads back; an alias ARN would replace it", async () => {
    const run = await runStack("primary");
    const repl = run.one(
      "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication",
    );
    expect(repl.state.kmsKeyId).toBe(repl.inputs.kmsKeyId);
    // Revert 13.3: pass the alias; the mocked AWS stores the key ARN, and the next up replaces it.
    const alias = "arn:aws:kms:us-west-2:111122223333:alias/acme-dr-usw2";
    const created = { ...repl, inputs: { ...repl.inputs, kmsKeyId: alias } };
    const state = computedState(repl.type, repl.name, created.inputs, "us-east-1").state;
    expect(state.kmsKeyId).toBe(repl.inputs.kmsKeyId);
    expect(plan({ ...created, state }, created)).toEqual([
      {
        resource: `${repl.type} acme-dr-use1-db-backups-to-us-west-2`,
        key: "kmsKeyId",
        replace: true,
      },
    ]);
  });
});
