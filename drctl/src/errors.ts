/** Exit codes, documented in drctl/README.md. */
export const EXIT = {
  ok: 0,
  failed: 1,
  breached: 2,
  usage: 64,
} as const;

/**
 * An error a person caused or can fix: printed as one line (what went wrong, what to do next),
 * never with a stack trace, and mapped to a documented exit code.
 */
export class DrctlError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failed,
  ) {
    super(message);
    this.name = "DrctlError";
  }
}

/** Unknown command or flag, or a bad flag value (exit 64). */
export class UsageError extends DrctlError {
  constructor(message: string) {
    super(message, EXIT.usage);
    this.name = "UsageError";
  }
}

/** A checksum, archive or row-count check failed (exit 2). */
export class VerificationError extends DrctlError {
  constructor(message: string) {
    super(message, EXIT.breached);
    this.name = "VerificationError";
  }
}

interface ErrorLike {
  code?: unknown;
  /** Set by node-postgres on errors the server reported (ERROR, FATAL). */
  severity?: unknown;
  name?: unknown;
  message?: unknown;
  $metadata?: { httpStatusCode?: number };
}

/**
 * Turns the errors that a person's setup causes (unreachable host, bad password, missing database,
 * denied bucket) into one-line DrctlErrors. `what` names the thing being talked to, e.g.
 * "database 127.0.0.1:5432/app" or "store s3://bucket/prefix".
 */
export function explain(err: unknown, what: string): Error {
  if (err instanceof DrctlError) return err;
  const e = (typeof err === "object" && err !== null ? err : {}) as ErrorLike;
  const code = typeof e.code === "string" ? e.code : undefined;
  const name = typeof e.name === "string" ? e.name : undefined;
  const msg = typeof e.message === "string" ? e.message : String(err);
  const status = e.$metadata?.httpStatusCode;
  switch (code) {
    case "ECONNREFUSED":
      return new DrctlError(
        `${what}: connection refused; check the host and port, and that it is up`,
      );
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return new DrctlError(`${what}: host name does not resolve; check the host in the URL`);
    case "ETIMEDOUT":
      return new DrctlError(`${what}: connection timed out; check the network path and firewall`);
    case "ENETUNREACH":
    case "EHOSTUNREACH":
      return new DrctlError(
        `${what}: no route to the host; check the host in the URL and the network path (routes, security groups)`,
      );
    case "ENOSPC":
      return new DrctlError(
        `${what}: no space left on device (${msg}); free space or use a larger volume`,
      );
    case "28P01":
    case "28000":
      return new DrctlError(
        `${what}: authentication failed (${msg}); check the user and password (PGPASSWORD or the URL)`,
      );
    case "3D000":
      return new DrctlError(`${what}: ${msg}; check the database name in the URL`);
    case "42501":
      return new DrctlError(
        `${what}: ${msg}; the login needs the privilege (for backups: pg_read_all_data, see the README)`,
      );
    case "EACCES":
    case "EPERM":
      return new DrctlError(`${what}: permission denied (${msg}); check the path's permissions`);
  }
  // node-postgres' own connection errors carry no code: match their messages.
  if (/^timeout expired$|connection timeout/i.test(msg)) {
    return new DrctlError(
      `${what}: no answer within the connect deadline (DRCTL_CONNECT_TIMEOUT, default 10 s); ` +
        `check that the host is up and reachable (a regional outage looks like this)`,
    );
  }
  if (/^Connection terminated unexpectedly$/.test(msg)) {
    return new DrctlError(
      `${what}: the server closed the connection before it was ready; check the host and port ` +
        `(is it PostgreSQL?), TLS settings (PGSSLMODE) and the server's log`,
    );
  }
  if (/password must be a string/i.test(msg)) {
    return new DrctlError(
      `${what}: the server asks for a password and none was given; set PGPASSWORD, ` +
        `DRCTL_DB_SECRET_ARN, or a ~/.pgpass file (a password in the URL works but shows in argv)`,
    );
  }
  // Any other error the server reported is a one-line fact about the database, not a bug here.
  if (typeof e.severity === "string" && code !== undefined) {
    return new DrctlError(`${what ? `${what}: ` : ""}${msg} (SQLSTATE ${code})`);
  }
  if (name === "AccessDenied" || status === 403) {
    return new DrctlError(
      `${what}: access denied; check the credentials and the bucket policy (it may require --sse-kms-key-id)`,
    );
  }
  if (name === "NoSuchBucket") {
    return new DrctlError(`${what}: the bucket does not exist; check the bucket name in --store`);
  }
  if (name === "CredentialsProviderError") {
    return new DrctlError(
      `${what}: no AWS credentials found; set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY`,
    );
  }
  return err instanceof Error ? err : new Error(msg);
}
