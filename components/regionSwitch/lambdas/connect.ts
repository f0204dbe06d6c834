import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { Client } from "pg";

/**
 * How the plan's functions reach their own site's database: host, port and database from the
 * function's environment (the stack sets them from the instance it declares, whose endpoint a
 * promotion does not change), the login from the site's master secret in the function's own
 * region. Every call is bounded, so a database that does not answer costs the step its deadline
 * and no more.
 */
export interface DbTarget {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  readonly password: string;
}

/** The bounds of one function run, in milliseconds. */
export interface Bounds {
  /** TCP connect plus TLS plus startup. */
  readonly connectMs: number;
  /** Each statement, enforced by the server (statement_timeout) and by the client (query_timeout). */
  readonly statementMs: number;
}

/** The environment a function reads; names are the stack's (components/regionSwitch/functions.ts). */
export interface FunctionEnv {
  readonly DB_HOST?: string;
  readonly DB_PORT?: string;
  readonly DB_NAME?: string;
  readonly DB_SECRET_ID?: string;
  readonly SMOKE_SQL?: string;
}

/** A required variable, or an error that names it (a stack that set the function up wrong). */
export function required(env: FunctionEnv, key: keyof FunctionEnv): string {
  const v = env[key];
  if (v === undefined || v === "") {
    throw new Error(
      `${key} is not set; the stack sets it on the function (redeploy the site's stack)`,
    );
  }
  return v;
}

/**
 * The master secret's login. The secret is JSON `{"username","password",...}` (RDS's documented
 * structure for a database secret also carries host and port; the environment's are used, so a
 * secret written before those keys existed works too).
 * https://docs.aws.amazon.com/secretsmanager/latest/userguide/reference_secret_json_structure.html
 */
export async function readLogin(
  secrets: SecretsManagerClient,
  secretId: string,
  deadlineMs: number,
): Promise<{ user: string; password: string }> {
  const out = await secrets.send(new GetSecretValueCommand({ SecretId: secretId }), {
    abortSignal: AbortSignal.timeout(deadlineMs),
  });
  const parsed = JSON.parse(out.SecretString ?? "{}") as { username?: string; password?: string };
  if (!parsed.username || !parsed.password) {
    throw new Error(
      `secret ${secretId} has no username and password; expected {"username","password"}`,
    );
  }
  return { user: parsed.username, password: parsed.password };
}

/**
 * A connected client, TLS verified against the host name (the equivalent of
 * sslmode=verify-full). The Lambda runtime trusts the RDS certificate authorities when
 * NODE_EXTRA_CA_CERTS names its bundle, which the stack sets
 * (https://docs.aws.amazon.com/lambda/latest/dg/lambda-nodejs.html#nodejs-certificate-loading).
 * `tls: false` is for the tests' loopback server only.
 */
export async function connect(
  target: DbTarget,
  bounds: Bounds,
  tls: boolean = true,
): Promise<Client> {
  const client = new Client({
    host: target.host,
    port: target.port,
    database: target.database,
    user: target.user,
    password: target.password,
    ssl: tls ? { rejectUnauthorized: true, servername: target.host } : false,
    connectionTimeoutMillis: bounds.connectMs,
    query_timeout: bounds.statementMs,
    statement_timeout: bounds.statementMs,
    // ALTER DATABASE waits for a lock; a session holding it must not hold the step past its bound.
    lock_timeout: bounds.statementMs,
    application_name: "dr-stack region switch",
  });
  // An ended session (pg_terminate_backend, a reboot) emits 'error'; without a listener the
  // function would crash instead of reporting.
  client.on("error", () => undefined);
  await client.connect();
  return client;
}

/** The target the environment names, with the login from its secret. */
export async function targetFromEnv(
  env: FunctionEnv,
  secrets: SecretsManagerClient,
  deadlineMs: number,
): Promise<DbTarget> {
  const login = await readLogin(secrets, required(env, "DB_SECRET_ID"), deadlineMs);
  return {
    host: required(env, "DB_HOST"),
    port: Number(required(env, "DB_PORT")),
    database: required(env, "DB_NAME"),
    ...login,
  };
}

/** The message of anything thrown, on one line. */
export const messageOf = (e: unknown): string =>
  (e instanceof Error ? e.message : String(e)).replace(/\s+/g, " ").trim();
