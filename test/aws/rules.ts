import type { RegisteredResource, StackRun } from "../support/mockRun";
import {
  allowsAction,
  awsPrincipals,
  conditionValues,
  coversResource,
  servicePrincipals,
  statements,
  wildcardMatch,
  type Statement,
} from "./policyDocs";

/**
 * AWS's rules, as tests: what AWS refuses, what it normalises on read, and what permissions a
 * cross-service path needs, each with the page or provider source it comes from. A mocked run
 * accepts anything; these rules are what a real `pulumi up` would hold the program to.
 */

export interface Finding {
  readonly rule: string;
  /** `<type> <logical name>` of the resource the finding is about. */
  readonly resource: string;
  readonly message: string;
}

/** One stack's mocked run, with what the rules need to know about its site. */
export interface SiteRun {
  readonly run: StackRun;
  readonly accountId: string;
  readonly partition: string;
  readonly region: string;
}

export interface Rule {
  readonly id: string;
  /** The AWS page or provider source the rule states. */
  readonly source: string;
  /** Findings in one site's run, knowing its peer's run (for rules across regions). */
  readonly check: (site: SiteRun, peer: SiteRun) => Finding[];
}

const T = {
  role: "aws:iam/role:Role",
  rolePolicy: "aws:iam/rolePolicy:RolePolicy",
  instance: "aws:rds/instance:Instance",
  paramGroup: "aws:rds/parameterGroup:ParameterGroup",
  subnetGroup: "aws:rds/subnetGroup:SubnetGroup",
  backupsReplication:
    "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication",
  bucket: "aws:s3/bucket:Bucket",
  bucketSse:
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
  replication: "aws:s3/bucketReplicationConfig:BucketReplicationConfig",
  key: "aws:kms/key:Key",
  alias: "aws:kms/alias:Alias",
  secret: "aws:secretsmanager/secret:Secret",
  cluster: "aws:eks/cluster:Cluster",
  vault: "aws:backup/vault:Vault",
  plan: "aws:backup/plan:Plan",
  topic: "aws:sns/topic:Topic",
  logGroup: "aws:cloudwatch/logGroup:LogGroup",
  flowLog: "aws:ec2/flowLog:FlowLog",
} as const;

const label = (r: RegisteredResource) => `${r.type} ${r.name}`;
const find = (rule: string, r: RegisteredResource, message: string): Finding => ({
  rule,
  resource: label(r),
  message: `${r.name}: ${message}`,
});

// ---------------------------------------------------------------------------------------------
// Names

export interface NameRule {
  readonly type: string;
  /** The name AWS sees: an explicit input, else what the provider auto-names (the mock's id). */
  readonly name: (r: RegisteredResource) => string | undefined;
  readonly what: string;
  readonly max: number;
  readonly pattern: RegExp;
  readonly patternText: string;
  readonly source: string;
  /** RDS: no `--`, no trailing `-`. */
  readonly rdsHyphens?: boolean;
}

export const NAME_RULES: NameRule[] = [
  {
    type: T.role,
    name: (r) => r.id,
    what: "IAM role name",
    max: 64,
    pattern: /^[\w+=,.@-]+$/,
    patternText: "letters, digits and +=,.@_-",
    source: "https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html",
  },
  {
    type: T.instance,
    name: (r) => r.inputs.identifier,
    what: "DB instance identifier",
    max: 63,
    pattern: /^[a-z][a-z0-9-]*$/,
    patternText: "a lowercase letter first, then lowercase letters, digits and hyphens",
    rdsHyphens: true,
    source: "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html",
  },
  {
    type: T.instance,
    name: (r) => r.inputs.finalSnapshotIdentifier,
    what: "final DB snapshot identifier",
    max: 255,
    pattern: /^[a-zA-Z][a-zA-Z0-9-]*$/,
    patternText: "a letter first, then letters, digits and hyphens",
    rdsHyphens: true,
    source: "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DeleteDBInstance.html",
  },
  {
    type: T.paramGroup,
    name: (r) => r.inputs.name ?? r.id,
    what: "DB parameter group name",
    max: 255,
    pattern: /^[a-z][a-z0-9-]*$/,
    patternText: "a lowercase letter first, then lowercase letters, digits and hyphens",
    rdsHyphens: true,
    source:
      "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBParameterGroup.html",
  },
  {
    type: T.subnetGroup,
    name: (r) => r.inputs.name ?? r.id,
    what: "DB subnet group name",
    max: 255,
    pattern: /^[a-z0-9 ._-]+$/,
    patternText: "lowercase letters, digits, spaces, periods, underscores and hyphens",
    source:
      "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBSubnetGroup.html",
  },
  {
    type: T.bucket,
    name: (r) => r.inputs.bucket ?? r.id,
    what: "S3 bucket name",
    max: 63,
    pattern: /^(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/,
    patternText: "3-63 lowercase letters, digits, dots and hyphens, alphanumeric at both ends",
    source: "https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html",
  },
  {
    type: T.alias,
    name: (r) => r.inputs.name,
    what: "KMS alias name",
    max: 256,
    pattern: /^alias\/(?!aws\/)[a-zA-Z0-9/_-]+$/,
    patternText: "alias/ then letters, digits, /_- (never alias/aws/)",
    source: "https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateAlias.html",
  },
  {
    type: T.secret,
    name: (r) => r.inputs.name,
    what: "Secrets Manager secret name",
    max: 512,
    pattern: /^[A-Za-z0-9/_+=.@-]+$/,
    patternText: "letters, digits and /_+=.@-",
    source: "https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_CreateSecret.html",
  },
  {
    type: T.cluster,
    name: (r) => r.inputs.name,
    what: "EKS cluster name",
    max: 100,
    pattern: /^[0-9A-Za-z][A-Za-z0-9_-]*$/,
    patternText: "an alphanumeric first, then letters, digits, _ and -",
    source: "https://docs.aws.amazon.com/eks/latest/APIReference/API_CreateCluster.html",
  },
  {
    type: T.vault,
    name: (r) => r.inputs.name,
    what: "backup vault name",
    max: 50,
    pattern: /^[a-zA-Z0-9_-]{2,50}$/,
    patternText: "2-50 letters, digits, _ and -",
    source: "https://docs.aws.amazon.com/aws-backup/latest/devguide/API_CreateBackupVault.html",
  },
  {
    type: T.topic,
    name: (r) => r.inputs.name,
    what: "SNS topic name",
    max: 256,
    pattern: /^[A-Za-z0-9_-]+$/,
    patternText: "letters, digits, _ and -",
    source: "https://docs.aws.amazon.com/sns/latest/api/API_CreateTopic.html",
  },
];

export function nameProblem(rule: NameRule, name: string): string | undefined {
  if (name.length > rule.max)
    return `${rule.what} "${name}" is ${name.length} characters; AWS allows at most ${rule.max}`;
  if (!rule.pattern.test(name)) return `${rule.what} "${name}" must be ${rule.patternText}`;
  if (rule.rdsHyphens && name.includes("--"))
    return `${rule.what} "${name}" contains "--", which RDS refuses`;
  if (rule.rdsHyphens && name.endsWith("-"))
    return `${rule.what} "${name}" ends with "-", which RDS refuses`;
  return undefined;
}

const names: Rule = {
  id: "names",
  source:
    "https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html and the API reference each NAME_RULES entry links",
  check: ({ run }) =>
    NAME_RULES.flatMap((rule) =>
      run.ofType(rule.type).flatMap((r) => {
        const n = rule.name(r);
        const p = n === undefined ? undefined : nameProblem(rule, n);
        return p ? [find("names", r, p)] : [];
      }),
    ),
};

// ---------------------------------------------------------------------------------------------
// Argument combinations AWS refuses

const instanceArn = (s: SiteRun, r: RegisteredResource) =>
  `arn:${s.partition}:rds:${r.inputs.region ?? s.region}:${s.accountId}:db:${r.inputs.identifier}`;

const replicaOfManagedPassword: Rule = {
  id: "rds-replica-of-managed-password",
  source:
    "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-secrets-manager.html#rds-secrets-manager-limitations",
  check: (site, peer) =>
    site.run.ofType(T.instance).flatMap((replica) => {
      const src = replica.inputs.replicateSourceDb as string | undefined;
      if (!src) return [];
      const sources = [site, peer].flatMap((s) =>
        s.run
          .ofType(T.instance)
          .filter((i) => i.inputs.identifier === src || instanceArn(s, i) === src),
      );
      return sources
        .filter((s) => s.inputs.manageMasterUserPassword === true)
        .map((s) =>
          find(
            replicaOfManagedPassword.id,
            replica,
            `is a read replica of ${s.inputs.identifier}, whose master password Secrets Manager manages ` +
              `(manageMasterUserPassword); RDS refuses to create a read replica of such a source`,
          ),
        );
    }),
};

/** terraform-provider-aws aws_db_instance schema: ConflictsWith replicate_source_db. */
const REPLICA_CONFLICTS = ["username", "dbName", "manageMasterUserPassword"] as const;
const replicaArguments: Rule = {
  id: "rds-replica-arguments",
  source:
    "terraform-provider-aws internal/service/rds/instance.go (schema: username, db_name ConflictsWith replicate_source_db; manage_master_user_password)",
  check: ({ run }) =>
    run
      .ofType(T.instance)
      .flatMap((r) =>
        r.inputs.replicateSourceDb
          ? REPLICA_CONFLICTS.filter((k) => r.inputs[k] !== undefined).map((k) =>
              find(
                replicaArguments.id,
                r,
                `${k} is set on a read replica; it is inherited from the source and the provider refuses it next to replicateSourceDb`,
              ),
            )
          : [],
      ),
};

// ---------------------------------------------------------------------------------------------
// Values AWS normalises on read

/** ForceNew key references that AWS stores, and reads back, as the key ARN. */
const KEY_ARN_FIELDS: ReadonlyArray<{ type: string; path: string[] }> = [
  { type: T.backupsReplication, path: ["kmsKeyId"] },
  { type: T.instance, path: ["kmsKeyId"] },
  { type: T.instance, path: ["performanceInsightsKmsKeyId"] },
  { type: T.cluster, path: ["encryptionConfig", "provider", "keyArn"] },
  { type: T.logGroup, path: ["kmsKeyId"] },
];

const keyArnNotAlias: Rule = {
  id: "kms-key-arn-not-alias",
  source:
    "terraform-aws-modules/terraform-aws-rds#454; https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_StartDBInstanceAutomatedBackupsReplication.html",
  check: ({ run }) =>
    KEY_ARN_FIELDS.flatMap(({ type, path }) =>
      run.ofType(type).flatMap((r) => {
        const v = path.reduce<unknown>(
          (o, k) => (o as Record<string, unknown> | undefined)?.[k],
          r.inputs,
        );
        if (typeof v !== "string" || /^arn:[^:]+:kms:[^:]+:\d{12}:key\/.+$/.test(v)) return [];
        return [
          find(
            keyArnNotAlias.id,
            r,
            `${path.join(".")} is "${v}", not a key ARN; AWS stores and reads back the key ARN ` +
              `(arn:…:kms:<region>:<account>:key/<id>), so the next up plans a replacement of this ForceNew input`,
          ),
        ];
      }),
    ),
};

const rdsLowercase: Rule = {
  id: "rds-identifiers-lowercase",
  source:
    "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html (stored as a lowercase string)",
  check: ({ run }) =>
    run
      .ofType(T.instance)
      .filter((r) => typeof r.inputs.identifier === "string" && /[A-Z]/.test(r.inputs.identifier))
      .map((r) =>
        find(
          rdsLowercase.id,
          r,
          `identifier "${r.inputs.identifier}" has capitals; RDS stores it lowercase and the next up plans a replacement`,
        ),
      ),
};

// ---------------------------------------------------------------------------------------------
// Permissions of cross-service paths

const keyOf = (s: SiteRun, arn: string) =>
  s.run
    .ofType(T.key)
    .find(
      (k) =>
        `arn:${s.partition}:kms:${k.inputs.region ?? s.region}:${s.accountId}:key/${k.id}` === arn,
    );

/** Whether a key policy lets `principalArn` call `action` (allowed, and not denied). */
export function keyPolicyAllows(
  policy: unknown,
  principalArn: string,
  action: string,
  accountRoot: string,
): boolean {
  const st = statements(policy);
  const principalMatches = (s: Statement) => {
    const named = awsPrincipals(s);
    if (named.includes(principalArn) || named.includes("*")) return true;
    if (!named.includes(accountRoot)) return false;
    const arns = [
      ...conditionValues(s, "ArnEquals", "aws:PrincipalArn"),
      ...conditionValues(s, "ArnLike", "aws:PrincipalArn"),
    ];
    return arns.length === 0 || arns.some((a) => wildcardMatch(a, principalArn));
  };
  const denied = st.some(
    (s) =>
      s.Effect === "Deny" &&
      allowsAction(s, action) &&
      (awsPrincipals(s).includes("*") || awsPrincipals(s).includes(principalArn)) &&
      !conditionValues(s, "ArnNotEquals", "aws:PrincipalArn").includes(principalArn),
  );
  return (
    !denied &&
    st.some((s) => s.Effect === "Allow" && allowsAction(s, action) && principalMatches(s))
  );
}

function rolePolicies(run: StackRun, roleArn: string): Statement[] {
  const role = run.ofType(T.role).find((r) => roleArn.endsWith(`:role/${r.id}`));
  if (!role) return [];
  return run
    .ofType(T.rolePolicy)
    .filter((p) => p.inputs.role === role.id || p.inputs.role === role.inputs.name)
    .flatMap((p) => statements(p.inputs.policy));
}

const s3ReplicationKms: Rule = {
  id: "s3-replication-kms-bucket-keys",
  source:
    "https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-config-for-kms-objects.html",
  check: (site, peer) =>
    site.run.ofType(T.replication).flatMap((cfg) => {
      const roleArn = cfg.inputs.role as string;
      const findings: Finding[] = [];
      for (const rule of (cfg.inputs.rules ?? []) as Array<Record<string, any>>) {
        const destKeyArn = rule.destination?.encryptionConfiguration?.replicaKmsKeyId as
          string | undefined;
        if (!destKeyArn) continue;
        const destBucket = String(rule.destination.bucket).replace(/^arn:[^:]+:s3:::/, "");
        const bucketKeys = peer.run
          .ofType(T.bucketSse)
          .filter((c) => c.inputs.bucket === destBucket)
          .some((c) => (c.inputs.rules ?? []).some((r: any) => r.bucketKeyEnabled === true));
        const needed = bucketKeys ? ["kms:Encrypt", "kms:Decrypt"] : ["kms:Encrypt"];
        const key = keyOf(peer, destKeyArn) ?? aliasTarget(peer, destKeyArn);
        const root = `arn:${site.partition}:iam::${site.accountId}:root`;
        for (const action of needed) {
          if (!key || !keyPolicyAllows(key.inputs.policy, roleArn, action, root)) {
            findings.push(
              find(
                s3ReplicationKms.id,
                cfg,
                `the replica key ${destKeyArn}'s policy does not let ${roleArn} ${action}` +
                  (bucketKeys ? " (the destination uses S3 Bucket Keys: Encrypt and Decrypt)" : ""),
              ),
            );
          }
          const iam = rolePolicies(site.run, roleArn);
          if (
            !iam.some(
              (s) =>
                s.Effect === "Allow" &&
                allowsAction(s, action) &&
                (coversResource(s, destKeyArn) ||
                  coversResource(s, key ? keyArnIn(peer, key) : destKeyArn)),
            )
          ) {
            findings.push(
              find(
                s3ReplicationKms.id,
                cfg,
                `the replication role ${roleArn} has no IAM permission to ${action} with ${destKeyArn}`,
              ),
            );
          }
        }
      }
      return findings;
    }),
};

const keyArnIn = (s: SiteRun, k: RegisteredResource) =>
  `arn:${s.partition}:kms:${k.inputs.region ?? s.region}:${s.accountId}:key/${k.id}`;

/** The key an alias ARN names, in the run that registers both. */
function aliasTarget(s: SiteRun, aliasArn: string): RegisteredResource | undefined {
  const alias = s.run.ofType(T.alias).find((a) => aliasArn.endsWith(`:${a.inputs.name}`));
  return alias ? s.run.ofType(T.key).find((k) => k.id === alias.inputs.targetKeyId) : undefined;
}

const LOGS_ACTIONS = [
  "kms:Encrypt",
  "kms:Decrypt",
  "kms:ReEncryptFrom",
  "kms:GenerateDataKey",
  "kms:DescribeKey",
];
const logsKms: Rule = {
  id: "logs-kms-key-policy",
  source: "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html",
  check: (site) =>
    site.run.ofType(T.logGroup).flatMap((g) => {
      const keyArn = g.inputs.kmsKeyId as string | undefined;
      if (!keyArn) return [];
      const key = keyOf(site, keyArn);
      const service = `logs.${g.inputs.region ?? site.region}.amazonaws.com`;
      const groupArn = `arn:${site.partition}:logs:${g.inputs.region ?? site.region}:${site.accountId}:log-group:${g.inputs.name ?? g.name}`;
      const ok =
        key !== undefined &&
        LOGS_ACTIONS.every((action) =>
          statements(key.inputs.policy).some(
            (s) =>
              s.Effect === "Allow" &&
              servicePrincipals(s).includes(service) &&
              allowsAction(s, action) &&
              conditionValues(s, "ArnLike", "kms:EncryptionContext:aws:logs:arn").some((p) =>
                wildcardMatch(p, groupArn),
              ),
          ),
        );
      return ok
        ? []
        : [
            find(
              logsKms.id,
              g,
              `its key ${keyArn} does not let ${service} ${LOGS_ACTIONS.join(", ")} for ${groupArn}; CloudWatch Logs cannot write the group`,
            ),
          ];
    }),
};

const snsKms: Rule = {
  id: "sns-kms-cloudwatch-publish",
  source:
    "https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services",
  check: (site) =>
    site.run.ofType(T.topic).flatMap((t) => {
      const keyArn = t.inputs.kmsMasterKeyId as string | undefined;
      if (!keyArn) return [];
      const key = keyOf(site, keyArn) ?? aliasTarget(site, keyArn);
      const ok =
        key !== undefined &&
        ["kms:Decrypt", "kms:GenerateDataKey"].every((action) =>
          statements(key.inputs.policy).some(
            (s) =>
              s.Effect === "Allow" &&
              servicePrincipals(s).includes("cloudwatch.amazonaws.com") &&
              allowsAction(s, action),
          ),
        );
      return ok
        ? []
        : [
            find(
              snsKms.id,
              t,
              `its key ${keyArn} does not let cloudwatch.amazonaws.com kms:Decrypt and kms:GenerateDataKey; alarms cannot publish to it`,
            ),
          ];
    }),
};

const backupCopies: Rule = {
  id: "backup-copy-target",
  source: "https://docs.aws.amazon.com/aws-backup/latest/devguide/cross-region-backup.html",
  check: (site, peer) =>
    site.run.ofType(T.plan).flatMap((plan) =>
      ((plan.inputs.rules ?? []) as Array<Record<string, any>>).flatMap((rule) =>
        ((rule.copyActions ?? []) as Array<{ destinationVaultArn: string }>).flatMap((c) => {
          const vault = peer.run
            .ofType(T.vault)
            .find(
              (v) =>
                `arn:${peer.partition}:backup:${v.inputs.region ?? peer.region}:${peer.accountId}:backup-vault:${v.inputs.name}` ===
                c.destinationVaultArn,
            );
          if (!vault)
            return [
              find(
                backupCopies.id,
                plan,
                `rule ${rule.ruleName} copies to ${c.destinationVaultArn}, which the peer stack does not register`,
              ),
            ];
          const key = keyOf(peer, vault.inputs.kmsKeyArn as string);
          const root = `arn:${peer.partition}:iam::${peer.accountId}:root`;
          // AWS Backup copies with the plan's service role, authorized through IAM.
          return key && keyPolicyAllows(key.inputs.policy, root, "kms:GenerateDataKey", root)
            ? []
            : [
                find(
                  backupCopies.id,
                  plan,
                  `the destination vault's key does not let this account's IAM roles use it; copies into ${c.destinationVaultArn} fail`,
                ),
              ];
        }),
      ),
    ),
};

const FLOW_LOG_ACTIONS = [
  "logs:CreateLogStream",
  "logs:PutLogEvents",
  "logs:DescribeLogGroups",
  "logs:DescribeLogStreams",
];
const flowLogRole: Rule = {
  id: "flow-log-role",
  source: "https://docs.aws.amazon.com/vpc/latest/userguide/flow-logs-iam-role.html",
  check: ({ run }) =>
    run.ofType(T.flowLog).flatMap((f) => {
      const iam = rolePolicies(run, f.inputs.iamRoleArn as string);
      const missing = FLOW_LOG_ACTIONS.filter(
        (a) => !iam.some((s) => s.Effect === "Allow" && allowsAction(s, a)),
      );
      return missing.length
        ? [
            find(
              flowLogRole.id,
              f,
              `its role lacks ${missing.join(", ")} (the VPC user guide's minimum)`,
            ),
          ]
        : [];
    }),
};

// ---------------------------------------------------------------------------------------------
// Partition

const partitionArns: Rule = {
  id: "partition-arns",
  source: "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html",
  check: ({ run, partition }) =>
    run.resources.flatMap((r) => {
      const wrong = [...JSON.stringify(r.inputs).matchAll(/arn:([a-z-]+):/g)]
        .map((m) => m[1])
        .filter((p) => p !== partition);
      return wrong.length
        ? [
            find(
              partitionArns.id,
              r,
              `names an ARN in partition ${wrong[0]}, not the stack's ${partition}`,
            ),
          ]
        : [];
    }),
};

export const RULES: readonly Rule[] = [
  names,
  replicaOfManagedPassword,
  replicaArguments,
  keyArnNotAlias,
  rdsLowercase,
  s3ReplicationKms,
  logsKms,
  snsKms,
  backupCopies,
  flowLogRole,
  partitionArns,
];

/** Every finding of every rule for `site`, knowing its peer. */
export function evaluateRules(site: SiteRun, peer: SiteRun, rules = RULES): Finding[] {
  return rules.flatMap((r) => r.check(site, peer));
}
