import type { MasterSecretFields } from "./ports";

/** A site's master secret as preflight read it, with what its host must be. */
export interface SiteSecret {
  readonly site: string;
  /** Where it was read (the site's own region, or its replica's). */
  readonly readIn: string;
  /** The site's RDS instance identifier (naming.dbInstanceIdentifier) and region. */
  readonly dbIdentifier: string;
  readonly region: string;
  readonly secret: MasterSecretFields;
}

/**
 * Every reason the two master secrets would not let the applications and the checks log in to
 * whichever site is primary: host, port and username present; each host the site's own RDS
 * endpoint (`<identifier>.<random>.<region>.rds.amazonaws.com`,
 * https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ConnectToInstance.html); the same
 * port and the same username in both (a replica's logins are its source's: the catalog is
 * replicated). Empty when they agree.
 */
export function masterSecretProblems(a: SiteSecret, b: SiteSecret): string[] {
  const problems: string[] = [];
  for (const s of [a, b]) {
    const where = `${s.site}'s master secret (read in ${s.readIn})`;
    for (const field of ["host", "port", "username"] as const) {
      if (s.secret[field] === undefined || s.secret[field] === "") {
        problems.push(`${where} has no "${field}"; it must hold AWS's RDS secret JSON fields`);
      }
    }
    const host = s.secret.host;
    if (
      host &&
      !(host.startsWith(`${s.dbIdentifier}.`) && host.endsWith(`.${s.region}.rds.amazonaws.com`))
    ) {
      problems.push(
        `${where} has host ${host}, not ${s.site}'s own endpoint (${s.dbIdentifier}.….${s.region}.rds.amazonaws.com)`,
      );
    }
  }
  if (
    a.secret.port !== undefined &&
    b.secret.port !== undefined &&
    a.secret.port !== b.secret.port
  ) {
    problems.push(
      `the master secrets disagree on port: ${a.site} ${a.secret.port}, ${b.site} ${b.secret.port}`,
    );
  }
  if (a.secret.username && b.secret.username && a.secret.username !== b.secret.username) {
    problems.push(
      `the master secrets disagree on username: ${a.site} ${a.secret.username}, ${b.site} ${b.secret.username} ` +
        `(a replica's logins are its source's)`,
    );
  }
  return problems;
}
