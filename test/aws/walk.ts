import type { RegisteredResource, StackRun } from "../support/mockRun";
import type { StackName } from "../support/stackFiles";

/**
 * The first deployment of two stacks that name each other, as a walk: each step is one
 * `pulumi up`; every reference a step makes into the other region (an ARN or name of a peer
 * resource in a resource's inputs, or a provider lookup such as `aws.kms.getAlias`) must name
 * something an earlier step created. AWS refuses the rest at create time (a replication
 * destination bucket, a KMS key, a source DB instance, a copy-target vault, a secret to read).
 */

export interface Step {
  readonly label: string;
  readonly stack: StackName;
  /** Config overrides (keys without `dr-stack:`) for this `pulumi up`. */
  readonly overrides: Record<string, unknown>;
}

/** Before step 3 no stack has a Region switch plan; before step 5 no record has its check. */
const NO_PLAN = { regionSwitch: undefined };
const NOT_PINNED = { regionSwitch: { healthCheckIds: undefined } };

/**
 * docs/first-deployment.md: primary without peer links, then the standby, then the links and the
 * plan (its owner, use1, first: the other stack's access entry names its execution role), then
 * the standby's half of the plan, then both with the health checks Region switch made, pinned.
 */
export const DOCUMENTED_SEQUENCE: readonly Step[] = [
  {
    label: "1. primary, peerLinks false",
    stack: "primary",
    overrides: { peerLinks: false, ...NO_PLAN },
  },
  { label: "2. dr as standby", stack: "dr", overrides: NO_PLAN },
  {
    label: "3. primary, peerLinks true, the plan",
    stack: "primary",
    overrides: { peerLinks: true, ...NOT_PINNED },
  },
  { label: "4. dr, its half of the plan", stack: "dr", overrides: NOT_PINNED },
  { label: "5. primary, health checks pinned", stack: "primary", overrides: {} },
  { label: "6. dr, health checks pinned", stack: "dr", overrides: {} },
];

export interface Reference {
  readonly from: string;
  /** Canonical form: an ARN, `alias:<region>:<name>`, `secret:<region>:<name>`, `alarm:<region>:<name>`. */
  readonly ref: string;
}

const DATA_ARN = /^arn:[a-z-]+:(s3|kms|rds|backup|secretsmanager):[^*]*$/;

/** Fields that hold policy documents: IAM and S3 never check that what they name exists. */
const POLICY_FIELDS = new Set(["policy", "assumeRolePolicy"]);

function strings(v: unknown, key = ""): string[] {
  if (POLICY_FIELDS.has(key)) return [];
  if (typeof v === "string") return [v];
  if (Array.isArray(v)) return v.flatMap((x) => strings(x));
  if (v && typeof v === "object")
    return Object.entries(v as Record<string, unknown>).flatMap(([k, x]) => strings(x, k));
  return [];
}

/**
 * A secret's ARN ends in `-` and six random characters Secrets Manager adds; it names the
 * secret `<name>` in its region.
 */
function canonical(arn: string): string {
  const m = /^arn:[^:]+:secretsmanager:([^:]+):\d{12}:secret:(.+)-[A-Za-z0-9]{6}$/.exec(arn);
  return m ? `secret:${m[1]}:${m[2]}` : arn;
}

const regionOf = (r: RegisteredResource, fallback: string) =>
  (r.inputs.region as string | undefined) ?? fallback;

/** Everything a run creates, in the canonical forms references use. */
export function createdBy(
  run: StackRun,
  region: string,
  accountId: string,
  partition = "aws",
): Set<string> {
  const out = new Set<string>();
  for (const r of run.resources) {
    const rg = regionOf(r, region);
    switch (r.type) {
      case "aws:s3/bucket:Bucket":
        out.add(`arn:${partition}:s3:::${r.inputs.bucket ?? r.id}`);
        break;
      case "aws:kms/key:Key":
        out.add(`arn:${partition}:kms:${rg}:${accountId}:key/${r.id}`);
        break;
      case "aws:kms/alias:Alias":
        out.add(`arn:${partition}:kms:${rg}:${accountId}:${r.inputs.name}`);
        out.add(`alias:${rg}:${r.inputs.name}`);
        break;
      case "aws:rds/instance:Instance":
        out.add(`arn:${partition}:rds:${rg}:${accountId}:db:${r.inputs.identifier}`);
        break;
      case "aws:backup/vault:Vault":
        out.add(`arn:${partition}:backup:${rg}:${accountId}:backup-vault:${r.inputs.name}`);
        break;
      case "aws:secretsmanager/secret:Secret":
        out.add(`secret:${rg}:${r.inputs.name}`);
        for (const replica of (r.inputs.replicas ?? []) as Array<{ region: string }>)
          out.add(`secret:${replica.region}:${r.inputs.name}`);
        break;
      case "aws:cloudwatch/metricAlarm:MetricAlarm":
        out.add(`alarm:${rg}:${r.inputs.name}`);
        break;
      case "aws:iam/role:Role":
        out.add(`arn:${partition}:iam::${accountId}:role/${r.inputs.name ?? r.id}`);
        break;
    }
  }
  return out;
}

/** The data references a run makes, from resource inputs and provider lookups. */
export function referencesOf(run: StackRun, region: string): Reference[] {
  const refs: Reference[] = [];
  for (const r of run.resources) {
    if (r.type.startsWith("aws:iam/")) continue;
    // The Kubernetes API stores a pod template's environment as text; nothing checks that an ARN
    // a CronJob is told about exists (the job itself finds out when it runs).
    if (r.type.startsWith("kubernetes:")) continue;
    for (const s of strings(r.inputs)) {
      if (DATA_ARN.test(s)) refs.push({ from: `${r.type} ${r.name}`, ref: canonical(s) });
    }
    // EKS refuses an access entry for a principal that does not exist yet.
    // https://docs.aws.amazon.com/eks/latest/APIReference/API_CreateAccessEntry.html
    if (r.type === "aws:eks/accessEntry:AccessEntry" && /:role\//.test(r.inputs.principalArn)) {
      refs.push({ from: `${r.type} ${r.name}`, ref: r.inputs.principalArn as string });
    }
    if (r.type === "aws:route53/healthCheck:HealthCheck" && r.inputs.cloudwatchAlarmName) {
      refs.push({
        from: `${r.type} ${r.name}`,
        ref: `alarm:${r.inputs.cloudwatchAlarmRegion ?? region}:${r.inputs.cloudwatchAlarmName}`,
      });
    }
  }
  for (const call of run.invokes) {
    const rg = (call.inputs.region as string | undefined) ?? region;
    if (call.token === "aws:kms/getAlias:getAlias")
      refs.push({ from: `invoke ${call.token}`, ref: `alias:${rg}:${call.inputs.name}` });
    if (call.token === "aws:secretsmanager/getSecretVersion:getSecretVersion") {
      // A secret is named by its name (in the call's region) or by its ARN.
      const id = String(call.inputs.secretId);
      const ref = id.startsWith("arn:") ? canonical(id) : `secret:${rg}:${id}`;
      refs.push({ from: `invoke ${call.token}`, ref });
    }
  }
  return refs;
}

export interface StepResult {
  readonly step: Step;
  /** `<step>: <from> references <ref>, which no earlier step created`, sorted. */
  readonly missing: string[];
}

/**
 * Walks the steps. `run(step)` does the mocked `pulumi up`; `site(stack)` gives its region;
 * `existing` is what exists before the first step (the deploying role). The state after a step is
 * the newest run of each stack (what its last `up` left).
 */
export async function walk(
  steps: readonly Step[],
  run: (step: Step) => Promise<StackRun>,
  site: (stack: StackName) => { region: string; accountId: string },
  existing: ReadonlySet<string> = new Set(),
): Promise<StepResult[]> {
  const latest = new Map<StackName, Set<string>>([["before" as StackName, new Set(existing)]]);
  const results: StepResult[] = [];
  for (const step of steps) {
    const r = await run(step);
    const { region, accountId } = site(step.stack);
    const own = createdBy(r, region, accountId);
    const earlier = new Set<string>(
      [...latest.entries()].filter(([s]) => s !== step.stack).flatMap(([, set]) => [...set]),
    );
    const missing = referencesOf(r, region)
      .filter((x) => !own.has(x.ref) && !earlier.has(x.ref))
      .map((x) => `${step.label}: ${x.from} references ${x.ref}, which no earlier step created`);
    results.push({ step, missing: [...new Set(missing)].sort() });
    latest.set(step.stack, own);
  }
  return results;
}
