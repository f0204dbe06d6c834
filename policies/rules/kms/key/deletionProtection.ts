import * as aws from "@pulumi/aws";
import { validateResourceOfType, type ResourceValidationPolicy } from "@pulumi/policy";
import { daysProperty, thresholds } from "../../../lib/config";
import { isEveryone, list, patternsIntersect, statements, type Statement } from "../../../lib/iam";

interface Config {
  protectedActions: string[];
  minimumDeletionWindowDays: number;
}

const configSchema = {
  properties: {
    protectedActions: {
      type: "array" as const,
      items: { type: "string" as const },
      default: [
        "kms:ScheduleKeyDeletion",
        "kms:DisableKey",
        "kms:PutKeyPolicy",
        "kms:UpdateAlias",
        "kms:DeleteAlias",
      ],
      description: "Actions the key policy denies to everyone but a break-glass principal.",
    },
    minimumDeletionWindowDays: daysProperty(
      "Fewest days between scheduling the key's deletion and KMS deleting it.",
      30,
    ),
  },
};

/** Condition operators that exempt named principals from a Deny, and the key they must test. */
const EXEMPTING = ["arnnotequals", "arnnotlike", "stringnotequals", "stringnotlike"];
const PRINCIPAL_ARN = "aws:principalarn";

/**
 * Why a Deny statement does not protect `action` for everyone but a break-glass principal, or
 * undefined when it does. It must deny `action` to `*` on `*`, with no condition (nobody may) or
 * exactly one exemption: `aws:PrincipalArn` not equal to principals named without wildcards.
 */
function gap(s: Statement, action: string): string | undefined {
  if (s.Effect !== "Deny" || !isEveryone(s.Principal)) return "not a Deny to everyone";
  if (!list(s.Action).some((a) => patternsIntersect(a, action))) return "another action";
  if (!list(s.Resource).includes("*")) return 'a Resource other than "*"';
  const blocks = Object.entries(s.Condition ?? {});
  if (blocks.length === 0) return undefined;
  const [op, block] = blocks[0];
  const keys = Object.keys(block);
  if (
    blocks.length !== 1 ||
    !EXEMPTING.includes(op.toLowerCase()) ||
    keys.length !== 1 ||
    keys[0].toLowerCase() !== PRINCIPAL_ARN
  )
    return "a condition other than an aws:PrincipalArn exemption";
  const exempt = list(block[keys[0]] as string | string[]);
  const wild = exempt.find((p) => /[*?]/.test(p));
  if (exempt.length === 0 || wild !== undefined)
    return `an exemption of "${wild ?? ""}", a wildcard that can match many principals`;
  return undefined;
}

/**
 * Customer-managed KMS keys cannot be silently destroyed: the key policy denies
 * `kms:ScheduleKeyDeletion`, `kms:DisableKey`, `kms:PutKeyPolicy`, `kms:UpdateAlias` and
 * `kms:DeleteAlias` to every principal but a break-glass one, named by exact ARN in an
 * `aws:PrincipalArn` exemption; and a scheduled deletion waits the full 30 days. A Deny in the key
 * policy binds account administrators and the root user too, where an IAM policy would not;
 * `PutKeyPolicy` is in the list because it would remove the deny itself, the alias actions because
 * the peer's replication names this key by its alias, and KMS authorizes them against the key
 * policy of the key the alias points to
 * (https://docs.aws.amazon.com/kms/latest/developerguide/alias-access.html).
 *
 * Severity: critical; enforcement: mandatory. Every backup, snapshot and replica this site holds
 * is encrypted with its key: deleting the key deletes them all.
 * https://docs.aws.amazon.com/kms/latest/developerguide/deleting-keys-adding-permission.html
 * https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-overview.html
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalarn
 */
export const drKmsKeyDeletionProtection: ResourceValidationPolicy = {
  name: "dr-kms-key-deletion-protection",
  description:
    "KMS key policies deny deleting, disabling or re-writing the key to all but a break-glass principal.",
  enforcementLevel: "mandatory",
  severity: "critical",
  url: "https://docs.aws.amazon.com/kms/latest/developerguide/deleting-keys-adding-permission.html",
  configSchema,
  validateResource: validateResourceOfType(aws.kms.Key, (key, args, reportViolation) => {
    const cfg = thresholds<Config>(configSchema, args);
    const window = key.deletionWindowInDays ?? 30;
    if (window < cfg.minimumDeletionWindowDays) {
      reportViolation(
        `deletionWindowInDays is ${window}; set it to at least ${cfg.minimumDeletionWindowDays} ` +
          `so that a deletion scheduled by mistake can still be cancelled`,
      );
    }
    if (key.policy === undefined) {
      reportViolation(
        "the key has no policy, so KMS gives it the default one, which lets any account " +
          "administrator schedule its deletion; set a policy that denies " +
          `${cfg.protectedActions.join(", ")} to all but the break-glass principal`,
      );
      return;
    }
    const all = statements(key.policy);
    const unprotected = cfg.protectedActions.filter(
      (action) => !all.some((s) => gap(s, action) === undefined),
    );
    if (unprotected.length === 0) return;
    // The nearest miss, to say what is wrong with it rather than only what is missing.
    const near = all
      .filter((s) => s.Effect === "Deny" && isEveryone(s.Principal))
      .map((s) => gap(s, unprotected[0]))
      .find((g) => g && g !== "another action");
    reportViolation(
      `the key policy does not deny ${unprotected.join(", ")} to all but a break-glass ` +
        `principal${near ? ` (the nearest Deny has ${near})` : ""}: add {"Effect":"Deny",` +
        `"Principal":"*","Action":${JSON.stringify(cfg.protectedActions)},"Resource":"*",` +
        `"Condition":{"ArnNotEquals":{"aws:PrincipalArn":"<break-glass role ARN>"}}}`,
    );
  }),
};
