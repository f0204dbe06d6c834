import { afterEach, describe, expect, it } from "vitest";
import { FakeRoute53, PLAN_STEPS } from "./awsFakes";
import { harness, readReport, type Harness } from "./fakes";

/**
 * `drctl failover --to usw2` with us-east-1 black-holed (every call into it hangs until its
 * deadline), against the fakes of ARC Region switch and Route 53 in awsFakes.ts. In each scenario
 * the old CloudWatch-metric gate left DNS on us-east-1; here the failover completes from
 * us-west-2 alone and Route 53 answers with usw2.
 */
let h: Harness;
afterEach(() => h?.restore());

function usEast1Lost(): Harness {
  h = harness();
  h.world.down.add("us-east-1");
  return h;
}

describe("the Route 53 fake answers as Route 53 does", () => {
  // https://docs.aws.amazon.com/Route53/latest/APIReference/API_ResourceRecordSet.html (Failover)
  it.each([
    [true, true, "use1"],
    [true, false, "use1"],
    [false, true, "usw2"],
    [false, false, "use1"],
  ])("primary healthy %s, secondary healthy %s: answers %s", (p, s, answer) => {
    const r53 = new FakeRoute53();
    r53.regionSwitch.use1 = p;
    r53.regionSwitch.usw2 = s;
    expect(r53.answer()).toBe(answer);
  });
});

describe("drctl failover --to usw2 with us-east-1 lost", () => {
  it("switch left off after a failback, then us-east-1 lost: the plan turns usw2 on from us-west-2", async () => {
    usEast1Lost();
    // After a failback to use1, Region switch left usw2's check unhealthy; us-east-1 is gone
    // but its check still says healthy: Route 53 keeps answering with the dark site.
    expect(h.route53.answer()).toBe("use1");
    h.route53.endpoint.use1 = false;

    const r = await h.run("failover", "--to", "usw2");

    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(h.route53.answer()).toBe("usw2");
    expect(h.sites.dnsAnswers).toEqual(["usw2"]);
    // Every Region switch call went to us-west-2's data plane; none to us-east-1.
    expect(h.regionSwitch.calls.filter((c) => !c.startsWith("us-west-2 "))).toEqual([]);
    expect(h.regionSwitch.calls.slice(0, 2)).toEqual([
      "us-west-2 ListPlansInRegion",
      "us-west-2 StartPlanExecution",
    ]);
    expect(h.regionSwitch.executions).toHaveLength(1);
    expect(h.regionSwitch.executions[0]).toMatchObject({
      activate: "us-west-2",
      mode: "ungraceful",
      state: "completed",
    });
    // No Pulumi at all: the stacks are read from their files, nothing is selected or updated.
    expect(r.calls).toEqual([]);
    expect(h.world.to("us-east-1")).toEqual([]);

    const report = readReport(h.workDir, "failover");
    expect(report.outcome).toBe("done");
    expect(report.rpoBoundSeconds).toBe(4);
    expect(report.execution).toEqual({
      planArn: "arn:aws:arc-region-switch::111122223333:plan/acme-dr-dr:a1b2c3",
      executionId: "us-west-2/0000000000000001",
      region: "us-west-2",
      mode: "ungraceful",
      state: "completed",
    });
    expect(report.steps.map((s) => [s.id, s.status])).toEqual([
      ["preflight", "done"],
      ["region-switch-usw2", "done"],
      ["check-dns-usw2", "done"],
    ]);
    expect(report.nextSteps).toEqual([
      "drctl failover reconcile --to usw2 (stack dr to what the plan did, stack primary declared " +
        "fenced); docs/runbooks/region-failover.md",
    ]);
    // Each step as it changed, in the order Region switch ran them.
    expect(r.stdout).toContain("step fence-old-primary: skipped (ungraceful)");
    for (const step of PLAN_STEPS.slice(1)) {
      expect(r.stdout).toContain(`step ${step}: running (ungraceful)`);
      expect(r.stdout).toContain(`step ${step}: completed (ungraceful)`);
    }
  });

  it("database dead, endpoint passing: traffic leaves use1 although its /healthz answers", async () => {
    usEast1Lost();
    h.route53.endpoint.use1 = true;
    h.route53.regionSwitch.usw2 = true;

    const r = await h.run("failover", "--to", "usw2");

    expect(r.code).toBe(0);
    expect(h.route53.answer()).toBe("usw2");
    expect(h.route53.regionSwitch).toEqual({ use1: false, usw2: true });
    expect(h.aws.replicaOf.usw2).toBeUndefined();
  });

  it("usw2's endpoint flaps during promotion: DNS stays on usw2 once traffic moved", async () => {
    usEast1Lost();
    h.route53.endpoint.use1 = false;
    let flip = false;
    h.regionSwitch.onStep = (step) => {
      // The promotion reboots usw2's database: its /healthz fails every other check from then on.
      if (step === "fence-old-primary") return;
      flip = !flip;
      h.route53.endpoint.usw2 = flip;
    };

    const r = await h.run("failover", "--to", "usw2");

    expect(r.code).toBe(0);
    const afterTraffic = h.regionSwitch.answers.slice(
      h.regionSwitch.answers.findIndex(
        (a) => a.step === "route-traffic" && a.status === "completed",
      ),
    );
    expect(afterTraffic.map((a) => a.answer)).toEqual(["usw2", "usw2", "usw2", "usw2", "usw2"]);
    expect(h.route53.endpoint.usw2).toBe(false);
    expect(h.route53.answer()).toBe("usw2");
  });

  it("the same flapping, behind a gate that also needs usw2's endpoint, sends clients back to use1", async () => {
    // The control for the scenario above: a calculated check over the endpoint flaps with it,
    // and with both records unhealthy Route 53 answers with the primary, the dark us-east-1.
    usEast1Lost();
    h.route53.gate = "regionSwitchAndEndpoint";
    h.route53.endpoint.use1 = false;
    let flip = false;
    h.regionSwitch.onStep = () => {
      flip = !flip;
      h.route53.endpoint.usw2 = flip;
    };

    await h.run("failover", "--to", "usw2", "--check-timeout", "5s");

    const answers = h.regionSwitch.answers.map((a) => a.answer);
    expect(answers).toContain("use1");
    expect(answers).toContain("usw2");
  });

  it("a second operator, without the first one's state file, cannot start the plan over the promoted primary", async () => {
    usEast1Lost();
    const first = await h.run("failover", "--to", "usw2");
    expect(first.code).toBe(0);

    const second = await h.run(
      "failover",
      "--to",
      "usw2",
      "--state-file",
      `${h.workDir}/other-machine.json`,
    );

    expect(second.code).toBe(1);
    expect(second.stderr).toContain(
      "usw2's database is no longer a replica (the database is not a replica (pg_is_in_recovery() is false)): " +
        "the promotion has run. Do not start the plan again;",
    );
    expect(h.regionSwitch.executions).toHaveLength(1);
    expect(h.regionSwitch.calls.filter((c) => c.endsWith("StartPlanExecution"))).toHaveLength(1);
  });

  it("follows an execution already in progress instead of starting another", async () => {
    usEast1Lost();
    await h.regionSwitch.startForTest("us-west-2");

    const r = await h.run("failover", "--to", "usw2");

    expect(r.code).toBe(0);
    expect(h.regionSwitch.executions).toHaveLength(1);
    expect(h.regionSwitch.calls.filter((c) => c.endsWith("StartPlanExecution"))).toEqual([]);
    expect(readReport(h.workDir).steps[1].note).toMatch(
      /^followed execution us-west-2\/0000000000000001, already in progress \(not started again\)/,
    );
  });

  it("stops at a paused execution saying what to do, and a re-run follows the same execution", async () => {
    usEast1Lost();
    h.regionSwitch.failStep = "scale-applications";

    const first = await h.run("failover", "--to", "usw2");

    expect(first.code).toBe(1);
    expect(first.stderr).toContain(
      "drctl failover: step region-switch-usw2 stopped the run: execution us-west-2/0000000000000001 is " +
        "pausedByFailedStep (fence-old-primary=skipped, promote-replica=completed, route-traffic=completed, " +
        "scale-applications=failed, post-check=notStarted); act on it in the console or with aws " +
        "arc-region-switch (approve, resume or cancel), then re-run this command to follow it",
    );
    h.regionSwitch.resume();
    const again = await h.run("failover", "--to", "usw2");

    expect(again.code).toBe(0);
    expect(again.stdout).toContain(
      "resuming the failover to usw2 started 2025-03-01T12:00:00.000Z at: Region switch plan",
    );
    expect(h.regionSwitch.executions).toHaveLength(1);
    expect(h.regionSwitch.calls.filter((c) => c.endsWith("StartPlanExecution"))).toHaveLength(1);
    expect(h.route53.answer()).toBe("usw2");
  });

  it("gives up following after --follow-timeout when us-west-2's data plane stops answering too", async () => {
    usEast1Lost();
    h.regionSwitch.onStep = (step, status) => {
      if (step === "promote-replica" && status === "running") h.world.down.add("us-west-2");
    };

    const r = await h.run("failover", "--to", "usw2", "--follow-timeout", "1m");

    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      "execution us-west-2/0000000000000001 is still inProgress after 1m00s (--follow-timeout); it goes on in AWS.",
    );
    const report = readReport(h.workDir, "failover");
    const polls = report.calls.filter((c) => c.target.endsWith("GetPlanExecution"));
    // Every poll bounded by the aws deadline; the ones after us-west-2 went dark timed out.
    expect(polls.every((c) => c.seconds <= 10)).toBe(true);
    expect(polls.filter((c) => c.outcome === "timed out").length).toBeGreaterThanOrEqual(2);
  });

  it("--print names the console path and the CLI commands, and calls nothing", async () => {
    usEast1Lost();
    const r = await h.run("failover", "--to", "usw2", "--print");

    expect(r.code).toBe(0);
    expect(h.regionSwitch.calls).toEqual([]);
    expect(h.world.calls).toEqual([]);
    expect(r.stdout).toContain(
      "  PLAN_ARN=$(aws arc-region-switch list-plans-in-region --region us-west-2 \\\n" +
        "    --query \"plans[?owner=='111122223333' && contains(regions, 'us-east-1') && contains(regions, 'us-west-2')].arn | [0]\" --output text)\n" +
        "  EXECUTION_ID=$(aws arc-region-switch start-plan-execution --region us-west-2 \\\n" +
        '    --plan-arn "$PLAN_ARN" --target-region us-west-2 --action activate --mode ungraceful \\\n',
    );
    expect(r.stdout).toContain("  drctl failover reconcile --to usw2\n");
  });
});
