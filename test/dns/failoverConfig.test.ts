import { describe, expect, it } from "vitest";
import { dnsFailoverArgsProblems, type DnsFailoverArgs } from "../../components/dns/failover";
import { runStack, type StackName } from "../harness";

/** The problems a mocked run rejects with; the run must fail before registering anything. */
async function configProblems(
  stack: StackName,
  overrides: Record<string, unknown>,
): Promise<string[]> {
  const err = await runStack(stack, overrides).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, "the run should have been rejected").toBeInstanceOf(Error);
  expect((err as Error).name).toBe("ConfigError");
  const problems = (err as Error & { problems: string[] }).problems;
  for (const p of problems) expect((err as Error).message).toContain(`  - ${p}`);
  return problems;
}

const LB = {
  dnsName: "k8s-app-ingress-0123456789.us-east-1.elb.amazonaws.com",
  zoneId: "Z35SXDOTRQ7X7K",
};
const ALB_DIMENSIONS = {
  TargetGroup: "targetgroup/k8s-app-web/0123456789abcdef",
  LoadBalancer: "app/k8s-app-internal/fedcba9876543210",
};

const cases: Array<[string, StackName, Record<string, unknown>, string[]]> = [
  [
    "a non-alias record without records",
    "primary",
    { sites: { use1: { dns: { records: undefined } } } },
    [
      "dr-stack:sites.use1.dns.records: missing; without dr-stack:sites.use1.dns.loadBalancer the failover " +
        "record needs values (the site's public IPv4 addresses). Set dr-stack:sites.use1.dns.records, or set " +
        "dr-stack:sites.use1.dns.loadBalancer {dnsName, zoneId} for an alias record",
    ],
  ],
  [
    "a private endpoint (no healthCheckFqdn) without a metric to alarm on",
    "dr",
    { sites: { usw2: { dns: { healthCheckFqdn: undefined } } } },
    [
      "dr-stack:sites.usw2.dns.healthCheckFqdn: missing, and dr-stack:sites.usw2.dns.healthMetric is not set " +
        "either: the failover record needs a health check. Set dr-stack:sites.usw2.dns.healthCheckFqdn to a " +
        "public name that resolves only to this site (Route 53 probes it over HTTPS), or, for a private endpoint " +
        "that Route 53 checkers cannot reach, set dr-stack:sites.usw2.dns.healthMetric to a CloudWatch metric in " +
        `the site's region (docs/dns-failover.md, "Private endpoints")`,
    ],
  ],
  [
    "both a public name and a metric",
    "dr",
    { sites: { usw2: { dns: { healthMetric: { dimensions: ALB_DIMENSIONS } } } } },
    [
      "dr-stack:sites.usw2.dns.healthMetric: is set together with dr-stack:sites.usw2.dns.healthCheckFqdn; a " +
        "site is either public (Route 53 probes healthCheckFqdn) or private (a CloudWatch alarm on healthMetric " +
        "decides): remove one of them",
    ],
  ],
  [
    "an alias record with ttl explicitly set (dns.ttl present in config, even at 60)",
    "primary",
    { dns: { ttl: 60 }, sites: { use1: { dns: { records: undefined, loadBalancer: LB } } } },
    [
      "dr-stack:dns.ttl: is set, but dr-stack:sites.use1.dns.loadBalancer makes an alias record, which takes " +
        "no TTL (resolvers get the load balancer's own 60 s). Remove dr-stack:dns.ttl, or remove the " +
        "loadBalancer to publish records with a TTL",
    ],
  ],
  [
    "an alias record that also lists records",
    "primary",
    { sites: { use1: { dns: { loadBalancer: LB } } } },
    [
      "dr-stack:sites.use1.dns.records: is set together with dr-stack:sites.use1.dns.loadBalancer; an alias " +
        "record has no values of its own. Remove one of them",
    ],
  ],
  [
    "an alias to a load balancer of type CNAME",
    "primary",
    {
      dns: { recordType: "CNAME" },
      sites: {
        use1: { dns: { records: undefined, loadBalancer: LB } },
        usw2: { dns: { records: ["ingress.usw2.acme-dr.example.com"] } },
      },
    },
    [
      "dr-stack:dns.recordType: is CNAME, but dr-stack:sites.use1.dns.loadBalancer makes an alias to a load " +
        "balancer, which must be type A; set dr-stack:dns.recordType to A",
    ],
  ],
  [
    "a CNAME with more than one record, and one holding an address",
    "primary",
    {
      dns: { recordType: "CNAME" },
      sites: {
        use1: { dns: { records: ["a.acme-dr.example.com", "b.acme-dr.example.com"] } },
        usw2: { dns: { records: ["192.0.2.10"] } },
      },
    },
    [
      "dr-stack:sites.use1.dns.records: has 2 values, but a CNAME record holds exactly one host name; keep " +
        "one, or use recordType A with the addresses",
      `dr-stack:sites.usw2.dns.records: "192.0.2.10" is an IPv4 address, but a CNAME record holds a host ` +
        "name; set dr-stack:dns.recordType to A to publish addresses",
    ],
  ],
  [
    "an A record holding names and impossible addresses",
    "primary",
    {
      sites: { use1: { dns: { records: ["198.51.100.10", "ingress.example.com", "300.1.1.1"] } } },
    },
    [
      `dr-stack:sites.use1.dns.records: "ingress.example.com", "300.1.1.1" are not IPv4 addresses; an A ` +
        "record holds addresses such as 198.51.100.10 (for a host name, set dr-stack:dns.recordType to CNAME)",
    ],
  ],
  [
    "a health check on the failover name itself (case and final dot ignored)",
    "primary",
    { sites: { use1: { dns: { healthCheckFqdn: "App.acme-dr.example.com." } } } },
    [
      "dr-stack:sites.use1.dns.healthCheckFqdn: is the failover record dr-stack:dns.recordName itself; the " +
        "checkers would probe whichever site the record answers with, so the check follows the failover " +
        "instead of driving it. Use a name that resolves only to this site",
    ],
  ],
  [
    "both sites checking the same name",
    "dr",
    { sites: { usw2: { dns: { healthCheckFqdn: "use1.app.acme-dr.example.com" } } } },
    [
      "dr-stack:sites.usw2.dns.healthCheckFqdn: is also use1's health check name; each site's check must " +
        "probe that site alone, or both records share one health status and failover never happens",
    ],
  ],
  [
    "a site without its dns section",
    "primary",
    { sites: { usw2: { dns: undefined } } },
    [
      "dr-stack:sites.usw2.dns: missing; dr-stack:dns is set, so every site needs its failover record target " +
        "and health check: set dr-stack:sites.usw2.dns.records (or loadBalancer) and " +
        "dr-stack:sites.usw2.dns.healthCheckFqdn (or healthMetric)",
    ],
  ],
  [
    "a high-resolution alarm period Route 53 cannot use",
    "dr",
    {
      sites: {
        usw2: {
          dns: {
            healthCheckFqdn: undefined,
            healthMetric: { periodSeconds: 30, dimensions: ALB_DIMENSIONS },
          },
        },
      },
    },
    [
      "dr-stack:sites.usw2.dns.healthMetric.periodSeconds: is 30; Route 53 health checks accept " +
        "standard-resolution alarms only, so the period must be a multiple of 60 seconds (60, 120, 300, ...)",
    ],
  ],
  [
    "an alarm window longer than a day",
    "dr",
    {
      sites: {
        usw2: {
          dns: {
            healthCheckFqdn: undefined,
            healthMetric: {
              periodSeconds: 3600,
              evaluationPeriods: 25,
              dimensions: ALB_DIMENSIONS,
            },
          },
        },
      },
    },
    [
      "dr-stack:sites.usw2.dns.healthMetric.evaluationPeriods: 25 periods of 3600 s exceed one day, the " +
        "longest window a CloudWatch alarm evaluates; lower evaluationPeriods or periodSeconds",
    ],
  ],
  [
    "HealthyHostCount without its target group and load balancer dimensions",
    "dr",
    {
      sites: {
        usw2: {
          dns: {
            healthCheckFqdn: undefined,
            healthMetric: { dimensions: { LoadBalancer: ALB_DIMENSIONS.LoadBalancer } },
          },
        },
      },
    },
    [
      "dr-stack:sites.usw2.dns.healthMetric.dimensions: must name dimensions.TargetGroup " +
        "(targetgroup/<name>/<id>) and dimensions.LoadBalancer (app/<name>/<id> or net/<name>/<id>): " +
        "AWS/ApplicationELB publishes HealthyHostCount per target group and load balancer, and an alarm on " +
        "any other dimension set sees no data",
    ],
  ],
  [
    "an extended statistic Route 53 does not support",
    "dr",
    {
      sites: {
        usw2: {
          dns: {
            healthCheckFqdn: undefined,
            healthMetric: { statistic: "p99", dimensions: ALB_DIMENSIONS },
          },
        },
      },
    },
    [
      `dr-stack:sites.usw2.dns.healthMetric.statistic: "p99" is not allowed; expected one of Average, ` +
        "Minimum, Maximum, Sum, SampleCount",
    ],
  ],
  [
    "a zone id pasted with its /hostedzone/ prefix",
    "primary",
    { dns: { zoneId: "/hostedzone/Z0123456789ABCDEFGHIJ" } },
    [
      `dr-stack:dns.zoneId: "/hostedzone/Z0123456789ABCDEFGHIJ" carries the /hostedzone/ prefix; set the ` +
        "id alone, Z0123456789ABCDEFGHIJ",
    ],
  ],
  [
    "a load balancer zone id that is not one",
    "primary",
    {
      sites: {
        use1: {
          dns: { records: undefined, loadBalancer: { dnsName: LB.dnsName, zoneId: "us-east-1" } },
        },
      },
    },
    [
      `dr-stack:sites.use1.dns.loadBalancer.zoneId: "us-east-1" is not a Route 53 hosted zone id (Z followed ` +
        "by letters and digits); use the load balancer's CanonicalHostedZoneId (aws elbv2 describe-load-balancers)",
    ],
  ],
  [
    "no site named to answer as PRIMARY",
    "primary",
    { dns: { primarySite: undefined } },
    [
      "dr-stack:dns.primarySite: missing; it names the site whose failover record answers as PRIMARY (one " +
        "of use1, usw2), fixed whatever the roles are, so that a failover never edits a record. Set the same " +
        "value in both stacks, usually the site that starts as primary (docs/dns-failover.md)",
    ],
  ],
  [
    "a PRIMARY site that is not one of the sites",
    "dr",
    { dns: { primarySite: "euw1" } },
    [
      `dr-stack:dns.primarySite: "euw1" is not one of the sites (use1, usw2); set it to the site whose ` +
        "record answers as PRIMARY",
    ],
  ],
  [
    "a record name that is not fully qualified",
    "dr",
    { dns: { recordName: "app" } },
    [
      `dr-stack:dns.recordName: "app" is not fully qualified; expected a name such as app.example.com`,
    ],
  ],
];

describe("DNS failover config errors (reported before any resource is registered)", () => {
  it.each(cases)("%s", async (_what, stack, overrides, expected) => {
    expect(await configProblems(stack, overrides)).toEqual(expected);
  });

  it("reports every DNS problem of both sites at once, whichever stack runs", async () => {
    const overrides = {
      sites: {
        use1: { dns: { records: undefined } },
        usw2: { dns: { healthCheckFqdn: undefined } },
      },
    };
    const primary = await configProblems("primary", overrides);
    expect(primary.map((p) => p.split(":")[1])).toEqual([
      "sites.use1.dns.records",
      "sites.usw2.dns.healthCheckFqdn",
    ]);
    expect(await configProblems("dr", overrides)).toEqual(primary);
  });
});

describe("DnsFailover used on its own", () => {
  const base: DnsFailoverArgs = {
    region: "us-east-1",
    failoverType: "PRIMARY",
    regionSwitchHealthCheckId: "3f1c2a4e-8b7d-4c1e-9a2f-5d6e7f809a1b",
    zoneId: "Z0123456789ABCDEFGHIJ",
    recordName: "app.acme-dr.example.com",
    setIdentifier: "acme-dr-use1",
    records: ["198.51.100.10"],
    healthCheckFqdn: "use1.app.acme-dr.example.com",
  };

  it("refuses a Region switch health check id that is not a Route 53 id", () => {
    // Route 53 health check ids are UUIDs, lowercase as Route 53 returns them.
    // https://docs.aws.amazon.com/Route53/latest/APIReference/API_HealthCheck.html
    expect(
      dnsFailoverArgsProblems({ ...base, regionSwitchHealthCheckId: "/healthcheck/3F1C2A4E" }),
    ).toEqual([
      '[regionSwitchHealthCheckId] "/healthcheck/3F1C2A4E" is not a Route 53 health check id (a lowercase ' +
        "UUID such as 0d6ac1a2-3b4c-4d5e-8f60-718293a4b5c6)",
    ]);
  });

  it("accepts valid arguments", () => {
    expect(dnsFailoverArgsProblems(base)).toEqual([]);
  });

  it("names the argument in each message", () => {
    expect(
      dnsFailoverArgsProblems({ ...base, records: undefined, loadBalancer: LB, ttl: 60 }),
    ).toEqual([
      "[ttl] is set, but [loadBalancer] makes an alias record, which takes no TTL (resolvers get the load " +
        "balancer's own 60 s). Remove [ttl], or remove the loadBalancer to publish records with a TTL",
    ]);
    expect(
      dnsFailoverArgsProblems({ ...base, healthCheckFqdn: undefined, records: undefined }),
    ).toEqual([
      "[healthCheckFqdn] missing, and [healthMetric] is not set either: the failover record needs a health " +
        "check. Set [healthCheckFqdn] to a public name that resolves only to this site (Route 53 probes it over " +
        "HTTPS), or, for a private endpoint that Route 53 checkers cannot reach, set [healthMetric] to a " +
        `CloudWatch metric in the site's region (docs/dns-failover.md, "Private endpoints")`,
      "[records] missing; without [loadBalancer] the failover record needs values (the site's public IPv4 " +
        "addresses). Set [records], or set [loadBalancer] {dnsName, zoneId} for an alias record",
    ]);
  });

  it("applies the metric defaults before checking, so HealthyHostCount needs its dimensions", () => {
    expect(
      dnsFailoverArgsProblems({ ...base, healthCheckFqdn: undefined, healthMetric: {} }),
    ).toEqual([
      "[healthMetric.dimensions] must name dimensions.TargetGroup (targetgroup/<name>/<id>) and " +
        "dimensions.LoadBalancer (app/<name>/<id> or net/<name>/<id>): AWS/ApplicationELB publishes " +
        "HealthyHostCount per target group and load balancer, and an alarm on any other dimension set sees no data",
    ]);
    expect(
      dnsFailoverArgsProblems({
        ...base,
        healthCheckFqdn: undefined,
        healthMetric: { namespace: "Acme/App", metricName: "HealthzOk", threshold: 1 },
      }),
    ).toEqual([]);
  });
});
