import { promises as dns } from "node:dns";
import { isIPv4 } from "node:net";
import {
  CloudWatchClient,
  DescribeAlarmsCommand,
  GetMetricStatisticsCommand,
} from "@aws-sdk/client-cloudwatch";
import { ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { Client } from "pg";
import {
  backupBucketName,
  dbInstanceIdentifier,
  type NamingInput,
} from "../../../components/naming";
import type { Probes } from "./ports";
import type { Topology } from "./topology";

/** A region that has not answered in this long is treated as down: the failover must not wait on it. */
const REGION_TIMEOUT_MS = 10_000;
/** ReplicaLag is published every minute; five minutes tolerates a late datapoint. */
const LAG_WINDOW_MS = 5 * 60_000;

/** Environment variable holding a connection URL for the write check of `site`. */
export const writeCheckUrlVar = (site: string): string => `DRCTL_DB_URL_${site.toUpperCase()}`;

/** Probes against AWS, Postgres and DNS; every name comes from shared config and naming (DESIGN §2). */
export class AwsProbes implements Probes {
  private readonly naming: NamingInput;

  constructor(
    private readonly topology: Topology,
    private readonly env: NodeJS.ProcessEnv,
  ) {
    const c = topology.config;
    this.naming = { name: c.name, accountId: c.accountId, partition: c.partition };
  }

  private region(site: string): string {
    const s = this.topology.config.sites[site];
    if (!s)
      throw new Error(
        `unknown site ${site}; dr-stack:sites names ${Object.keys(this.topology.config.sites).join(", ")}`,
      );
    return s.region;
  }

  async replicaLagSeconds(site: string): Promise<number | undefined> {
    const region = this.region(site);
    const cw = new CloudWatchClient({ region });
    const end = new Date();
    const out = await cw.send(
      new GetMetricStatisticsCommand({
        Namespace: "AWS/RDS",
        MetricName: "ReplicaLag",
        Dimensions: [
          {
            Name: "DBInstanceIdentifier",
            Value: dbInstanceIdentifier(this.naming, { site, region }),
          },
        ],
        StartTime: new Date(end.getTime() - LAG_WINDOW_MS),
        EndTime: end,
        Period: 60,
        Statistics: ["Maximum"],
      }),
    );
    const newest = (out.Datapoints ?? [])
      .filter((d) => d.Timestamp && d.Maximum !== undefined)
      .sort((a, b) => (b.Timestamp?.getTime() ?? 0) - (a.Timestamp?.getTime() ?? 0))[0];
    // RDS reports -1 when replication is not running: that is no measurement, not zero lag.
    return newest?.Maximum !== undefined && newest.Maximum >= 0 ? newest.Maximum : undefined;
  }

  async regionReachable(site: string): Promise<boolean> {
    const cw = new CloudWatchClient({ region: this.region(site), maxAttempts: 1 });
    try {
      await cw.send(new DescribeAlarmsCommand({ MaxRecords: 1 }), {
        abortSignal: AbortSignal.timeout(REGION_TIMEOUT_MS),
      });
      return true;
    } catch (err) {
      // An HTTP status (even 403) means the region answered; no status means it did not.
      return (
        (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode !== undefined
      );
    }
  }

  async newestBackupAgeSeconds(site: string): Promise<number | undefined> {
    const region = this.region(site);
    const s3 = new S3Client({ region });
    const bucket = backupBucketName(this.naming, { site, region });
    let newest: number | undefined;
    for (const prefix of ["daily/", "weekly/", "monthly/"]) {
      let token: string | undefined;
      do {
        const page = await s3.send(
          new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
        );
        for (const o of page.Contents ?? []) {
          // The manifest is written last and is the commit point of a backup (DESIGN §5).
          if (o.Key?.endsWith("/manifest.json") && o.LastModified) {
            newest = Math.max(newest ?? 0, o.LastModified.getTime());
          }
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
    }
    return newest === undefined ? undefined : (Date.now() - newest) / 1000;
  }

  /**
   * DDL inside a transaction that is rolled back: refused by a replica and by a fenced instance
   * (`default_transaction_read_only`), and leaves nothing behind on a writable primary.
   */
  async writeCheck(site: string): Promise<void> {
    const name = writeCheckUrlVar(site);
    const url = this.env[name];
    if (!url) {
      throw new Error(
        `${name} is not set; expected a postgres:// URL of ${site}'s database for the write check. ` +
          `Export it and re-run.`,
      );
    }
    const client = new Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
    await client.connect();
    try {
      await client.query("BEGIN");
      await client.query("CREATE TABLE drctl_failover_write_check (id integer)");
      await client.query("ROLLBACK");
    } finally {
      await client.end();
    }
  }

  async dnsAnswer(): Promise<string | undefined> {
    const record = this.topology.config.dns?.recordName;
    if (!record) {
      throw new Error(
        `dr-stack:dns.recordName is not set; the DNS check needs the service's record name`,
      );
    }
    const answer = new Set(await dns.resolve4(record));
    for (const [site, cfg] of Object.entries(this.topology.config.sites)) {
      const targets = cfg.dns?.loadBalancer
        ? [cfg.dns.loadBalancer.dnsName]
        : (cfg.dns?.records ?? (cfg.dns?.healthCheckFqdn ? [cfg.dns.healthCheckFqdn] : []));
      for (const target of targets) {
        const addresses = isIPv4(target) ? [target] : await dns.resolve4(target).catch(() => []);
        if (addresses.some((a) => answer.has(a))) return site;
      }
    }
    return undefined;
  }
}
