import type * as aws from "@pulumi/aws";
import type { StackValidationPolicy } from "@pulumi/policy";
import { thresholds } from "../../../lib/config";
import { list, patternsIntersect, statements } from "../../../lib/iam";
import { documentsOf, isJobRole } from "../../../lib/jobRole";
import { ofTypes, propsOf, TYPES } from "../../../lib/resources";

const configSchema = {
  properties: {
    masterSecretArnPattern: {
      type: "string" as const,
      // naming.dbMasterSecretName is `<name>-<site>/db/master`; Secrets Manager appends a dash
      // and six random characters to a secret's ARN.
      default: "arn:*:secretsmanager:*:*:secret:*/db/master-*",
      description: "IAM pattern of the database master secret's ARN (docs/architecture.md §8).",
    },
  },
};

const READS = ["secretsmanager:GetSecretValue", "secretsmanager:BatchGetSecretValue"];

/**
 * No job identity may read the database master secret (master credential: docs/architecture.md §8, docs/architecture.md §8): an Allow of
 * `secretsmanager:GetSecretValue` (or a wildcard that grants it) on a Resource that can match the
 * master secret's ARN — `*` included — is a violation. The backup jobs log in as the dedicated
 * read-only login; a stolen job token must not become an `rds_superuser`.
 *
 * Severity: critical; enforcement: mandatory.
 * https://docs.aws.amazon.com/secretsmanager/latest/userguide/auth-and-access_examples.html
 * https://docs.aws.amazon.com/secretsmanager/latest/userguide/reference_iam-permissions.html
 */
export const drIamRoleJobNoMasterSecret: StackValidationPolicy = {
  name: "dr-iam-role-job-no-master-secret",
  description: "Job identities cannot read the database master secret.",
  enforcementLevel: "mandatory",
  severity: "critical",
  url: "https://docs.aws.amazon.com/secretsmanager/latest/userguide/auth-and-access_examples.html",
  configSchema,
  validateStack: (args, reportViolation) => {
    const { masterSecretArnPattern } = thresholds<{ masterSecretArnPattern: string }>(
      configSchema,
      args,
    );
    for (const role of ofTypes(args.resources, TYPES.role).filter(isJobRole)) {
      const roleName = propsOf<aws.iam.RoleArgs>(role).name ?? role.name;
      for (const doc of documentsOf(args.resources, role)) {
        for (const s of statements(doc.policy)) {
          if (s.Effect !== "Allow") continue;
          if (!list(s.Action).some((a) => READS.some((r) => patternsIntersect(a, r)))) continue;
          const hits =
            s.NotResource !== undefined
              ? [`NotResource ${JSON.stringify(s.NotResource)}`]
              : list(s.Resource).filter((r) => patternsIntersect(r, masterSecretArnPattern));
          if (hits.length === 0) continue;
          reportViolation(
            `job role ${roleName}, ${doc.where} lets it read secrets matching ` +
              `${hits.join(", ")}, which includes the database master secret; name only the ` +
              `backup login's secret ARN`,
            doc.urn,
          );
        }
      }
    }
  },
};
