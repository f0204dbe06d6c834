import { describe, expect, it } from "vitest";
import { ROLES } from "../../components/config";
import { runStack, type StackRun } from "../harness";

const HEALTH_CHECK = "aws:route53/healthCheck:HealthCheck";
const RECORD = "aws:route53/record:Record";
const ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm";
const COMPONENT = "drstack:dns:DnsFailover";

/** Route 53 is global: none of its resources may carry a region (aws v7 would reject it). */
function expectGlobal(run: StackRun) {
  for (const r of [...run.ofType(HEALTH_CHECK), ...run.ofType(RECORD)]) {
    expect(r.inputs.region, r.name).toBeUndefined();
  }
}

const TAGS = { "dr-stack:project": "acme-dr", "dr-stack:site": "use1" };

/** The Region switch health checks pinned in both stack files (dr-stack:regionSwitch.healthCheckIds). */
const RS_CHECK = {
  use1: "3f1c2a4e-8b7d-4c1e-9a2f-5d6e7f809a1b",
  usw2: "7a9b8c6d-1e2f-4a3b-8c4d-2e1f0a9b8c7d",
};

describe("DNS failover: one record and its checks per site", () => {
  it("primary stack (use1): PRIMARY record gated by use1's Region switch check alone", async () => {
    const run = await runStack("primary");
    const component = run.one(COMPONENT, "acme-dr-use1-dns");
    const endpoint = run.one(HEALTH_CHECK, "acme-dr-use1-dns-health");
    expect(endpoint.parent).toBe(component.urn);
    expect(endpoint.inputs).toEqual({
      type: "HTTPS",
      fqdn: "use1.app.acme-dr.example.com",
      resourcePath: "/healthz",
      port: 443,
      requestInterval: 10,
      failureThreshold: 3,
      measureLatency: true,
      tags: { Name: "acme-dr-use1 app.acme-dr.example.com", ...TAGS },
    });
    // Checker regions are left to Route 53's default (all of them).
    expect(endpoint.inputs.regions).toBeUndefined();

    const record = run.one(RECORD);
    expect(record.name).toBe("acme-dr-use1-dns-record");
    expect(record.parent).toBe(component.urn);
    expect(record.inputs).toEqual({
      zoneId: "Z0123456789ABCDEFGHIJ",
      name: "app.acme-dr.example.com",
      type: "A",
      setIdentifier: "acme-dr-use1",
      failoverRoutingPolicies: [{ type: "PRIMARY" }],
      healthCheckId: RS_CHECK.use1,
      records: ["198.51.100.10", "198.51.100.11"],
      ttl: 60,
      allowOverwrite: false,
    });
    // One check in the stack (the endpoint's, which the alarms watch): no traffic-control
    // alarm, no CALCULATED gate, no alarm at all for a public endpoint.
    expect(run.ofType(HEALTH_CHECK).map((r) => r.name)).toEqual(["acme-dr-use1-dns-health"]);
    expect(
      run
        .ofType(ALARM)
        .filter((r) => r.parent === component.urn)
        .map((r) => r.name),
    ).toEqual([]);
    expectGlobal(run);

    expect(run.outputs.dnsRecordName).toBe("app.acme-dr.example.com");
    expect(run.outputs.dnsFailoverType).toBe("PRIMARY");
    expect(run.outputs.healthCheckId).toBe(endpoint.id);
    expect(run.outputs.recordHealthCheckId).toBe(RS_CHECK.use1);
  });

  it("dr stack (usw2): SECONDARY record gated by usw2's Region switch check", async () => {
    const run = await runStack("dr");
    expect(run.one(HEALTH_CHECK, "acme-dr-usw2-dns-health").inputs.fqdn).toBe(
      "usw2.app.acme-dr.example.com",
    );
    expect(run.one(RECORD).inputs).toEqual({
      zoneId: "Z0123456789ABCDEFGHIJ",
      name: "app.acme-dr.example.com",
      type: "A",
      setIdentifier: "acme-dr-usw2",
      failoverRoutingPolicies: [{ type: "SECONDARY" }],
      healthCheckId: RS_CHECK.usw2,
      records: ["192.0.2.10", "192.0.2.11"],
      ttl: 60,
      allowOverwrite: false,
    });
    expectGlobal(run);
    expect(run.outputs.dnsFailoverType).toBe("SECONDARY");
  });

  it.each(["primary", "dr"] as const)(
    "%s stack: record and checks are identical in every role",
    async (stack) => {
      const dnsOf = (run: StackRun) =>
        run.resources
          .filter((r) => r.parent === run.one(COMPONENT).urn)
          .map((r) => ({ type: r.type, name: r.name, inputs: r.inputs }));
      const runs = [];
      for (const role of ROLES) runs.push(dnsOf(await runStack(stack, { role })));
      expect(runs[0].map((r) => r.type).sort()).toEqual([HEALTH_CHECK, RECORD]);
      for (const [i, r] of runs.entries()) expect(r, ROLES[i]).toEqual(runs[0]);
    },
  );

  it("dns.primarySite decides the failover type, the role does not", async () => {
    const usw2Primary = { dns: { primarySite: "usw2" } };
    const use1 = await runStack("primary", usw2Primary);
    const usw2 = await runStack("dr", { ...usw2Primary, role: "standby" });
    expect(use1.one(RECORD).inputs.failoverRoutingPolicies).toEqual([{ type: "SECONDARY" }]);
    expect(usw2.one(RECORD).inputs.failoverRoutingPolicies).toEqual([{ type: "PRIMARY" }]);
  });

  it("the two stacks form one failover pair, each record on its own region's check", async () => {
    const primary = await runStack("primary");
    const dr = await runStack("dr");
    const [p, d] = [primary.one(RECORD).inputs, dr.one(RECORD).inputs];
    expect([p.name, p.type, p.zoneId]).toEqual([d.name, d.type, d.zoneId]);
    expect(p.setIdentifier).not.toBe(d.setIdentifier);
    expect([p.failoverRoutingPolicies[0].type, d.failoverRoutingPolicies[0].type]).toEqual([
      "PRIMARY",
      "SECONDARY",
    ]);
    // Region switch makes one check per region and flips them from the region it activates;
    // each record carries its own region's, so the two never share a status.
    // https://docs.aws.amazon.com/r53recovery/latest/dg/route53-health-check-block.html
    expect([p.healthCheckId, d.healthCheckId]).toEqual([RS_CHECK.use1, RS_CHECK.usw2]);
  });

  it("nothing a site's record depends on lives in the other region", async () => {
    for (const stack of ["primary", "dr"] as const) {
      const run = await runStack(stack);
      const region = run.outputs.region as string;
      // No check the stack registers reads an alarm outside the site's own region, and no
      // alarm of the DNS component lives elsewhere.
      for (const check of run.ofType(HEALTH_CHECK)) {
        if (check.inputs.cloudwatchAlarmRegion !== undefined) {
          expect(check.inputs.cloudwatchAlarmRegion, check.name).toBe(region);
        }
      }
      const component = run.one(COMPONENT).urn;
      for (const alarm of run.ofType(ALARM).filter((r) => r.parent === component)) {
        expect(alarm.inputs.region, alarm.name).toBe(region);
      }
      // The record's one check is not one the stack made: it is Region switch's, pinned.
      const record = run.one(RECORD).inputs;
      expect(run.ofType(HEALTH_CHECK).map((c) => c.id)).not.toContain(record.healthCheckId);
      expect(record.healthCheckId).toBe(RS_CHECK[run.outputs.site as "use1" | "usw2"]);
    }
  });

  it("the record waits for its pinned Region switch check (first deployment, before step 4)", async () => {
    const run = await runStack("dr", { regionSwitch: { healthCheckIds: undefined } });
    expect(run.ofType(RECORD)).toEqual([]);
    // The endpoint check exists already: the alarms watch it from the start.
    expect(run.ofType(HEALTH_CHECK).map((r) => r.name)).toEqual(["acme-dr-usw2-dns-health"]);
    expect(run.outputs.recordHealthCheckId).toBeUndefined();
  });

  it("without dr-stack:dns (and so without a plan) nothing is registered and the type output says none", async () => {
    const run = await runStack("primary", { dns: undefined, regionSwitch: undefined });
    expect(run.ofType(COMPONENT)).toEqual([]);
    expect(run.ofType(HEALTH_CHECK)).toEqual([]);
    expect(run.ofType(RECORD)).toEqual([]);
    expect(run.outputs.dnsFailoverType).toBe("none");
    expect(run.outputs.dnsRecordName).toBeUndefined();
    expect(run.outputs.healthCheckId).toBeUndefined();
  });
});

describe("DNS failover record targets and health check settings", () => {
  it("alias to the site's load balancer: no TTL, no records, target health not evaluated", async () => {
    const run = await runStack("primary", {
      sites: {
        use1: {
          dns: {
            records: undefined,
            loadBalancer: {
              dnsName: "k8s-app-ingress-0123456789.us-east-1.elb.amazonaws.com",
              zoneId: "Z35SXDOTRQ7X7K",
            },
          },
        },
      },
    });
    const record = run.one(RECORD);
    expect(record.inputs).toEqual({
      zoneId: "Z0123456789ABCDEFGHIJ",
      name: "app.acme-dr.example.com",
      type: "A",
      setIdentifier: "acme-dr-use1",
      failoverRoutingPolicies: [{ type: "PRIMARY" }],
      healthCheckId: RS_CHECK.use1,
      // "When EvaluateTargetHealth is true, an alias record inherits the health of the referenced
      // AWS resource": the load balancer's targets, which fail while a promoted database reboots.
      // https://docs.aws.amazon.com/Route53/latest/APIReference/API_AliasTarget.html
      aliases: [
        {
          name: "k8s-app-ingress-0123456789.us-east-1.elb.amazonaws.com",
          zoneId: "Z35SXDOTRQ7X7K",
          evaluateTargetHealth: false,
        },
      ],
      allowOverwrite: false,
    });
    expect("ttl" in record.inputs).toBe(false);
    expect("records" in record.inputs).toBe(false);
  });

  it("a CNAME record with an explicit TTL", async () => {
    const run = await runStack("primary", {
      dns: { recordType: "CNAME", ttl: 30 },
      sites: {
        use1: { dns: { records: ["ingress.use1.acme-dr.example.com"] } },
        usw2: { dns: { records: ["ingress.usw2.acme-dr.example.com"] } },
      },
    });
    const record = run.one(RECORD).inputs;
    expect(record.type).toBe("CNAME");
    expect(record.records).toEqual(["ingress.use1.acme-dr.example.com"]);
    expect(record.ttl).toBe(30);
  });

  it("custom HTTPS health check settings reach the check unchanged", async () => {
    const run = await runStack("dr", {
      dns: {
        healthCheck: { path: "/ready", port: 8443, requestInterval: 30, failureThreshold: 2 },
      },
    });
    const check = run.one(HEALTH_CHECK, "acme-dr-usw2-dns-health").inputs;
    expect([check.resourcePath, check.port, check.requestInterval, check.failureThreshold]).toEqual(
      ["/ready", 8443, 30, 2],
    );
  });

  it("private endpoint: a CloudWatch alarm in the site region drives a CLOUDWATCH_METRIC check", async () => {
    const run = await runStack("dr", {
      sites: {
        usw2: {
          dns: {
            healthCheckFqdn: undefined,
            healthMetric: {
              dimensions: {
                TargetGroup: "targetgroup/k8s-app-web/0123456789abcdef",
                LoadBalancer: "app/k8s-app-internal/fedcba9876543210",
              },
            },
          },
        },
      },
    });
    const component = run.one(COMPONENT);
    const alarm = run.one(ALARM, "acme-dr-usw2-dns-alarm");
    expect(alarm.name).toBe("acme-dr-usw2-dns-alarm");
    expect(alarm.parent).toBe(component.urn);
    expect(alarm.inputs).toMatchObject({
      region: "us-west-2",
      name: "acme-dr-usw2-dns-health",
      namespace: "AWS/ApplicationELB",
      metricName: "HealthyHostCount",
      dimensions: {
        TargetGroup: "targetgroup/k8s-app-web/0123456789abcdef",
        LoadBalancer: "app/k8s-app-internal/fedcba9876543210",
      },
      statistic: "Minimum",
      comparisonOperator: "LessThanThreshold",
      threshold: 1,
      period: 60,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      treatMissingData: "breaching",
    });
    const check = run.one(HEALTH_CHECK, "acme-dr-usw2-dns-health");
    expect(check.inputs).toMatchObject({
      type: "CLOUDWATCH_METRIC",
      cloudwatchAlarmName: "acme-dr-usw2-dns-health",
      cloudwatchAlarmRegion: "us-west-2",
      insufficientDataHealthStatus: "Unhealthy",
    });
    expect(check.inputs.fqdn).toBeUndefined();
    expect(check.inputs.region).toBeUndefined();
    expect(JSON.parse(check.inputs.triggers.metric)).toMatchObject({ periodSeconds: 60 });
    // The alarms watch the private endpoint's check; the record still follows the plan alone.
    expect(run.one(RECORD).inputs.healthCheckId).toBe(RS_CHECK.usw2);
    expect(run.outputs.healthCheckId).toBe(check.id);
  });
});
