import { describe, expect, it } from "vitest";
import { runStack, type StackRun } from "./harness";

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

describe("DNS failover records per role", () => {
  it("primary: PRIMARY record wired to an HTTPS health check on use1's own name", async () => {
    const run = await runStack("primary");
    const component = run.one(COMPONENT, "acme-dr-use1-dns");
    const check = run.one(HEALTH_CHECK);
    expect(check.name).toBe("acme-dr-use1-dns-health");
    expect(check.parent).toBe(component.urn);
    expect(check.inputs).toEqual({
      type: "HTTPS",
      fqdn: "use1.app.acme-dr.example.com",
      resourcePath: "/healthz",
      port: 443,
      requestInterval: 10,
      failureThreshold: 3,
      measureLatency: true,
      tags: {
        Name: "acme-dr-use1 app.acme-dr.example.com",
        "dr-stack:project": "acme-dr",
        "dr-stack:site": "use1",
      },
    });
    // Checker regions are left to Route 53's default (all of them).
    expect(check.inputs.regions).toBeUndefined();

    const record = run.one(RECORD);
    expect(record.name).toBe("acme-dr-use1-dns-record");
    expect(record.parent).toBe(component.urn);
    expect(record.inputs).toEqual({
      zoneId: "Z0123456789ABCDEFGHIJ",
      name: "app.acme-dr.example.com",
      type: "A",
      setIdentifier: "acme-dr-use1",
      failoverRoutingPolicies: [{ type: "PRIMARY" }],
      healthCheckId: check.id,
      records: ["198.51.100.10", "198.51.100.11"],
      ttl: 60,
      allowOverwrite: false,
    });
    expect(check.id).toMatch(/^[0-9a-f]{8}-0000-4000-8000-[0-9a-f]{12}$/);
    // The DNS component adds no alarm of its own here (BackupAlarms' alarms are its siblings).
    expect(run.ofType(ALARM).filter((r) => r.parent === run.one(COMPONENT).urn)).toEqual([]);
    expectGlobal(run);

    expect(run.outputs.dnsRecordName).toBe("app.acme-dr.example.com");
    expect(run.outputs.dnsFailoverRole).toBe("PRIMARY");
    expect(run.outputs.healthCheckId).toBe(check.id);
  });

  it("dr (standby): SECONDARY record carrying its own health check on usw2's name", async () => {
    const run = await runStack("dr");
    const check = run.one(HEALTH_CHECK);
    expect(check.name).toBe("acme-dr-usw2-dns-health");
    expect(check.inputs.type).toBe("HTTPS");
    expect(check.inputs.fqdn).toBe("usw2.app.acme-dr.example.com");
    const record = run.one(RECORD);
    expect(record.inputs).toEqual({
      zoneId: "Z0123456789ABCDEFGHIJ",
      name: "app.acme-dr.example.com",
      type: "A",
      setIdentifier: "acme-dr-usw2",
      failoverRoutingPolicies: [{ type: "SECONDARY" }],
      healthCheckId: check.id,
      records: ["192.0.2.10", "192.0.2.11"],
      ttl: 60,
      allowOverwrite: false,
    });
    expectGlobal(run);
    expect(run.outputs.dnsFailoverRole).toBe("SECONDARY");
    expect(run.outputs.healthCheckId).toBe(check.id);
  });

  it("dr (promoting): still SECONDARY until the second update makes it primary", async () => {
    const run = await runStack("dr", { role: "promoting" });
    expect(run.one(RECORD).inputs.failoverRoutingPolicies).toEqual([{ type: "SECONDARY" }]);
    expect(run.outputs.dnsFailoverRole).toBe("SECONDARY");
  });

  it("dr (primary after promotion): the same record, same set identifier, now PRIMARY", async () => {
    const standby = await runStack("dr");
    const promoted = await runStack("dr", { role: "primary" });
    const before = standby.one(RECORD);
    const after = promoted.one(RECORD);
    // Same logical name and set identifier: promotion is an in-place UPSERT, not a replacement.
    expect(after.name).toBe(before.name);
    expect(after.inputs.setIdentifier).toBe("acme-dr-usw2");
    expect(after.inputs.failoverRoutingPolicies).toEqual([{ type: "PRIMARY" }]);
    expect(after.inputs.healthCheckId).toBe(promoted.one(HEALTH_CHECK).id);
    expect(promoted.one(HEALTH_CHECK).name).toBe(standby.one(HEALTH_CHECK).name);
  });

  it("fenced: no record at all, the health check stays to show when the region is back", async () => {
    const run = await runStack("primary", { role: "fenced" });
    expect(run.ofType(RECORD)).toEqual([]);
    const check = run.one(HEALTH_CHECK);
    expect(check.inputs.fqdn).toBe("use1.app.acme-dr.example.com");
    expect(run.outputs.dnsFailoverRole).toBe("none");
    expect(run.outputs.healthCheckId).toBe(check.id);
    expect(run.outputs.dnsRecordName).toBe("app.acme-dr.example.com");
  });

  it("the two stacks form one failover pair: same name, type and zone, distinct identifiers", async () => {
    const primary = (await runStack("primary")).one(RECORD).inputs;
    const dr = (await runStack("dr")).one(RECORD).inputs;
    expect([primary.name, primary.type, primary.zoneId]).toEqual([dr.name, dr.type, dr.zoneId]);
    expect(primary.setIdentifier).not.toBe(dr.setIdentifier);
    expect([primary.failoverRoutingPolicies[0].type, dr.failoverRoutingPolicies[0].type]).toEqual([
      "PRIMARY",
      "SECONDARY",
    ]);
  });

  it("without dr-stack:dns nothing is registered and the role output says none", async () => {
    const run = await runStack("primary", { dns: undefined });
    expect(run.ofType(COMPONENT)).toEqual([]);
    expect(run.ofType(HEALTH_CHECK)).toEqual([]);
    expect(run.ofType(RECORD)).toEqual([]);
    expect(run.outputs.dnsFailoverRole).toBe("none");
    expect(run.outputs.dnsRecordName).toBeUndefined();
    expect(run.outputs.healthCheckId).toBeUndefined();
  });
});

describe("DNS failover record targets and health check settings", () => {
  it("alias to the site's load balancer: no TTL, no records, evaluateTargetHealth", async () => {
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
    const check = run.one(HEALTH_CHECK);
    const record = run.one(RECORD);
    expect(record.inputs).toEqual({
      zoneId: "Z0123456789ABCDEFGHIJ",
      name: "app.acme-dr.example.com",
      type: "A",
      setIdentifier: "acme-dr-use1",
      failoverRoutingPolicies: [{ type: "PRIMARY" }],
      healthCheckId: check.id,
      aliases: [
        {
          name: "k8s-app-ingress-0123456789.us-east-1.elb.amazonaws.com",
          zoneId: "Z35SXDOTRQ7X7K",
          evaluateTargetHealth: true,
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
    const check = run.one(HEALTH_CHECK).inputs;
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
    const check = run.one(HEALTH_CHECK);
    expect(check.inputs).toMatchObject({
      type: "CLOUDWATCH_METRIC",
      cloudwatchAlarmName: "acme-dr-usw2-dns-health",
      cloudwatchAlarmRegion: "us-west-2",
      insufficientDataHealthStatus: "Unhealthy",
    });
    expect(check.inputs.fqdn).toBeUndefined();
    expect(check.inputs.region).toBeUndefined();
    expect(JSON.parse(check.inputs.triggers.metric)).toMatchObject({ periodSeconds: 60 });
    expect(run.one(RECORD).inputs.healthCheckId).toBe(check.id);
    expect(run.outputs.healthCheckId).toBe(check.id);
  });
});
