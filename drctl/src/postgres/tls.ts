import { readFileSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import type { ClientConfig } from "pg";
import { UsageError } from "../errors";

/**
 * libpq's TLS settings turned into node-postgres `ssl` options, so that drctl's own connections
 * (catalog queries, restore checks, restore-test, failover) verify the server exactly as the
 * PostgreSQL programs it runs (pg_dump, pg_restore, psql) do. node-postgres does not implement
 * libpq's semantics itself: PGSSLROOTCERT is never read, and any PGSSLMODE but `disable` becomes
 * "TLS, verified against Node's public roots" (https://github.com/brianc/node-postgres/issues/2723;
 * node_modules/pg/lib/connection-parameters.js readSSLConfigFromEnvironment). So every drctl
 * connection passes `ssl` explicitly — never undefined, which would let pg read process.env.
 *
 * Modes (https://www.postgresql.org/docs/current/libpq-ssl.html, table "SSL Mode Descriptions";
 * https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-CONNECT-SSLMODE):
 * - `verify-full`: TLS, chain checked against the root certificate, host name checked.
 * - `verify-ca`: TLS, chain checked, host name not.
 * - `require`: TLS without any check — unless a root certificate file exists, when libpq behaves
 *   as `verify-ca` ("for backwards compatibility", libpq-connect.html, sslmode).
 * - `disable`: plain text.
 * - `allow` and `prefer` (libpq's default when nothing is set) let libpq retry the other way when
 *   the first attempt fails; node-postgres decides TLS once, before it knows what the server
 *   offers. drctl connects WITHOUT TLS in both: that is libpq's own first attempt under `allow`,
 *   and what `prefer` ends up with against a server without TLS (the test clusters, a local
 *   scratch server). Neither mode authenticates the server in libpq either — an attacker in the
 *   middle downgrades `prefer` at will — so nothing that relies on TLS may use them; a server that
 *   requires TLS (RDS with rds.force_ssl) refuses the connection instead of being reached in
 *   clear. Set `require` or, better, `verify-full` to get TLS.
 *
 * Sources, in libpq's order: the URL's `sslmode` / `sslrootcert` query parameters win over
 * PGSSLMODE / PGSSLROOTCERT. The root certificate defaults to ~/.postgresql/root.crt, and
 * `sslrootcert=system` (libpq 16+) means the platform's trusted roots (Node's bundled Mozilla
 * store here) and allows only verify-full. drctl's own connections send no client certificate
 * (sslcert/sslkey; RDS does not authenticate with them): a server that demands one refuses them.
 */

export const SSL_MODES = [
  "disable",
  "allow",
  "prefer",
  "require",
  "verify-ca",
  "verify-full",
] as const;
export type SslMode = (typeof SSL_MODES)[number];

/** Where the drctl image keeps the RDS CA bundle (drctl/Dockerfile; database TLS: docs/architecture.md §8). */
export const IMAGE_RDS_CA_PATH = "/etc/drctl/rds-ca.pem";
/** Where the RDS CA bundle is published (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.SSL.html). */
export const RDS_CA_BUNDLE_URL =
  "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem";

/** A setting's value and where it came from, for messages ("PGSSLMODE", "sslmode in --database-url"). */
interface Sourced<T> {
  readonly value: T;
  readonly from: string;
}

export interface LibpqTls {
  readonly mode: Sourced<SslMode>;
  /** A file path, or "system"; `from` says which variable or default named it. */
  readonly rootCert: Sourced<string>;
}

/**
 * URL query parameters that node-postgres's connection-string parser (pg-connection-string) turns
 * into an `ssl` object of its own, which then REPLACES the explicit `ssl` option: pg builds its
 * config as Object.assign({}, config, parse(connectionString)). `sslmode` alone gives `ssl: {}`
 * (TLS verified against Node's roots, whatever the mode says); `sslrootcert` is read without our
 * error handling. They are stripped from what pg sees; pg_dump still gets them (dbnameArg).
 */
const PG_SSL_PARAMS = ["ssl", "sslmode", "sslrootcert", "sslcert", "sslkey", "uselibpqcompat"];

/** The URL for node-postgres: without the TLS parameters its parser would act on. */
export function withoutSslParams(url: string): string {
  const parsed = new URL(url);
  const present = PG_SSL_PARAMS.filter((p) => parsed.searchParams.has(p));
  // Only when present: rewriting the query re-encodes the other parameters (a space as "+").
  if (present.length === 0) return url;
  for (const p of present) parsed.searchParams.delete(p);
  return parsed.toString();
}

/** The effective libpq settings of a connection given by `url` (if any) and `env`. */
export function libpqTls(env: NodeJS.ProcessEnv, url?: URL, flag = "the connection URL"): LibpqTls {
  const param = (name: string): Sourced<string> | undefined => {
    const v = url?.searchParams.get(name);
    return v ? { value: v, from: `${name} in ${flag}` } : undefined;
  };
  const fromEnv = (name: string): Sourced<string> | undefined => {
    const v = env[name];
    return v ? { value: v, from: name } : undefined;
  };
  const rootCert = param("sslrootcert") ??
    fromEnv("PGSSLROOTCERT") ?? {
      value: join(homedir(), ".postgresql", "root.crt"),
      from: "libpq's default root certificate (set PGSSLROOTCERT)",
    };
  const rawMode = param("sslmode") ?? fromEnv("PGSSLMODE");
  if (rawMode && !(SSL_MODES as readonly string[]).includes(rawMode.value)) {
    throw new UsageError(
      `${rawMode.from} is "${rawMode.value}", which is not a libpq sslmode; expected one of ` +
        `${SSL_MODES.join(", ")} (verify-full with the RDS CA bundle for RDS)`,
    );
  }
  const system = rootCert.value === "system";
  const mode: Sourced<SslMode> = rawMode
    ? { value: rawMode.value as SslMode, from: rawMode.from }
    : { value: system ? "verify-full" : "prefer", from: "libpq's default sslmode" };
  if (system && mode.value !== "verify-full") {
    // libpq-connect.html, sslrootcert: "any weaker setting will result in an error".
    throw new UsageError(
      `${rootCert.from} is "system", which libpq allows only with sslmode verify-full, but ` +
        `${mode.from} is "${mode.value}"; set sslmode=verify-full`,
    );
  }
  return { mode, rootCert };
}

/** The fixed settings of the failover orchestrator's master-credential sessions (database TLS, docs/architecture.md §8). */
export function rdsVerifyFull(env: NodeJS.ProcessEnv): LibpqTls {
  const named = env.PGSSLROOTCERT;
  return {
    mode: { value: "verify-full", from: "always, for drctl failover's master-credential sessions" },
    rootCert: named
      ? { value: named, from: "PGSSLROOTCERT" }
      : { value: IMAGE_RDS_CA_PATH, from: "drctl's default RDS CA bundle (set PGSSLROOTCERT)" },
  };
}

function noRootCert(tls: LibpqTls, why: string): UsageError {
  return new UsageError(
    `sslmode ${tls.mode.value} (${tls.mode.from}) needs the CA certificate that signed the ` +
      `server's, but ${tls.rootCert.from} names ${tls.rootCert.value}, which ${why}; for RDS ` +
      `download ${RDS_CA_BUNDLE_URL} and set PGSSLROOTCERT to it, or run drctl's image, which ` +
      `ships it at ${IMAGE_RDS_CA_PATH}`,
  );
}

/**
 * Reads the root certificate file, or says why libpq would take it as absent: libpq
 * stat()s the file and, when that fails, verifies nothing under `require` and refuses under
 * verify-*; a file that exists but cannot be read fails in every mode ("could not read root
 * certificate file"; postgres/postgres src/interfaces/libpq/fe-secure-openssl.c, initialize_SSL).
 */
function readRootCert(tls: LibpqTls): { ca: string } | { absent: string } {
  const path = tls.rootCert.value;
  try {
    statSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { absent: code === "ENOENT" ? "does not exist" : `cannot be found (${code})` };
  }
  try {
    return { ca: readFileSync(path, "utf8") };
  } catch (err) {
    throw noRootCert(tls, `cannot be read (${(err as NodeJS.ErrnoException).code})`);
  }
}

/** The node-postgres `ssl` option for these settings: never undefined (see above). */
export function nodePgSsl(tls: LibpqTls): NonNullable<ClientConfig["ssl"]> {
  const mode = tls.mode.value;
  if (mode === "disable" || mode === "allow" || mode === "prefer") return false;
  // "system": Node's default trusted roots, so no `ca`; only verify-full gets here (libpqTls).
  if (tls.rootCert.value === "system") return { rejectUnauthorized: true };
  const root = readRootCert(tls);
  if ("absent" in root) {
    if (mode === "require") return { rejectUnauthorized: false };
    throw noRootCert(tls, root.absent);
  }
  const { ca } = root;
  if (mode === "verify-full") {
    // pg hands tls.connect the host (and, for a name, servername), so Node checks the name.
    return { ca, rejectUnauthorized: true };
  }
  // verify-ca, and require with a root certificate present: the chain, not the name.
  return { ca, rejectUnauthorized: true, checkServerIdentity: () => undefined };
}

/** Shorthand: the `ssl` option for a connection given by `url` (if any) and `env`. */
export function sslFor(
  env: NodeJS.ProcessEnv,
  url?: URL,
  flag?: string,
): NonNullable<ClientConfig["ssl"]> {
  return nodePgSsl(libpqTls(env, url, flag));
}
