import type { RegisteredResource } from "../support/mockRun";
import { allowsAction, awsPrincipals, statements } from "./policyDocs";
import { keyPolicyAllows, type Finding, type Rule, type SiteRun } from "./rules";

/**
 * AWS's and PostgreSQL's rules for the updates a live pair takes after its first deployment
 * (rotations, key-policy changes, node and engine upgrades), in the style of test/aws/rules.ts:
 * each states what a real `pulumi up` would be refused or would silently get wrong, with its
 * source. rules.ts includes them in RULES, so rules.test.ts holds both stacks in every role to
 * them; day2Rules.test.ts shows each fails when its fix is reverted.
 */

const T = {
  pgRole: "postgresql:index/role:Role",
  pgProvider: "pulumi:providers:postgresql",
  key: "aws:kms/key:Key",
  alias: "aws:kms/alias:Alias",
  secretVersion: "aws:secretsmanager/secretVersion:SecretVersion",
  nodeGroup: "aws:eks/nodeGroup:NodeGroup",
  launchTemplate: "aws:ec2/launchTemplate:LaunchTemplate",
  accessPolicy: "aws:eks/accessPolicyAssociation:AccessPolicyAssociation",
  k8sProvider: "pulumi:providers:kubernetes",
} as const;

const finding = (rule: string, r: RegisteredResource, message: string): Finding => ({
  rule,
  resource: `${r.type} ${r.name}`,
  message: `${r.name}: ${message}`,
});

const rootOf = (s: SiteRun) => `arn:${s.partition}:iam::${s.accountId}:root`;

/** The cluster-admin associations: the deployer must be among them (cluster.ts). */
const adminAssociations = (s: SiteRun) =>
  s.run
    .ofType(T.accessPolicy)
    .filter((a) => String(a.inputs.policyArn).endsWith("/AmazonEKSClusterAdminPolicy"));

/** The principals that may run `pulumi up`: the cluster admins. */
const deployers = (s: SiteRun) => adminAssociations(s).map((a) => a.inputs.principalArn as string);

/** PostgreSQL role attributes only a superuser (or, from 16, a holder of the same) may grant. */
const MASTER_CANNOT_GRANT = ["bypassRowLevelSecurity", "superuser", "replication"] as const;

const rdsMasterAttributes: Rule = {
  id: "rds-master-role-attributes",
  source:
    "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Appendix.PostgreSQL.CommonDBATasks.Roles.rds_superuser.html; " +
    "https://www.postgresql.org/docs/15/sql-createrole.html; https://www.postgresql.org/docs/16/sql-createrole.html",
  check: ({ run }) =>
    run
      .ofType(T.pgRole)
      .flatMap((r) =>
        MASTER_CANNOT_GRANT.filter((k) => r.inputs[k] === true).map((k) =>
          finding(
            rdsMasterAttributes.id,
            r,
            `${k} is true; the provider logs in as the RDS master (NOSUPERUSER CREATEROLE), which ` +
              `PostgreSQL lets set it only as a superuser (15) or as a holder of it (16): CREATE ROLE fails`,
          ),
        ),
      ),
};

const keyOf = (s: SiteRun, alias: RegisteredResource) =>
  s.run.ofType(T.key).find((k) => k.id === alias.inputs.targetKeyId);

/** Any role of the account that IAM lets administer keys, but not the break-glass one. */
const someAdmin = (s: SiteRun) => `arn:${s.partition}:iam::${s.accountId}:role/account-admin`;

const aliasProtected: Rule = {
  id: "kms-alias-protected",
  source: "https://docs.aws.amazon.com/kms/latest/developerguide/alias-access.html",
  check: (site) =>
    site.run.ofType(T.alias).flatMap((alias) => {
      const key = keyOf(site, alias);
      if (!key) return [];
      return ["kms:UpdateAlias", "kms:DeleteAlias"]
        .filter((a) => keyPolicyAllows(key.inputs.policy, someAdmin(site), a, rootOf(site)))
        .map((a) =>
          finding(
            aliasProtected.id,
            alias,
            `its key's policy lets any account admin ${a} ${alias.inputs.name}: the alias S3 ` +
              `replication names could be repointed to another key or deleted`,
          ),
        );
    }),
};

const keyRecoverable: Rule = {
  id: "kms-key-policy-recoverable",
  source:
    "https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html#key-policy-default-allow-root-enable-iam",
  check: (site) =>
    site.run
      .ofType(T.key)
      .filter(
        (k) => !keyPolicyAllows(k.inputs.policy, rootOf(site), "kms:PutKeyPolicy", rootOf(site)),
      )
      .map((k) =>
        finding(
          keyRecoverable.id,
          k,
          `its policy denies kms:PutKeyPolicy to the account's root user: if the one principal ` +
            `it exempts is lost, the key can never be managed again`,
        ),
      ),
};

const keyPolicyUpdate: Rule = {
  id: "kms-key-policy-update-by-deployer",
  source:
    "terraform-provider-aws internal/service/kms/key.go (resourceKeyUpdate calls PutKeyPolicy when policy changes); " +
    "https://docs.aws.amazon.com/kms/latest/APIReference/API_PutKeyPolicy.html",
  check: (site) =>
    site.run.ofType(T.key).flatMap((k) =>
      k.ignoreChanges.includes("policy")
        ? []
        : deployers(site)
            .filter((d) => !keyPolicyAllows(k.inputs.policy, d, "kms:PutKeyPolicy", rootOf(site)))
            .map((d) =>
              finding(
                keyPolicyUpdate.id,
                k,
                `an update that changes its policy sends PutKeyPolicy as the deployer ${d}, ` +
                  `which the key's own policy refuses: the up fails halfway`,
              ),
            ),
    ),
};

/** "JSON structure of AWS Secrets Manager secrets", Amazon RDS PostgreSQL. */
export const RDS_SECRET_KEYS = ["engine", "host", "username", "password", "dbname", "port"];

const secretJson: Rule = {
  id: "secrets-rds-postgres-json",
  source:
    "https://docs.aws.amazon.com/secretsmanager/latest/userguide/reference_secret_json_structure.html",
  check: ({ run }) =>
    run.ofType(T.secretVersion).flatMap((v) => {
      const value = JSON.parse(String(v.inputs.secretString)) as Record<string, unknown>;
      const missing = RDS_SECRET_KEYS.filter((k) => value[k] === undefined);
      const wrong = value.engine !== undefined && value.engine !== "postgres";
      return missing.length || wrong
        ? [
            finding(
              secretJson.id,
              v,
              `the credential lacks ${missing.join(", ") || "engine postgres"}, which AWS's JSON ` +
                `structure for an RDS PostgreSQL secret has and clients read`,
            ),
          ]
        : [];
    }),
};

const providerCurrentPassword: Rule = {
  id: "postgresql-provider-current-password",
  source:
    "https://www.pulumi.com/docs/iac/concepts/options/ignorechanges/; " +
    "https://docs.aws.amazon.com/secretsmanager/latest/userguide/rotating-secrets.html",
  check: ({ run }) => {
    const frozen = run
      .ofType(T.secretVersion)
      .filter((v) => v.ignoreChanges.includes("secretString"))
      .map((v) => (JSON.parse(String(v.inputs.secretString)) as { password?: string }).password);
    return run
      .ofType(T.pgProvider)
      .filter((p) => frozen.includes(p.inputs.password as string))
      .map((p) =>
        finding(
          providerCurrentPassword.id,
          p,
          `logs in with the password this program wrote once and keeps in state (ignoreChanges): ` +
            `after a rotation the next up fails to log in; read the secret's current value`,
        ),
      );
  },
};

const AUTO_SCALING_SLR = "/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling";

const nodeVolumes: Rule = {
  id: "eks-node-volumes-site-key",
  source:
    "https://docs.aws.amazon.com/eks/latest/userguide/launch-templates.html; " +
    "https://docs.aws.amazon.com/eks/latest/APIReference/API_CreateNodegroup.html; " +
    "https://docs.aws.amazon.com/autoscaling/ec2/userguide/key-policy-requirements-EBS-encryption.html",
  check: (site) =>
    site.run.ofType(T.nodeGroup).flatMap((ng) => {
      const ltId = (ng.inputs.launchTemplate as { id?: string } | undefined)?.id;
      const lt = site.run.ofType(T.launchTemplate).find((t) => t.id === ltId);
      if (!lt)
        return [
          finding(
            nodeVolumes.id,
            ng,
            `has no launch template: its root volumes use the account's default EBS key`,
          ),
        ];
      const out: Finding[] = [];
      if (ng.inputs.diskSize !== undefined)
        out.push(
          finding(nodeVolumes.id, ng, `sets diskSize beside a launch template, which EKS refuses`),
        );
      const ebs = (lt.inputs.blockDeviceMappings ?? []).map(
        (m: { ebs?: Record<string, unknown> }) => m.ebs ?? {},
      );
      const keyArn = ebs.find((e: Record<string, unknown>) => e.encrypted === "true")?.kmsKeyId as
        string | undefined;
      const key = site.run
        .ofType(T.key)
        .find(
          (k) =>
            keyArn ===
            `arn:${site.partition}:kms:${k.inputs.region ?? site.region}:${site.accountId}:key/${k.id}`,
        );
      if (!key) {
        out.push(
          finding(nodeVolumes.id, lt, `does not encrypt the root volume with this site's key`),
        );
        return out;
      }
      const slr = statements(key.inputs.policy).filter(
        (s) => s.Effect === "Allow" && awsPrincipals(s).some((p) => p.endsWith(AUTO_SCALING_SLR)),
      );
      for (const action of [
        "kms:GenerateDataKeyWithoutPlaintext",
        "kms:Decrypt",
        "kms:CreateGrant",
      ])
        if (!slr.some((s) => allowsAction(s, action)))
          out.push(
            finding(
              nodeVolumes.id,
              key,
              `does not let EC2 Auto Scaling's service-linked role ${action}: nodes with encrypted root volumes fail to launch`,
            ),
          );
      return out;
    }),
};

const k8sAfterAccess: Rule = {
  id: "eks-kubernetes-provider-after-access",
  source: "https://docs.aws.amazon.com/eks/latest/userguide/access-policies.html",
  check: (site) => {
    const run = site.run;
    const associations = adminAssociations(site).map((a) => a.urn);
    return run
      .ofType(T.k8sProvider)
      .filter((p) => associations.some((u) => !p.dependsOn.includes(u)))
      .map((p) =>
        finding(
          k8sAfterAccess.id,
          p,
          `does not wait for every cluster admin's access policy association: the deployer's first ` +
            `Kubernetes call can be refused (Unauthorized) while its access entry has no policy`,
        ),
      );
  },
};

export const DAY2_RULES: readonly Rule[] = [
  rdsMasterAttributes,
  aliasProtected,
  keyRecoverable,
  keyPolicyUpdate,
  secretJson,
  providerCurrentPassword,
  nodeVolumes,
  k8sAfterAccess,
];
