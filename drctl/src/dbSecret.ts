import type { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { DrctlError, UsageError, explain } from "./errors";

/**
 * Database credentials from AWS Secrets Manager (`DRCTL_DB_SECRET_ARN` / `--db-secret-arn`).
 *
 * The backup CronJobs get an RDS-managed master secret or a login's secret instead of a password
 * in their pod spec: drctl reads it at start and hands the password to pg and to the PostgreSQL
 * programs through the environment only (PGPASSWORD), never argv, never a log line.
 */

/**
 * What an RDS-managed or login secret holds; other keys are ignored. Built on first use, like the
 * SDK client: a run without a secret ARN loads neither.
 */
async function dbSecretSchema() {
  const { z } = await import("zod");
  return z.object({
    username: z.string().min(1),
    password: z.string().min(1),
    host: z.string().min(1).optional(),
    port: z.union([z.number().int().positive(), z.string().regex(/^\d+$/)]).optional(),
    dbname: z.string().min(1).optional(),
    engine: z.string().optional(),
  });
}

export interface DbSecret {
  readonly username: string;
  readonly password: string;
  readonly host?: string;
  readonly port?: number;
  readonly dbname?: string;
}

/** Only `send` is used: tests hand in a mocked client, the CLI a real one. */
export type SecretsClientFactory = (
  region: string | undefined,
) => Pick<SecretsManagerClient, "send"> | Promise<Pick<SecretsManagerClient, "send">>;

export const defaultSecretsClient: SecretsClientFactory = async (region) => {
  const { SecretsManagerClient } = await import("@aws-sdk/client-secrets-manager");
  return new SecretsManagerClient(region ? { region } : {});
};

/** The region of `arn:aws:secretsmanager:<region>:<account>:secret:<name>`, else undefined. */
export function regionFromArn(arn: string): string | undefined {
  const m = /^arn:[^:]+:secretsmanager:([a-z0-9-]+):/.exec(arn);
  return m ? m[1] : undefined;
}

interface AwsErrorLike {
  name?: unknown;
}

/** Turns a GetSecretValue failure into one line saying what to do. */
function secretError(err: unknown, arn: string): Error {
  const name = (
    typeof err === "object" && err !== null ? (err as AwsErrorLike).name : undefined
  ) as string | undefined;
  const prefix = `drctl cannot read secret ${arn}`;
  switch (name) {
    case "AccessDeniedException":
    case "AccessDenied":
      return new DrctlError(
        `${prefix}: access denied; grant secretsmanager:GetSecretValue (and kms:Decrypt via Secrets Manager) to the job's role`,
      );
    case "ResourceNotFoundException":
      return new DrctlError(
        `${prefix}: not found; check DRCTL_DB_SECRET_ARN (or --db-secret-arn) and that the secret exists in region ${regionFromArn(arn) ?? "AWS_REGION"}`,
      );
    case "DecryptionFailure":
      return new DrctlError(
        `${prefix}: cannot decrypt it; grant kms:Decrypt on the secret's KMS key (via Secrets Manager) to the job's role`,
      );
    case "InvalidRequestException":
      return new DrctlError(
        `${prefix}: the secret is not readable (scheduled for deletion or disabled); restore it or point DRCTL_DB_SECRET_ARN at a live secret`,
      );
  }
  return explain(err, prefix);
}

/** Parses the SecretString; the message names the missing or bad field, never the content. */
export async function parseDbSecret(text: string | undefined, arn: string): Promise<DbSecret> {
  if (text === undefined) {
    throw new DrctlError(
      `secret ${arn} has no SecretString (binary secrets are not supported); store JSON with "username" and "password"`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new DrctlError(
      `secret ${arn} is not JSON; store JSON with "username" and "password" (as RDS-managed secrets do)`,
    );
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new DrctlError(
      `secret ${arn} is not a JSON object; store JSON with "username" and "password" (as RDS-managed secrets do)`,
    );
  }
  const result = (await dbSecretSchema()).safeParse(json);
  if (!result.success) {
    const fields = [...new Set(result.error.issues.map((i) => i.path.map(String).join(".")))];
    const missing = fields.filter((f) => !Object.hasOwn(json, f));
    const invalid = fields.filter((f) => Object.hasOwn(json, f));
    const parts: string[] = [];
    if (missing.length > 0) parts.push(`has no ${missing.map((f) => `"${f}"`).join(" or ")} field`);
    if (invalid.length > 0) {
      parts.push(`has an invalid ${invalid.map((f) => `"${f}"`).join(" and ")} field`);
    }
    throw new DrctlError(
      `secret ${arn} ${parts.join(" and ")}; store JSON with a non-empty string "username" and "password" (and "port" as a number, if any)`,
    );
  }
  const s = result.data;
  return {
    username: s.username,
    password: s.password,
    host: s.host,
    port: s.port === undefined ? undefined : Number(s.port),
    dbname: s.dbname,
  };
}

/** Fetches and parses the secret; the region is the ARN's, else AWS_REGION / AWS_DEFAULT_REGION. */
export async function fetchDbSecret(
  arn: string,
  env: NodeJS.ProcessEnv,
  clientFor: SecretsClientFactory = defaultSecretsClient,
): Promise<DbSecret> {
  const region = regionFromArn(arn) ?? (env.AWS_REGION || env.AWS_DEFAULT_REGION || undefined);
  if (region === undefined) {
    throw new UsageError(
      `cannot tell the region of secret "${arn}"; pass its full ARN (arn:aws:secretsmanager:<region>:…) or set AWS_REGION`,
    );
  }
  let text: string | undefined;
  try {
    const { GetSecretValueCommand } = await import("@aws-sdk/client-secrets-manager");
    const client = await clientFor(region);
    const out = await client.send(new GetSecretValueCommand({ SecretId: arn }));
    text = out.SecretString;
  } catch (err) {
    throw secretError(err, arn);
  }
  return parseDbSecret(text, arn);
}

/** Whether a `postgresql://` URL carries a password. An unparsable URL fails later, in resolveTarget. */
function urlHasPassword(url: string | undefined): boolean {
  if (url === undefined || url === "") return false;
  try {
    return new URL(url).password !== "";
  } catch {
    return false;
  }
}

export interface AppliedSecret {
  /** The environment for resolveTarget, pg and the PostgreSQL programs. */
  readonly env: NodeJS.ProcessEnv;
  /** Which PG* variables came from the secret (names only: never the values). */
  readonly applied: string[];
}

/**
 * Layers the secret under what the operator gave explicitly:
 * - a password in `url` or a non-empty PGPASSWORD wins: PGUSER/PGPASSWORD are left alone;
 * - otherwise PGUSER and PGPASSWORD both come from the secret (a password belongs to its user;
 *   a user name in `url` still wins over PGUSER, as libpq does);
 * - host/port/dbname fill PGHOST/PGPORT/PGDATABASE only when that variable is unset and no `url`.
 */
export function applyDbSecret(
  secret: DbSecret,
  env: NodeJS.ProcessEnv,
  url: string | undefined,
): AppliedSecret {
  const out: NodeJS.ProcessEnv = { ...env };
  const applied: string[] = [];
  const explicitPassword = urlHasPassword(url) || (env.PGPASSWORD ?? "") !== "";
  if (!explicitPassword) {
    out.PGUSER = secret.username;
    out.PGPASSWORD = secret.password;
    applied.push("PGUSER", "PGPASSWORD");
  }
  const hasUrl = url !== undefined && url !== "";
  if (!hasUrl) {
    const fill = (name: string, value: string | undefined): void => {
      if (value === undefined || (env[name] ?? "") !== "") return;
      out[name] = value;
      applied.push(name);
    };
    fill("PGHOST", secret.host);
    fill("PGPORT", secret.port === undefined ? undefined : String(secret.port));
    fill("PGDATABASE", secret.dbname);
  }
  return { env: out, applied };
}

/**
 * The environment a command that connects to the source database should use: `env` unchanged
 * without a secret ARN, else with the secret applied (see applyDbSecret). When an explicit
 * password makes the secret useless (a URL with a password), it is not fetched at all.
 */
export async function envWithDbSecret(
  arn: string | undefined,
  env: NodeJS.ProcessEnv,
  url: string | undefined,
  clientFor: SecretsClientFactory = defaultSecretsClient,
): Promise<AppliedSecret> {
  if (arn === undefined || arn === "") return { env, applied: [] };
  if (urlHasPassword(url)) return { env, applied: [] };
  const secret = await fetchDbSecret(arn, env, clientFor);
  return applyDbSecret(secret, env, url);
}
