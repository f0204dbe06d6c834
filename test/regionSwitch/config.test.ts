import { describe, expect, it } from "vitest";
import {
  providerRegionIssues,
  regionSwitchConfigIssues,
  regionSwitchSchema,
} from "../../components/config/regionSwitch";

const SITES = ["use1", "usw2"];
const parse = (v: unknown) => regionSwitchSchema.parse(v);

describe("dr-stack:regionSwitch rules", () => {
  it("defaults: RTO 60 minutes, no pinned health checks, no trigger", () => {
    expect(parse({ ownerSite: "use1" })).toEqual({
      ownerSite: "use1",
      recoveryTimeObjectiveMinutes: 60,
      healthCheckIds: {},
    });
  });

  it("refuses an RTO CreatePlan refuses and a health check id Route 53 never returns", () => {
    // RecoveryTimeObjectiveMinutes: 1-10080 (API_CreatePlan); ids are UUIDs (API_HealthCheck).
    expect(() => parse({ ownerSite: "use1", recoveryTimeObjectiveMinutes: 10081 })).toThrow();
    expect(() => parse({ ownerSite: "use1", healthCheckIds: { use1: "HC-1" } })).toThrow(
      "must be a Route 53 health check id",
    );
  });

  it("names the key of each problem across sites", () => {
    const rs = parse({
      ownerSite: "use2",
      healthCheckIds: {
        use1: "3f1c2a4e-8b7d-4c1e-9a2f-5d6e7f809a1b",
        euw1: "3f1c2a4e-8b7d-4c1e-9a2f-5d6e7f809a1b",
      },
    });
    expect(regionSwitchConfigIssues(rs, SITES, false)).toEqual([
      {
        path: ["regionSwitch"],
        message:
          "is set but dr-stack:dns is not: the plan moves traffic over the failover records, so " +
          "configure dr-stack:dns too (docs/dns-failover.md)",
      },
      {
        path: ["regionSwitch", "ownerSite"],
        message: '"use2" is not one of the sites (use1, usw2); set the same site in both stacks',
      },
      {
        path: ["regionSwitch", "healthCheckIds", "euw1"],
        message: 'names "euw1", which is not one of the sites (use1, usw2)',
      },
      {
        path: ["regionSwitch", "healthCheckIds"],
        message:
          "gives two sites the same health check: Region switch makes one per Region, and each " +
          "record must carry its own Region's, or both records share one status and traffic never moves",
      },
    ]);
    expect(regionSwitchConfigIssues(undefined, SITES, true)).toEqual([]);
    expect(regionSwitchConfigIssues(parse({ ownerSite: "usw2" }), SITES, true)).toEqual([]);
  });
});

describe("provider settings", () => {
  it("aws:region and aws:stsRegion must both be the site's region", () => {
    expect(
      providerRegionIssues({ region: "us-west-2", stsRegion: "us-west-2" }, "us-west-2"),
    ).toEqual([]);
    expect(
      providerRegionIssues({ region: "us-west-2", stsRegion: "us-east-1" }, "us-west-2"),
    ).toEqual([
      'aws:stsRegion: "us-east-1" is not the site\'s region us-west-2; pin it with ' +
        "`pulumi config set aws:stsRegion us-west-2` so that credentials come from this region's " +
        "STS endpoint, never from another region's",
    ]);
    expect(providerRegionIssues({ stsRegion: "us-west-2" }, "us-west-2")).toEqual([
      "aws:region: null is not the site's region us-west-2; set `pulumi config set aws:region us-west-2`",
    ]);
  });
});
