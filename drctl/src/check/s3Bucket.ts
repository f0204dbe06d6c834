import type * as S3 from "@aws-sdk/client-s3";
import type { S3Client } from "@aws-sdk/client-s3";
import { TIERS } from "../manifest";
import type { ObjectLock } from "../store/s3";
import { errorText, fail, ok, type CheckLine } from "./line";

/** What the bucket lines need to know about the store. */
export interface BucketUnderCheck {
  readonly bucket: string;
  /** The store's prefix inside the bucket, "" for the whole bucket. */
  readonly prefix: string;
  /** DRCTL_SSE_KMS_KEY_ID, when set: the key every write names. */
  readonly sseKmsKeyId?: string;
  /** DRCTL_OBJECT_LOCK_MODE/DAYS, when set: the retention every write names. */
  readonly objectLock?: ObjectLock;
}

interface AwsError {
  name?: string;
  $metadata?: { httpStatusCode?: number };
}

const errName = (err: unknown): string | undefined => (err as AwsError).name;
const status = (err: unknown): number | undefined => (err as AwsError).$metadata?.httpStatusCode;

/**
 * A one-key listing under the store's daily/ prefix: the backup jobs may list only under their
 * prefixes (HeadBucket would need s3:ListBucket without that condition). A bucket that does not
 * exist answers 404 NoSuchBucket, a denied one 403
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html).
 */
export async function bucketReachable(
  s3: typeof S3,
  client: S3Client,
  b: BucketUnderCheck,
  url: string,
): Promise<CheckLine> {
  try {
    await client.send(
      new s3.ListObjectsV2Command({
        Bucket: b.bucket,
        Prefix: `${b.prefix ? `${b.prefix}/` : ""}daily/`,
        MaxKeys: 1,
      }),
    );
    return ok("store", `${url}: bucket ${b.bucket} exists and answers`);
  } catch (err) {
    if (errName(err) === "NotFound" || errName(err) === "NoSuchBucket" || status(err) === 404) {
      return fail(
        "store",
        `${url}: bucket ${b.bucket} does not exist`,
        "check the bucket name in --store / DRCTL_STORE (the stack's output backupBucketName)",
      );
    }
    if (errName(err) === "Forbidden" || status(err) === 403) {
      return fail(
        "store",
        `${url}: access to bucket ${b.bucket} denied`,
        "check the credentials (AWS_PROFILE, the job's IAM role) and that the bucket is this account's",
      );
    }
    return fail("store", `${url}: ${errorText(err)}`, "check the endpoint and the network path");
  }
}

/**
 * Versioning, Object Lock with a default retention, and the bucket policy's create-only rule:
 * together they make a committed backup impossible to overwrite or delete with the jobs'
 * credentials (docs/architecture.md §4). Returns the lines and whether Object Lock is on (the
 * probe then stays where it was written).
 */
export async function bucketProtection(
  s3: typeof S3,
  client: S3Client,
  b: BucketUnderCheck,
): Promise<{ lines: CheckLine[]; locked: boolean }> {
  const lines: CheckLine[] = [];
  // Status is absent for a bucket whose versioning was never enabled
  // (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketVersioning.html).
  try {
    const v = await client.send(new s3.GetBucketVersioningCommand({ Bucket: b.bucket }));
    lines.push(
      v.Status === "Enabled"
        ? ok("versioning", "enabled")
        : fail(
            "versioning",
            `${v.Status === undefined ? "never enabled" : v.Status.toLowerCase()} on ${b.bucket}`,
            "Object Lock needs versioning: deploy the stack's backup bucket (pulumi up), which enables it",
          ),
    );
  } catch (err) {
    lines.push(fail("versioning", errorText(err), "allow s3:GetBucketVersioning on the bucket"));
  }

  // A bucket without Object Lock answers 404 ObjectLockConfigurationNotFoundError
  // (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html, ErrorCodeList;
  // https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObjectLockConfiguration.html).
  let locked = false;
  try {
    const out = await client.send(new s3.GetObjectLockConfigurationCommand({ Bucket: b.bucket }));
    const config = out.ObjectLockConfiguration;
    locked = config?.ObjectLockEnabled === "Enabled";
    const retention = config?.Rule?.DefaultRetention;
    if (!locked) {
      lines.push(noLock(b.bucket));
    } else if (retention?.Mode === undefined) {
      lines.push(
        fail(
          "object-lock",
          `enabled on ${b.bucket} without a default retention: an object written without retention ` +
            `headers can be deleted at once`,
          "set a default retention (the stack's backup bucket sets one per its retention days) and pulumi up",
        ),
      );
    } else {
      const period =
        retention.Days !== undefined ? `${retention.Days} days` : `${retention.Years} years`;
      const perObject = b.objectLock
        ? `; drctl sets ${b.objectLock.mode} ${b.objectLock.days} days on each object`
        : "";
      lines.push(ok("object-lock", `default retention ${retention.Mode} ${period}${perObject}`));
    }
  } catch (err) {
    if (errName(err) === "ObjectLockConfigurationNotFoundError") lines.push(noLock(b.bucket));
    else {
      lines.push(
        fail(
          "object-lock",
          errorText(err),
          "allow s3:GetBucketObjectLockConfiguration on the bucket",
        ),
      );
    }
  }

  lines.push(await createOnlyRule(s3, client, b));
  return { lines, locked };
}

function noLock(bucket: string): CheckLine {
  return fail(
    "object-lock",
    `bucket ${bucket} has no Object Lock: anyone holding delete rights can erase committed backups`,
    "point DRCTL_STORE at the stack's backup bucket, which is created with Object Lock and a default retention",
  );
}

interface Statement {
  Effect?: string;
  Action?: string | string[];
  Resource?: string | string[];
  Condition?: Record<string, Record<string, unknown>>;
}

const list = (v: string | string[] | undefined): string[] =>
  v === undefined ? [] : Array.isArray(v) ? v : [v];

/** An IAM-style wildcard (`*`, `?`) as an anchored regular expression. */
function wildcard(pattern: string): RegExp {
  const escaped = pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`^${escaped.replace(/\*/g, ".*").replace(/\?/g, ".")}$`);
}

/**
 * The rule that makes every create under the tier prefixes conditional: a Deny of s3:PutObject
 * when the `s3:if-none-match` key is Null, as the S3 user guide's "Enforce conditional writes on
 * Amazon S3 buckets" writes it
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes-enforce.html).
 * A bucket without a policy answers NoSuchBucketPolicy
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketPolicy.html).
 */
async function createOnlyRule(
  s3: typeof S3,
  client: S3Client,
  b: BucketUnderCheck,
): Promise<CheckLine> {
  const fix =
    "deploy the stack's backup bucket policy (pulumi up), which denies s3:PutObject without If-None-Match under each tier prefix";
  let text: string | undefined;
  try {
    text = (await client.send(new s3.GetBucketPolicyCommand({ Bucket: b.bucket }))).Policy;
  } catch (err) {
    if (errName(err) === "NoSuchBucketPolicy") {
      return fail("create-only", `bucket ${b.bucket} has no bucket policy`, fix);
    }
    return fail("create-only", errorText(err), "allow s3:GetBucketPolicy on the bucket");
  }
  const statements = (JSON.parse(text ?? "{}") as { Statement?: Statement | Statement[] })
    .Statement;
  const rules = (Array.isArray(statements) ? statements : statements ? [statements] : []).filter(
    (s) =>
      s.Effect === "Deny" &&
      list(s.Action).some((a) => wildcard(a).test("s3:PutObject")) &&
      String(s.Condition?.Null?.["s3:if-none-match"]) === "true",
  );
  const base = b.prefix ? `${b.prefix}/` : "";
  const uncovered = TIERS.filter(
    (tier) =>
      !rules.some((s) =>
        list(s.Resource).some((r) =>
          wildcard(r).test(`arn:aws:s3:::${b.bucket}/${base}${tier}/x/manifest.json`),
        ),
      ),
  );
  if (uncovered.length > 0) {
    return fail(
      "create-only",
      `the bucket policy does not deny unconditional writes under ${uncovered.map((t) => `${base}${t}/`).join(", ")}`,
      fix,
    );
  }
  return ok(
    "create-only",
    `the bucket policy denies s3:PutObject without If-None-Match under ${TIERS.map((t) => `${base}${t}/`).join(", ")}`,
  );
}

/**
 * The probe as S3 stored it: SSE-KMS with the expected key. The probe's PutObject needed
 * kms:GenerateDataKey and its read-back kms:Decrypt, so a probe read back under KMS proves the key
 * usable by these credentials (https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html,
 * "Permissions"). HeadObject returns ServerSideEncryption and SSEKMSKeyId (the key's ARN)
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html).
 */
export async function kmsLine(
  s3: typeof S3,
  client: S3Client,
  b: BucketUnderCheck,
  probeKey: string,
): Promise<CheckLine> {
  const key = b.prefix ? `${b.prefix}/${probeKey}` : probeKey;
  let head;
  try {
    head = await client.send(new s3.HeadObjectCommand({ Bucket: b.bucket, Key: key }));
  } catch (err) {
    return fail("kms", errorText(err), "allow s3:GetObject on reports/check/");
  }
  const fix =
    "set DRCTL_SSE_KMS_KEY_ID to the site's backup key (the stack output kmsKeyArn) and give the job kms:GenerateDataKey and kms:Decrypt on it";
  if (head.ServerSideEncryption !== "aws:kms" && head.ServerSideEncryption !== "aws:kms:dsse") {
    return fail(
      "kms",
      `the probe was stored with ${head.ServerSideEncryption ?? "no"} encryption, not SSE-KMS`,
      fix,
    );
  }
  const stored = head.SSEKMSKeyId ?? "";
  // The setting may name the key by id or ARN; S3 reports the ARN.
  if (b.sseKmsKeyId !== undefined && !stored.endsWith(b.sseKmsKeyId.replace(/^.*:key\//, ""))) {
    return fail(
      "kms",
      `the probe was encrypted with ${stored}, not DRCTL_SSE_KMS_KEY_ID ${b.sseKmsKeyId}`,
      fix,
    );
  }
  return ok("kms", `the probe was encrypted with ${stored} and read back: the key is usable`);
}
