import { dnsConfigIssues, type DnsConfig } from "./dns";
import { regionSwitchConfigIssues, type RegionSwitchConfig } from "./regionSwitch";
import {
  DB_BACKUP_RETENTION_FLOOR,
  NAMESPACE,
  PRE_RESTORE_FLOOR,
  RETENTION_FLOORS,
  TIERS,
} from "./primitives";
import { cidrsOverlap } from "../validation";
import { scratchImageProblem } from "../backups/jobs";
import { SITE_JOBS_NODE_DISK_GIB } from "../backups/resources";
import type { z } from "zod";
import type { awsBackupSchema, databaseSchema, storageSchema } from "./data";
import type { clusterSchema, jobsSchema, siteSchema } from "./platform";

/** The config after zod's per-key parsing, as the cross-key checks see it. */
export interface ParsedKeys {
  readonly site: string;
  readonly sites: Record<string, z.infer<typeof siteSchema>>;
  readonly cluster: z.infer<typeof clusterSchema>;
  readonly database: z.infer<typeof databaseSchema>;
  readonly awsBackup: z.infer<typeof awsBackupSchema>;
  readonly storage: z.infer<typeof storageSchema>;
  readonly jobs: z.infer<typeof jobsSchema>;
  readonly dns?: DnsConfig;
  readonly regionSwitch?: RegionSwitchConfig;
}

export interface KeyIssue {
  readonly path: (string | number)[];
  readonly message: string;
}

/**
 * The rules that span several keys (both sites, retention against floors and vault lock), each
 * reported at the key to change. Pure, so tests call it directly.
 */
export function crossKeyIssues(c: ParsedKeys): KeyIssue[] {
  const issues: KeyIssue[] = [];
  const add = (path: (string | number)[], message: string) => issues.push({ path, message });
  const names = Object.keys(c.sites);
  if (names.length !== 2) {
    add(["sites"], `must name exactly two sites (this one and its peer), got ${names.length}`);
  }
  if (!(c.site in c.sites)) {
    add(
      ["site"],
      `"${c.site}" is not in sites (${names.join(", ") || "none"}); add it or fix the name`,
    );
  }
  if (names.length === 2) {
    const [a, b] = names.map((n) => c.sites[n]);
    if (a.region === b.region) {
      add(["sites"], `both sites are in ${a.region}; the DR site must be in another region`);
    }
    if (cidrsOverlap(a.vpcCidr, b.vpcCidr)) {
      add(
        ["sites", names[1], "vpcCidr"],
        `${b.vpcCidr} overlaps ${names[0]}'s ${a.vpcCidr}; give each site its own range so they can be peered`,
      );
    }
  }
  for (const tier of TIERS) {
    const floor = RETENTION_FLOORS[tier];
    if (c.storage.retentionDays[tier] < floor) {
      add(
        ["storage", "retentionDays", tier],
        `${tier} retention must be at least ${floor} days, got ${c.storage.retentionDays[tier]}`,
      );
    }
    const rule = c.awsBackup[tier];
    if (rule.deleteAfterDays < floor) {
      add(
        ["awsBackup", tier, "deleteAfterDays"],
        `${tier} rule must keep recovery points at least ${floor} days, got ${rule.deleteAfterDays}`,
      );
    }
    if (rule.coldStorageAfterDays !== undefined) {
      // AWS Backup: cold storage needs >= 30 days in warm first and >= 90 days in cold.
      // https://docs.aws.amazon.com/aws-backup/latest/devguide/plan-options-and-configuration.html
      if (rule.coldStorageAfterDays < 30) {
        add(
          ["awsBackup", tier, "coldStorageAfterDays"],
          `${tier} rule moves to cold storage after ${rule.coldStorageAfterDays} days; the minimum is 30`,
        );
      }
      if (rule.deleteAfterDays < rule.coldStorageAfterDays + 90) {
        add(
          ["awsBackup", tier, "deleteAfterDays"],
          `${tier} rule deletes after ${rule.deleteAfterDays} days but must keep cold copies 90 days: ` +
            `expected at least ${rule.coldStorageAfterDays + 90}`,
        );
      }
    }
  }
  if (c.database.backupRetentionDays < DB_BACKUP_RETENTION_FLOOR) {
    add(
      ["database", "backupRetentionDays"],
      `must be at least ${DB_BACKUP_RETENTION_FLOOR}, got ${c.database.backupRetentionDays}`,
    );
  }
  if (c.database.maxAllocatedStorageGb < c.database.allocatedStorageGb) {
    add(["database", "maxAllocatedStorageGb"], `must be at least allocatedStorageGb`);
  }
  const { nodeMinSize, nodeDesiredSize, nodeMaxSize } = c.cluster;
  if (!(nodeMinSize <= nodeDesiredSize && nodeDesiredSize <= nodeMaxSize)) {
    add(
      ["cluster"],
      `node sizes must satisfy min <= desired <= max, got ${nodeMinSize}/${nodeDesiredSize}/${nodeMaxSize}`,
    );
  }
  if (c.jobs.scratchImage !== "") {
    const imageProblem = scratchImageProblem(c.jobs.scratchImage, c.database.engineVersion);
    if (imageProblem) add(["jobs", "scratchImage"], imageProblem);
  }
  // Object Lock must hold each tier at least as long as lifecycle keeps it: a shorter lock
  // would let noncurrent-version expiry remove a backup lifecycle still counts as kept.
  for (const tier of TIERS) {
    const days = c.storage.objectLock.days[tier];
    if (days !== undefined && days < c.storage.retentionDays[tier]) {
      add(
        ["storage", "objectLock", "days", tier],
        `${tier} backups are kept ${c.storage.retentionDays[tier]} days (storage.retentionDays.${tier}) ` +
          `but locked only ${days}; set it to at least ${c.storage.retentionDays[tier]} or leave it unset`,
      );
    }
  }
  for (const issue of preRestoreIssues(c.storage)) add(issue.path, issue.message);
  // An air-gapped vault refuses copies whose retention is outside its own [min, max].
  // https://docs.aws.amazon.com/aws-backup/latest/devguide/logicallyairgappedvault.html
  const lag = c.awsBackup.airGappedVault;
  if (lag.enabled) {
    for (const tier of TIERS) {
      const days = c.awsBackup[tier].deleteAfterDays;
      if (days < lag.minRetentionDays || days > lag.maxRetentionDays) {
        add(
          ["awsBackup", tier, "deleteAfterDays"],
          `${tier} rule keeps recovery points ${days} days, outside the air-gapped vault's ` +
            `${lag.minRetentionDays}-${lag.maxRetentionDays} days; its copies would be refused`,
        );
      }
    }
  }
  const lock = c.awsBackup.vaultLock.enabled ? c.awsBackup.vaultLock : undefined;
  if (lock && lock.minRetentionDays > lock.maxRetentionDays) {
    add(["awsBackup", "vaultLock", "minRetentionDays"], `must not exceed maxRetentionDays`);
  }
  // A locked vault rejects recovery points whose retention falls outside [min, max], so every
  // rule (and its copy into the peer's vault, locked by the same config) must fit inside.
  // https://docs.aws.amazon.com/aws-backup/latest/devguide/vault-lock.html
  if (lock) {
    for (const tier of TIERS) {
      const days = c.awsBackup[tier].deleteAfterDays;
      if (days < lock.minRetentionDays || days > lock.maxRetentionDays) {
        add(
          ["awsBackup", tier, "deleteAfterDays"],
          `${tier} rule keeps recovery points ${days} days, outside the vault lock's ` +
            `${lock.minRetentionDays}-${lock.maxRetentionDays} days; the locked vault would reject them`,
        );
      }
    }
  }
  for (const issue of dnsConfigIssues(c.dns, c.sites)) add(issue.path, issue.message);
  for (const issue of regionSwitchConfigIssues(c.regionSwitch, names, c.dns !== undefined))
    add(issue.path, issue.message);
  if (c.database.manageRoles && c.database.adminCidrs.length === 0) {
    // The instance is private (publiclyAccessible false) and its security group admits the
    // cluster alone, so the PostgreSQL provider running beside `pulumi up` never reaches 5432.
    add(
      ["database", "manageRoles"],
      `is true but nothing lets the deployer reach the database: it is private and admits only the ` +
        `cluster. Run the deploy from a network routed into the VPC (a VPN, a peered network or a ` +
        `runner inside the VPC) and set ${NAMESPACE}:database.adminCidrs to that network's CIDRs, ` +
        `or set manageRoles false and create the logins as docs/first-deployment.md shows`,
    );
  }
  if (c.cluster.adminPrincipalArns.length === 0) {
    add(
      ["cluster", "adminPrincipalArns"],
      "must list at least the IAM role that runs `pulumi up`: EKS grants the cluster's creator " +
        "nothing implicitly here, and the same update creates the backup jobs inside the cluster",
    );
  }
  const floor = nodeDiskFloorGb();
  if (c.cluster.nodeDiskSizeGb < floor) {
    add(
      ["cluster", "nodeDiskSizeGb"],
      `${c.cluster.nodeDiskSizeGb} GiB cannot hold the system (${NODE_SYSTEM_GB} GiB of AMI, images and ` +
        `logs) and the node-disk limits of every CronJob of the site running at once ` +
        `(${floor - NODE_SYSTEM_GB} GiB); set at least ${floor}`,
    );
  }
  return issues;
}

/**
 * The pre-restore tier's retention has a floor like the scheduled tiers' (the policy pack's
 * default). Its backups are written by an operator's drctl, which sets no Object Lock retention
 * of its own, so S3 applies the bucket's default retention: the shortest tier's lock (index.ts).
 * So their lock must cover their retention, like every tier's, and be that shortest lock, or the
 * configured days would not be the days they get.
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock.html#object-lock-bucket-config
 */
export function preRestoreIssues(storage: ParsedKeys["storage"]): KeyIssue[] {
  const kept = storage.retentionDays.preRestore;
  if (kept < PRE_RESTORE_FLOOR) {
    return [
      {
        path: ["storage", "retentionDays", "preRestore"],
        message: `pre-restore retention must be at least ${PRE_RESTORE_FLOOR} days, got ${kept}`,
      },
    ];
  }
  if (!storage.objectLock.enabled) return [];
  const days = storage.objectLock.days;
  const locked = days.preRestore ?? kept;
  const path = ["storage", "objectLock", "days", "preRestore"];
  if (locked < kept) {
    return [
      {
        path,
        message:
          `pre-restore backups are kept ${kept} days (storage.retentionDays.preRestore) but ` +
          `locked only ${locked}; set it to at least ${kept} or leave it unset`,
      },
    ];
  }
  // A tier below its own floor is reported at its own key; comparing with it would only repeat it.
  const shorter = TIERS.filter(
    (t) =>
      storage.retentionDays[t] >= RETENTION_FLOORS[t] &&
      (days[t] ?? storage.retentionDays[t]) < locked,
  );
  if (shorter.length === 0) return [];
  const tier = shorter[0];
  const tierDays = days[tier] ?? storage.retentionDays[tier];
  return [
    {
      path,
      message:
        `pre-restore backups would be locked ${locked} days, but they get the bucket's default ` +
        `retention, the shortest tier lock (${tier}: ${tierDays} days); keep pre-restore at most ` +
        `${tierDays} days or lock ${tier} backups at least ${locked} ` +
        `(storage.objectLock.days.${tier})`,
    },
  ];
}

/** What a node's disk holds besides the jobs: the AMI, container images, logs. */
export const NODE_SYSTEM_GB = 20;

/**
 * Smallest node disk the site's CronJobs fit on if every one of them lands on the same node at
 * once: the system plus each pod's ephemeral-storage limits (the kubelet evicts a pod beyond
 * them, emptyDirs included). The drill's download and PGDATA are not on it: they are EBS volumes
 * (generic ephemeral volumes of the EBS CSI driver), sized by jobs.drillScratchStorage (or the database size times jobs.drillScratchFactor) alone.
 * https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/#local-ephemeral-storage
 */
export function nodeDiskFloorGb(): number {
  return NODE_SYSTEM_GB + Math.ceil(SITE_JOBS_NODE_DISK_GIB);
}
