import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig, rawStackConfig } from "../components/config";
import { nodeDiskFloorGb } from "../components/config/checks";
import { storageBytes } from "../components/quantity";
import { runStack, stackConfig, toAllConfig } from "./harness";

/** The primary stack file's config as the program receives it, with overrides. */
function raw(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return rawStackConfig(toAllConfig(stackConfig("primary", overrides)));
}

function problems(overrides: Record<string, unknown>): string[] {
  try {
    parseConfig(raw(overrides));
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error("expected a ConfigError");
}

describe("stack config", () => {
  it("resolves this site and its peer from the primary stack file", () => {
    const c = parseConfig(raw());
    expect(c.self).toMatchObject({ site: "use1", region: "us-east-1" });
    expect(c.peer).toMatchObject({ site: "usw2", region: "us-west-2" });
    expect(c.database.backupRetentionDays).toBe(14);
    expect(c.storage.retentionDays).toEqual({
      daily: 7,
      weekly: 28,
      monthly: 365,
      preRestore: 7,
      reports: 365,
    });
    expect(c.jobs.schedules).toEqual({
      daily: "0 2 * * *",
      weekly: "0 3 * * 0",
      monthly: "0 4 1 * *",
      verify: "30 5 * * *",
      drill: "0 6 2 * *",
      status: "15 * * * *",
    });
    expect(c.jobs.timeZone).toBe("Etc/UTC");
    // Unset: index.ts sizes the scratch from database.allocatedStorageGb x drillScratchFactor.
    expect(c.jobs.drillScratchStorage).toBeUndefined();
    expect(c.jobs.drillScratchFactor).toBe(1.25);
    expect([c.jobs.drillScratchIops, c.jobs.drillScratchThroughputMiBps]).toEqual([6000, 500]);
    expect(c.jobs.drillDeadlineHours).toBe(8);
    expect(c.awsBackup.weekly).toEqual({ schedule: "cron(0 3 ? * SUN *)", deleteAfterDays: 28 });
  });

  it("names an unknown role and lists the allowed ones", () => {
    expect(problems({ role: "primray" })).toEqual([
      'dr-stack:role: "primray" is not allowed; expected one of primary, standby, promoting, fenced',
    ]);
  });

  it("names a site that is missing from the sites map", () => {
    expect(problems({ site: "euw1" })).toEqual([
      'dr-stack:site: "euw1" is not in sites (use1, usw2); add it or fix the name',
    ]);
  });

  it("names a missing and a malformed region", () => {
    expect(problems({ sites: { usw2: { region: undefined } } })).toEqual([
      "dr-stack:sites.usw2.region: missing; expected string",
    ]);
    expect(problems({ sites: { usw2: { region: "us-west" } } })).toEqual([
      'dr-stack:sites.usw2.region: must be an AWS region such as us-east-1 (got "us-west")',
    ]);
  });

  it("rejects overlapping VPC ranges and same-region sites", () => {
    expect(problems({ sites: { usw2: { vpcCidr: "10.10.128.0/17" } } })).toEqual([
      "dr-stack:sites.usw2.vpcCidr: 10.10.128.0/17 overlaps use1's 10.10.0.0/16; give each site its own range so they can be peered",
    ]);
    expect(problems({ sites: { usw2: { region: "us-east-1" } } })).toEqual([
      "dr-stack:sites: both sites are in us-east-1; the DR site must be in another region",
    ]);
  });

  it("rejects retention below its floor, naming the tier", () => {
    expect(
      problems({
        storage: { retentionDays: { weekly: 14 } },
        database: { backupRetentionDays: 3 },
      }),
    ).toEqual([
      "dr-stack:storage.retentionDays.weekly: weekly retention must be at least 28 days, got 14",
      "dr-stack:database.backupRetentionDays: must be at least 7, got 3",
    ]);
  });

  it("rejects malformed cron, naming the schedule and the field", () => {
    expect(problems({ jobs: { schedules: { daily: "0 25 * * *" } } })).toEqual([
      'dr-stack:jobs.schedules.daily: malformed cron "0 25 * * *": hour "25" is outside 0-23',
    ]);
    expect(problems({ awsBackup: { daily: { schedule: "cron(0 2 * * * *)" } } })).toEqual([
      'dr-stack:awsBackup.daily.schedule: malformed AWS cron "cron(0 2 * * * *)": exactly one of day-of-month and day-of-week must be ?',
    ]);
  });

  it("reports every problem at once, and unknown keys by name", () => {
    expect(problems({ role: "primray", databse: {}, cluster: { verison: "1.30" } })).toEqual([
      'dr-stack:role: "primray" is not allowed; expected one of primary, standby, promoting, fenced',
      "dr-stack:cluster: unknown key verison; check the spelling against Pulumi.yaml",
      "dr-stack: unknown key databse; check the spelling against Pulumi.yaml",
    ]);
  });

  it("fails the program before any resource is registered", async () => {
    await expect(runStack("dr", { role: "primray" })).rejects.toThrow(
      /invalid stack config \(1 problem\):\n {2}- dr-stack:role: "primray" is not allowed/,
    );
  });

  it("reads peerLinks (docs/architecture.md §2b) as a boolean, also when the CLI stores it as text", () => {
    expect(parseConfig(raw()).peerLinks).toBe(true);
    expect(parseConfig(raw({ peerLinks: false })).peerLinks).toBe(false);
    // `pulumi config set dr-stack:peerLinks false` stores the text "false" for a top-level key.
    expect(
      parseConfig(
        rawStackConfig({ ...toAllConfig(stackConfig("primary")), "dr-stack:peerLinks": "false" }),
      ).peerLinks,
    ).toBe(false);
    expect(problems({ peerLinks: "off" })[0]).toMatch(/^dr-stack:peerLinks: /);
  });

  it("names peerLinks when a config still sets the keys it replaced", () => {
    const replacement =
      "was removed; set the top-level dr-stack:peerLinks instead (false while the peer region's " +
      "resources do not exist or do not answer: the first deployment and a failover; docs/first-deployment.md)";
    expect(
      problems({ database: { replicateBackupsToPeer: false }, storage: { replicateToPeer: true } }),
    ).toEqual([
      `dr-stack:database.replicateBackupsToPeer: ${replacement}`,
      `dr-stack:storage.replicateToPeer: ${replacement}`,
    ]);
  });

  it("refuses manageRoles without a network the deployer reaches the database from", () => {
    expect(problems({ database: { manageRoles: true } })).toEqual([
      "dr-stack:database.manageRoles: is true but nothing lets the deployer reach the database: it is " +
        "private and admits only the cluster. Run the deploy from a network routed into the VPC (a VPN, " +
        "a peered network or a runner inside the VPC) and set dr-stack:database.adminCidrs to that " +
        "network's CIDRs, or set manageRoles false and create the logins as docs/first-deployment.md shows",
    ]);
    expect(
      parseConfig(raw({ database: { manageRoles: true, adminCidrs: ["10.99.0.0/24"] } })).database
        .adminCidrs,
    ).toEqual(["10.99.0.0/24"]);
  });

  it("sizes the node disk for the jobs' node-disk limits, not the drill's EBS scratch volumes", () => {
    expect(parseConfig(raw()).cluster.nodeDiskSizeGb).toBe(80);
    // 20 GiB of system + 6 drctl pods x 2 GiB + the scratch server's 1 GiB + the restore check's
    // 128 MiB = 33.125, rounded up to 34 (components/backups/resources.ts).
    expect(nodeDiskFloorGb()).toBe(34);
    expect(problems({ cluster: { nodeDiskSizeGb: 30 } })).toEqual([
      "dr-stack:cluster.nodeDiskSizeGb: 30 GiB cannot hold the system (20 GiB of AMI, images and logs) " +
        "and the node-disk limits of every CronJob of the site running at once (14 GiB); set at least 34",
    ]);
    // The drill's download and PGDATA are EBS volumes (generic ephemeral volumes of the EBS CSI
    // driver): a 1 TiB scratch size no longer asks 2 TiB of every node's disk.
    expect(
      parseConfig(raw({ jobs: { drillScratchStorage: "1Ti" }, cluster: { nodeDiskSizeGb: 34 } }))
        .cluster.nodeDiskSizeGb,
    ).toBe(34);
  });

  it("reads jobs.drillScratchStorage as the API server reads a quantity, and parallelJobs as a positive int", () => {
    const bytes = (q: string) => storageBytes(q);
    expect(bytes("8Gi")).toEqual({ bytes: 8n * 2n ** 30n });
    expect(bytes("1.5Ti")).toEqual({ bytes: 1649267441664n });
    expect(bytes("500G")).toEqual({ bytes: 500_000_000_000n });
    expect(bytes("12e9")).toEqual({ bytes: 12_000_000_000n });
    expect(bytes(".5Ki")).toEqual({ bytes: 512n });
    expect(bytes("+2k")).toEqual({ bytes: 2000n });
    expect(bytes("1E3")).toEqual({ bytes: 1000n });
    expect(bytes("100m")).toEqual({
      problem: '"100m" is not a whole number of bytes; use a suffix such as Mi or Gi',
    });
    expect(bytes("-1Gi")).toEqual({
      problem: '"-1Gi" must be greater than zero, as the API server requires of a claim',
    });
    expect(bytes("8Ei")).toEqual({
      problem: '"8Ei" exceeds 2^63-1 bytes, the largest quantity Kubernetes holds',
    });
    expect(bytes("7Ei")).toEqual({ bytes: 7n * 2n ** 60n });
    for (const bad of ["8GB", "8 Gi", "Gi", "1.2.3Gi", "8gi", ""]) {
      expect("problem" in bytes(bad), bad).toBe(true);
    }
    expect(parseConfig(raw()).jobs.parallelJobs).toBe(1);
    expect(parseConfig(raw({ jobs: { parallelJobs: 4 } })).jobs.parallelJobs).toBe(4);
    expect(problems({ jobs: { parallelJobs: 0 } })).toEqual([
      "dr-stack:jobs.parallelJobs: must be a whole number of parallel jobs from 1 to 16 (got 0)",
    ]);
    expect(problems({ jobs: { parallelJobs: 1.5 } })).toHaveLength(1);
    expect(problems({ jobs: { drillScratchStorage: "100m" } })).toEqual([
      'dr-stack:jobs.drillScratchStorage: "100m" is not a whole number of bytes; use a suffix such as Mi or Gi',
    ]);
  });
});
