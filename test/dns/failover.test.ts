import { describe, expect, it } from "vitest";
import { ROLES } from "../../components/config";
import * as naming from "../../components/naming";
import { runStack, type StackRun } from "../harness";

const NAMES = { name: "acme-dr", accountId: "111122223333" };

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

describe("DNS failover: one record and its checks per site", () => {
  it("primary stack (use1): PRIMARY record gated by endpoint check AND traffic control", async () => {
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

    // Contract C3: the alarm lives in the PEER's region (us-west-2), on the metric drctl publishes
    // there, so use1 can be switched off while us-east-1 is down.
    const alarm = run.one(ALARM, "acme-dr-use1-dns-traffic-alarm");
    expect(alarm.parent).toBe(component.urn);
    expect(alarm.inputs).toEqual({
      region: "us-west-2",
      name: naming.trafficControlAlarmName(NAMES, { site: "use1", region: "us-east-1" }),
      alarmDescription:
        "Traffic control of acme-dr-use1: ALARM while drctl has switched it off (SiteEnabled 0 in " +
        "us-west-2); its Route 53 record then stops answering (docs/dns-failover.md).",
      namespace: naming.trafficControl.namespace,
      metricName: naming.trafficControl.metricName,
      dimensions: { [naming.trafficControl.dimensionName]: "use1" },
      // Off wins within a minute; one datapoint decides, and then holds: "ignore" keeps the
      // current state while nothing is published.
      // https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-missing-data.html
      statistic: "Minimum",
      comparisonOperator: "LessThanThreshold",
      threshold: 1,
      period: 60,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      treatMissingData: "ignore",
      tags: TAGS,
    });
    expect(alarm.inputs.name).toBe("acme-dr-use1-traffic-control");
    expect([alarm.inputs.namespace, alarm.inputs.metricName]).toEqual([
      "DrStack/Traffic",
      "SiteEnabled",
    ]);
    // No actions: the alarm is a switch, not a page (BackupAlarms pages).
    expect(alarm.inputs.alarmActions).toBeUndefined();

    const traffic = run.one(HEALTH_CHECK, "acme-dr-use1-dns-traffic");
    expect(traffic.inputs).toMatchObject({
      type: "CLOUDWATCH_METRIC",
      cloudwatchAlarmName: "acme-dr-use1-traffic-control",
      cloudwatchAlarmRegion: "us-west-2",
      // A new check with no last known status is healthy (a fresh deployment is on); while the
      // alarm's region cannot be read the check keeps its last status.
      // https://docs.aws.amazon.com/Route53/latest/APIReference/API_HealthCheckConfig.html
      insufficientDataHealthStatus: "LastKnownStatus",
      tags: { Name: "acme-dr-use1 app.acme-dr.example.com traffic control", ...TAGS },
    });
    expect(JSON.parse(traffic.inputs.triggers.alarm)).toMatchObject({
      treatMissingData: "ignore",
      metric: { region: "us-west-2", alarmName: "acme-dr-use1-traffic-control" },
    });

    // Route 53 counts healthy children against the threshold: 2 of 2 = both must be healthy.
    // https://docs.aws.amazon.com/Route53/latest/APIReference/API_HealthCheckConfig.html
    const gate = run.one(HEALTH_CHECK, "acme-dr-use1-dns-gate");
    expect(gate.inputs).toEqual({
      type: "CALCULATED",
      childHealthchecks: [endpoint.id, traffic.id],
      childHealthThreshold: 2,
      tags: { Name: "acme-dr-use1 app.acme-dr.example.com gate", ...TAGS },
    });

    const record = run.one(RECORD);
    expect(record.name).toBe("acme-dr-use1-dns-record");
    expect(record.parent).toBe(component.urn);
    expect(record.inputs).toEqual({
      zoneId: "Z0123456789ABCDEFGHIJ",
      name: "app.acme-dr.example.com",
      type: "A",
      setIdentifier: "acme-dr-use1",
      failoverRoutingPolicies: [{ type: "PRIMARY" }],
      healthCheckId: gate.id,
      records: ["198.51.100.10", "198.51.100.11"],
      ttl: 60,
      allowOverwrite: false,
    });
    expect(gate.id).toMatch(/^[0-9a-f]{8}-0000-4000-8000-[0-9a-f]{12}$/);
    // The endpoint check uses no alarm of its own here (public endpoint).
    expect(
      run
        .ofType(ALARM)
        .filter((r) => r.parent === component.urn)
        .map((r) => r.name),
    ).toEqual(["acme-dr-use1-dns-traffic-alarm"]);
    expectGlobal(run);

    expect(run.outputs.dnsRecordName).toBe("app.acme-dr.example.com");
    expect(run.outputs.dnsFailoverType).toBe("PRIMARY");
    expect(run.outputs.healthCheckId).toBe(endpoint.id);
    expect(run.outputs.trafficHealthCheckId).toBe(traffic.id);
    expect(run.outputs.recordHealthCheckId).toBe(gate.id);
    expect(run.outputs.trafficControlAlarmName).toBe("acme-dr-use1-traffic-control");
  });

  it("dr stack (usw2): SECONDARY record; its traffic control lives in us-east-1", async () => {
    const run = await runStack("dr");
    expect(run.one(HEALTH_CHECK, "acme-dr-usw2-dns-health").inputs.fqdn).toBe(
      "usw2.app.acme-dr.example.com",
    );
    const alarm = run.one(ALARM, "acme-dr-usw2-dns-traffic-alarm").inputs;
    expect([alarm.region, alarm.name, alarm.dimensions]).toEqual([
      "us-east-1",
      "acme-dr-usw2-traffic-control",
      { Site: "usw2" },
    ]);
    expect(run.one(HEALTH_CHECK, "acme-dr-usw2-dns-traffic").inputs).toMatchObject({
      cloudwatchAlarmName: "acme-dr-usw2-traffic-control",
      cloudwatchAlarmRegion: "us-east-1",
      insufficientDataHealthStatus: "LastKnownStatus",
    });
    const gate = run.one(HEALTH_CHECK, "acme-dr-usw2-dns-gate");
    expect(run.one(RECORD).inputs).toEqual({
      zoneId: "Z0123456789ABCDEFGHIJ",
      name: "app.acme-dr.example.com",
      type: "A",
      setIdentifier: "acme-dr-usw2",
      failoverRoutingPolicies: [{ type: "SECONDARY" }],
      healthCheckId: gate.id,
      records: ["192.0.2.10", "192.0.2.11"],
      ttl: 60,
      allowOverwrite: false,
    });
    expectGlobal(run);
    expect(run.outputs.dnsFailoverType).toBe("SECONDARY");
  });

  it.each(["primary", "dr"] as const)(
    "%s stack: record, checks and traffic alarm are identical in every role",
    async (stack) => {
      const dnsOf = (run: StackRun) =>
        run.resources
          .filter((r) => r.parent === run.one(COMPONENT).urn)
          .map((r) => ({ type: r.type, name: r.name, inputs: r.inputs }));
      const runs = [];
      for (const role of ROLES) runs.push(dnsOf(await runStack(stack, { role })));
      expect(runs[0].map((r) => r.type).sort()).toEqual([
        ALARM,
        HEALTH_CHECK,
        HEALTH_CHECK,
        HEALTH_CHECK,
        RECORD,
      ]);
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

  it("the two stacks form one failover pair, each site's control in the other's region", async () => {
    const primary = await runStack("primary");
    const dr = await runStack("dr");
    const [p, d] = [primary.one(RECORD).inputs, dr.one(RECORD).inputs];
    expect([p.name, p.type, p.zoneId]).toEqual([d.name, d.type, d.zoneId]);
    expect(p.setIdentifier).not.toBe(d.setIdentifier);
    expect([p.failoverRoutingPolicies[0].type, d.failoverRoutingPolicies[0].type]).toEqual([
      "PRIMARY",
      "SECONDARY",
    ]);
    // drctl switches use1 off in us-west-2 and usw2 off in us-east-1: each from the other region.
    expect(primary.one(ALARM, "acme-dr-use1-dns-traffic-alarm").inputs.region).toBe(
      dr.outputs.region,
    );
    expect(dr.one(ALARM, "acme-dr-usw2-dns-traffic-alarm").inputs.region).toBe(
      primary.outputs.region,
    );
  });

  it("without dr-stack:dns nothing is registered and the type output says none", async () => {
    const run = await runStack("primary", { dns: undefined });
    expect(run.ofType(COMPONENT)).toEqual([]);
    expect(run.ofType(HEALTH_CHECK)).toEqual([]);
    expect(run.ofType(RECORD)).toEqual([]);
    expect(run.outputs.dnsFailoverType).toBe("none");
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
    const gate = run.one(HEALTH_CHECK, "acme-dr-use1-dns-gate");
    const record = run.one(RECORD);
    expect(record.inputs).toEqual({
      zoneId: "Z0123456789ABCDEFGHIJ",
      name: "app.acme-dr.example.com",
      type: "A",
      setIdentifier: "acme-dr-use1",
      failoverRoutingPolicies: [{ type: "PRIMARY" }],
      healthCheckId: gate.id,
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
    // The private endpoint's check takes the endpoint's place in the gate.
    const gate = run.one(HEALTH_CHECK, "acme-dr-usw2-dns-gate");
    expect(gate.inputs.childHealthchecks).toEqual([
      check.id,
      run.one(HEALTH_CHECK, "acme-dr-usw2-dns-traffic").id,
    ]);
    expect(run.one(RECORD).inputs.healthCheckId).toBe(gate.id);
    expect(run.outputs.healthCheckId).toBe(check.id);
  });
});
