import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { crossKeyIssues } from "./checks";
import { awsBackupSchema, databaseSchema, restoreTestingSchema, storageSchema } from "./data";
import { dnsSchema } from "./dns";
import { alarmsSchema, clusterSchema, jobsSchema, networkSchema, siteSchema } from "./platform";
import { flag, NAMESPACE, ROLES } from "./primitives";
import { applicationsSchema, providerRegionIssues, regionSwitchSchema } from "./regionSwitch";

/**
 * The whole stack config, validated once by `loadConfig()` before any resource is registered.
 * Components never read config: index.ts hands them the typed values below. The keys of each
 * area live beside this file (platform.ts, data.ts, dns.ts); rules across keys in checks.ts.
 */

export {
  DB_BACKUP_RETENTION_FLOOR,
  RETENTION_FLOORS,
  ROLES,
  TIERS,
  type Role,
  type Tier,
} from "./primitives";
export { dnsConfigIssues } from "./dns";

export const configSchema = z
  .strictObject({
    // No "--" and no trailing "-": the name starts every RDS identifier, and RDS refuses both
    // (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html).
    name: z.string().regex(/^(?=.{2,20}$)[a-z][a-z0-9]*(-[a-z0-9]+)*$/, {
      error:
        "must be 2-20 characters of a-z, 0-9 and single hyphens, starting with a letter and not ending with a hyphen",
    }),
    accountId: z.string().regex(/^\d{12}$/, { error: "must be a 12-digit AWS account id" }),
    /**
     * The partitions whose service principals and endpoints are `*.amazonaws.com`, as the
     * program writes them; aws-cn (`amazonaws.com.cn`) is not supported.
     */
    partition: z.enum(["aws", "aws-us-gov"]).default("aws"),
    site: z.string(),
    role: z.enum(ROLES),
    /**
     * Peer links (docs/architecture.md §2b): whether this site creates its data links into the peer region (S3 replication
     * to the peer's bucket, RDS automated-backups replication, AWS Backup copy actions). Off for
     * the first deployment's first step and while the peer region is down (a failover).
     */
    peerLinks: flag.default(true),
    /**
     * The one principal kept for emergencies (an IAM role ARN): the only one that may schedule the
     * site keys' deletion, disable them or replace their policies (unset: the account's root
     * user), bypass S3 governance retention or delete AWS Backup recovery points early (unset:
     * nobody may).
     */
    breakGlassPrincipalArn: z
      .string()
      .regex(/^arn:aws[a-z-]*:iam::\d{12}:(role|user)\/[\w+=,.@/-]+$/, {
        error: "must be an IAM role or user ARN such as arn:aws:iam::111122223333:role/break-glass",
      })
      .optional(),
    /** The site key's policy step (components/platform/siteKey.ts, KeyPolicyStep). */
    siteKey: z
      .strictObject({
        updatePolicy: z.boolean().default(false),
        appliedPolicyDigest: z
          .string()
          .regex(/^[0-9a-f]{16}$/, {
            error: "must be the 16 hex digits of the stack output siteKeyPolicyDigest",
          })
          .optional(),
      })
      .prefault({}),
    sites: z.record(
      z
        .string()
        .regex(/^[a-z][a-z0-9]{1,9}$/, { error: "site names are 2-10 characters of a-z, 0-9" }),
      siteSchema,
    ),
    network: networkSchema,
    cluster: clusterSchema,
    database: databaseSchema,
    awsBackup: awsBackupSchema,
    storage: storageSchema,
    jobs: jobsSchema,
    alarms: alarmsSchema,
    restoreTesting: restoreTestingSchema,
    dns: dnsSchema.optional(),
    regionSwitch: regionSwitchSchema.optional(),
    applications: applicationsSchema.prefault({}),
    tags: z.record(z.string(), z.string()).default({}),
  })
  .superRefine((c, ctx) => {
    for (const issue of crossKeyIssues(c)) ctx.addIssue({ code: "custom", ...issue });
  });

export type StackConfig = z.infer<typeof configSchema>;
export type SiteConfig = StackConfig["sites"][string];

/** The resolved view of config that components get: this site, its peer, and everything else. */
export interface Site {
  readonly site: string;
  readonly region: string;
  readonly config: SiteConfig;
}

export interface ResolvedConfig extends StackConfig {
  readonly self: Site;
  readonly peer: Site;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(
      `invalid stack config (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n` +
        problems.map((p) => `  - ${p}`).join("\n") +
        `\nFix these with \`pulumi config set --path dr-stack:<key> <value>\` or in Pulumi.<stack>.yaml; ` +
        `every key is documented in Pulumi.yaml.`,
    );
    this.name = "ConfigError";
  }
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const key = [NAMESPACE + ":" + (issue.path[0]?.toString() ?? ""), ...issue.path.slice(1)].join(
    ".",
  );
  const got = "input" in issue ? issue.input : undefined;
  switch (issue.code) {
    case "invalid_value":
      return `${key}: ${JSON.stringify(got)} is not allowed; expected one of ${issue.values.map(String).join(", ")}`;
    case "unrecognized_keys":
      return `${key === NAMESPACE + ":" ? NAMESPACE : key}: unknown key${issue.keys.length > 1 ? "s" : ""} ${issue.keys.join(", ")}; check the spelling against Pulumi.yaml`;
    case "invalid_type":
      return got === undefined
        ? `${key}: missing; expected ${issue.expected}`
        : `${key}: expected ${issue.expected}, got ${JSON.stringify(got)}`;
    default:
      return `${key}: ${issue.message}${got !== undefined && issue.code !== "custom" ? ` (got ${JSON.stringify(got)})` : ""}`;
  }
}

/** Validates raw config (keys without the `dr-stack:` prefix). Throws one ConfigError listing every problem. */
export function parseConfig(raw: Record<string, unknown>): ResolvedConfig {
  const result = configSchema.safeParse(raw, { reportInput: true });
  if (!result.success) throw new ConfigError(result.error.issues.map(describeIssue));
  const c = result.data;
  const peerName = Object.keys(c.sites).find((s) => s !== c.site) as string;
  const site = (name: string): Site => ({
    site: name,
    region: c.sites[name].region,
    config: c.sites[name],
  });
  return { ...c, self: site(c.site), peer: site(peerName) };
}

/** Reads every `dr-stack:*` key of the running stack. Structured values arrive as JSON text. */
export function rawStackConfig(
  all: Record<string, string> = pulumi.runtime.allConfig(),
): Record<string, unknown> {
  const raw: Record<string, unknown> = {};
  for (const [fullKey, value] of Object.entries(all)) {
    if (!fullKey.startsWith(`${NAMESPACE}:`)) continue;
    const key = fullKey.slice(NAMESPACE.length + 1);
    let parsed: unknown = value;
    if (/^\s*[[{]/.test(value)) {
      try {
        parsed = JSON.parse(value);
      } catch {
        parsed = value;
      }
    }
    raw[key] = parsed;
  }
  return raw;
}

/** Reads and validates the stack config once; index.ts calls this before registering anything. */
export function loadConfig(): ResolvedConfig {
  const config = parseConfig(rawStackConfig());
  const aws = new pulumi.Config("aws");
  const problems = providerRegionIssues(
    { region: aws.get("region"), stsRegion: aws.get("stsRegion") },
    config.self.region,
  );
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}
