import { randomUUID } from "node:crypto";
import { promises as dns } from "node:dns";
import { isIPv4 } from "node:net";
import { HeadBucketCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { CreateJobCommand, S3ControlClient } from "@aws-sdk/client-s3-control";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { Client, type ClientConfig } from "pg";
import {
  backupBucketArn,
  backupBucketName,
  batchReplicationReportPrefix,
  batchReplicationRoleArn,
  dbMasterSecretName,
  type NamingInput,
  type SiteRef,
} from "../../../components/naming";
import { fetchDbSecret } from "../dbSecret";
import { nodePgSsl, rdsVerifyFull, sslFor, withoutSslParams } from "../postgres/tls";
import type {
  BatchReplicationJob,
  Controls,
  MasterSecretFields,
  Probes,
  ReplicaStatus,
} from "./ports";
import { readReplicaStatus, writeCheck, type SqlClient } from "./sql";
import type { Topology } from "./topology";

/** Environment variable holding a connection URL that overrides the lookup for `site`. */
export const dbUrlVar = (site: string): string => `DRCTL_DB_URL_${site.toUpperCase()}`;
/**
 * Overrides the S3 Batch Operations role a reconnect's Batch Replication job runs as; by default
 * the one each stack pre-provisions, named by naming.batchReplicationRoleArn.
 */
export const BATCH_ROLE_VAR = "DRCTL_BATCH_REPLICATION_ROLE_ARN";

/**
 * Probes and controls over AWS and PostgreSQL. Every name comes from shared config and naming
 * (docs/architecture.md §2a); every client is built for one region and tries once (the machine's deadline, not
 * the SDK's retries, bounds the call), and the call's signal is passed to it.
 */
export class AwsSites implements Probes, Controls {
  private readonly naming: NamingInput;

  constructor(
    private readonly topology: Topology,
    private readonly env: NodeJS.ProcessEnv,
  ) {
    const c = topology.config;
    this.naming = { name: c.name, accountId: c.accountId, partition: c.partition };
  }

  private ref(site: string): SiteRef & { stack: string; peer: SiteRef } {
    const s = this.topology.sites.find((x) => x.site === site);
    const peer = this.topology.sites.find((x) => x.site !== site);
    if (!s || !peer) {
      throw new Error(
        `unknown site ${site}; the stacks define ${this.topology.sites.map((x) => x.site).join(", ")}`,
      );
    }
    return {
      site,
      region: s.region,
      stack: s.stack,
      peer: { site: peer.site, region: peer.region },
    };
  }

  /** The site's master secret (`owner`'s), read in `region`: its own, or its replica there. */
  private async secret(owner: string, region: string) {
    return fetchDbSecret(
      dbMasterSecretName(this.naming, this.ref(owner)),
      { AWS_REGION: region },
      (r) => new SecretsManagerClient({ region: r, maxAttempts: 1 }),
    );
  }

  /** The call's deadline bounds it: the Secrets Manager client tries once (maxAttempts 1). */
  async masterSecret(
    site: string,
    region: string,
    _signal?: AbortSignal,
  ): Promise<MasterSecretFields> {
    const s = await this.secret(site, region);
    return { host: s.host, port: s.port, username: s.username, dbname: s.dbname };
  }

  /**
   * A session on `site`'s database with `owner`'s master credential, read in `site`'s region. A
   * replica holds its source's logins, so it is read with its source's credential (that secret's
   * replica in the replica's region); a primary with its own. The host is the secret's: no stack
   * output, no state backend.
   */
  private async session<T>(
    site: string,
    owner: string,
    signal: AbortSignal,
    fn: (c: SqlClient) => Promise<T>,
  ): Promise<T> {
    const url = this.env[dbUrlVar(site)];
    let config: ClientConfig;
    if (url) {
      // An operator's override: libpq's rules, as psql would connect with the same URL.
      config = {
        connectionString: withoutSslParams(url),
        ssl: sslFor(this.env, new URL(url), dbUrlVar(site)),
      };
    } else {
      const region = this.ref(site).region;
      const secret = await this.secret(owner, region);
      // The endpoint is always the site's own: its own secret's host, never the owner's.
      const own = site === owner ? secret : await this.secret(site, region);
      const host = own.host;
      if (!host) {
        throw new Error(
          `no endpoint for ${site}'s database: its master secret has no "host"; set ${dbUrlVar(site)}`,
        );
      }
      config = {
        host,
        port: own.port ?? 5432,
        user: secret.username,
        password: secret.password,
        database: this.topology.config.database.dbName,
        // The master credential: always verify-full against the RDS CA bundle.
        ssl: nodePgSsl(rdsVerifyFull(this.env)),
      };
    }
    const client = new Client({ ...config, connectionTimeoutMillis: 10_000 });
    // pg has no AbortSignal: ending the client closes the socket, which fails the pending query.
    const abort = () => void client.end().catch(() => undefined);
    signal.addEventListener("abort", abort, { once: true });
    try {
      await client.connect();
      return await fn(client);
    } finally {
      signal.removeEventListener("abort", abort);
      await client.end().catch(() => undefined);
    }
  }

  replicaStatus(site: string, signal: AbortSignal): Promise<ReplicaStatus> {
    return this.session(site, this.ref(site).peer.site, signal, readReplicaStatus);
  }

  writeCheck(site: string, signal: AbortSignal): Promise<void> {
    return this.session(site, site, signal, writeCheck);
  }

  async newestBackupAgeSeconds(site: string, signal: AbortSignal): Promise<number | undefined> {
    const r = this.ref(site);
    const s3 = new S3Client({ region: r.region, maxAttempts: 1 });
    const bucket = backupBucketName(this.naming, r);
    let newest: number | undefined;
    for (const prefix of ["daily/", "weekly/", "monthly/"]) {
      let token: string | undefined;
      do {
        const page = await s3.send(
          new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
          { abortSignal: signal },
        );
        for (const o of page.Contents ?? []) {
          // The manifest is written last and is the commit point of a backup (docs/architecture.md §5).
          if (o.Key?.endsWith("/manifest.json") && o.LastModified) {
            newest = Math.max(newest ?? 0, o.LastModified.getTime());
          }
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
    }
    return newest === undefined ? undefined : (Date.now() - newest) / 1000;
  }

  async bucketAnswers(site: string, signal: AbortSignal): Promise<void> {
    const r = this.ref(site);
    await new S3Client({ region: r.region, maxAttempts: 1 }).send(
      new HeadBucketCommand({ Bucket: backupBucketName(this.naming, r) }),
      { abortSignal: signal },
    );
  }

  /**
   * S3 Batch Replication of the objects the site's bucket took while its replication was off:
   * a job whose manifest S3 generates from the bucket's replication config, for objects whose
   * replication status is NONE or FAILED
   * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/s3-batch-replication-batch.html,
   * https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-status.html). Needs the live
   * replication config back first (the links step), and the site's Batch Operations role, which
   * every stack pre-provisions (components/backups/batchReplication.ts; DRCTL_BATCH_REPLICATION_ROLE_ARN
   * overrides it).
   */
  async startBatchReplication(site: string, signal: AbortSignal): Promise<BatchReplicationJob> {
    const r = this.ref(site);
    // Named, not read from the stack's outputs: no state of either stack is needed (docs/architecture.md §2a).
    const roleArn = this.env[BATCH_ROLE_VAR] || batchReplicationRoleArn(this.naming, r);
    const bucketArn = backupBucketArn(this.naming, r);
    const out = await new S3ControlClient({ region: r.region, maxAttempts: 1 }).send(
      new CreateJobCommand({
        AccountId: this.naming.accountId,
        ConfirmationRequired: false,
        Operation: { S3ReplicateObject: {} },
        ManifestGenerator: {
          S3JobManifestGenerator: {
            SourceBucket: bucketArn,
            EnableManifestOutput: false,
            Filter: { EligibleForReplication: true, ObjectReplicationStatuses: ["NONE", "FAILED"] },
          },
        },
        Report: {
          Enabled: true,
          Bucket: bucketArn,
          Prefix: batchReplicationReportPrefix,
          Format: "Report_CSV_20180820",
          ReportScope: "FailedTasksOnly",
        },
        Priority: 10,
        RoleArn: roleArn,
        ClientRequestToken: randomUUID(),
        Description: `drctl failover reconnect: ${r.site} objects written while peerLinks was false`,
      }),
      { abortSignal: signal },
    );
    if (!out.JobId) throw new Error(`S3 Control CreateJob in ${r.region} returned no JobId`);
    return { jobId: out.JobId, region: r.region, bucket: backupBucketName(this.naming, r) };
  }

  /** Resolves the record and matches the answer against each site's targets. DNS answers are a data plane. */
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
