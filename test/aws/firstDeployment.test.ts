import { describe, expect, it } from "vitest";
import { runStack, stackConfig, type StackName, type StackRun } from "../harness";
import { DOCUMENTED_SEQUENCE, walk, type Step } from "./walk";

/**
 * Issue 13, "first deployment as a test": the documented sequence (docs/first-deployment.md)
 * passes the walk, and the primary going first with its peer links on fails it, naming what
 * does not exist yet.
 */

const SITES: Record<StackName, { region: string; accountId: string }> = {
  primary: { region: "us-east-1", accountId: "111122223333" },
  dr: { region: "us-west-2", accountId: "111122223333" },
};
const up = (step: Step) => runStack(step.stack, step.overrides);
/** What must exist before (docs/first-deployment.md): the deploying role, a cluster admin. */
const EXISTING = new Set(
  (stackConfig("primary")["dr-stack:cluster"] as { adminPrincipalArns: string[] })
    .adminPrincipalArns,
);

describe("first deployment walk", { timeout: 600_000 }, () => {
  it("the documented sequence: every cross-region reference names what an earlier step created", async () => {
    const results = await walk(DOCUMENTED_SEQUENCE, up, (s) => SITES[s], EXISTING);
    expect(results.map((r) => [r.step.label, r.missing])).toEqual([
      ["1. primary, peerLinks false", []],
      ["2. dr as standby", []],
      ["3. primary, peerLinks true, the plan", []],
      ["4. dr, its half of the plan", []],
      ["5. primary, health checks pinned", []],
      ["6. dr, health checks pinned", []],
    ]);
  });

  it("the plan and the records appear at their steps, and no step asks Region switch anything", async () => {
    const runs: StackRun[] = [];
    for (const step of DOCUMENTED_SEQUENCE) runs.push(await up(step));
    const count = (i: number, type: string) => runs[i].ofType(type).length;
    const PLAN = "aws:arcregionswitch/plan:Plan";
    const RECORD = "aws:route53/record:Record";
    expect(runs.map((_, i) => [count(i, PLAN), count(i, RECORD)])).toEqual([
      [0, 0],
      [0, 0],
      [1, 0], // the plan: Region switch makes its health checks now; read and pin them (step 4a)
      [0, 0],
      [1, 1],
      [0, 1],
    ]);
    for (const r of runs) {
      expect(r.invokes.filter((i) => i.token.startsWith("aws:arcregionswitch/"))).toEqual([]);
    }
  });

  it("the standby's half of the plan before its owner's fails: the execution role does not exist", async () => {
    const [first] = await walk(
      [{ label: "1. dr, plan first", stack: "dr", overrides: { peerLinks: false } }],
      up,
      (s) => SITES[s],
      EXISTING,
    );
    expect(first.missing).toContain(
      "1. dr, plan first: aws:eks/accessEntry:AccessEntry acme-dr-usw2-rs-access references arn:aws:iam::111122223333:role/acme-dr-region-switch, which no earlier step created",
    );
  });

  it("primary first with peer links on fails, naming each missing peer resource", async () => {
    const [first] = await walk(
      [{ label: "1. primary, peerLinks true", stack: "primary", overrides: { peerLinks: true } }],
      up,
      (s) => SITES[s],
    );
    const refs = first.missing.map((m) => m.replace(/^.* references (\S+), .*$/, "$1"));
    expect(refs).toEqual(
      expect.arrayContaining([
        "alias:us-west-2:alias/acme-dr-usw2",
        "arn:aws:s3:::acme-dr-usw2-backups-111122223333",
      ]),
    );
    expect(first.missing).toContain(
      "1. primary, peerLinks true: invoke aws:kms/getAlias:getAlias references alias:us-west-2:alias/acme-dr-usw2, which no earlier step created",
    );
  });

  it("the dr stack first fails: its replica's source does not exist", async () => {
    const [first] = await walk(
      [{ label: "1. dr as standby", stack: "dr", overrides: {} }],
      up,
      (s) => SITES[s],
    );
    expect(first.missing).toEqual(
      expect.arrayContaining([
        "1. dr as standby: aws:rds/instance:Instance acme-dr-usw2-db references arn:aws:rds:us-east-1:111122223333:db:acme-dr-use1-pg, which no earlier step created",
        "1. dr as standby: invoke aws:secretsmanager/getSecretVersion:getSecretVersion references secret:us-west-2:acme-dr-use1/db/master, which no earlier step created",
      ]),
    );
  });
});
