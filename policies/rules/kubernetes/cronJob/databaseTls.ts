import * as k8s from "@pulumi/kubernetes";
import { validateResourceOfType, type ResourceValidationPolicy } from "@pulumi/policy";
import { thresholds } from "../../../lib/config";
import { containers, envOf, jobName } from "../../../lib/cronJob";

interface Config {
  rootCertPath: string;
}

const configSchema = {
  properties: {
    rootCertPath: {
      type: "string" as const,
      default: "/etc/drctl/rds-ca.pem",
      description: "Where the drctl image ships the RDS CA bundle (PGSSLROOTCERT).",
    },
  },
};

/** Variables that make libpq (pg_dump, psql) or drctl connect to a database server. */
const CONNECTS = ["PGHOST", "PGHOSTADDR", "PGSERVICE", "PGSSLMODE", "DRCTL_DB_SECRET_ARN"];

/** A server in the pod itself (the drill's scratch PostgreSQL): no network, nothing to verify. */
const isLocal = (host: string | undefined): boolean =>
  host !== undefined && /^(localhost|127\.0\.0\.1|::1|\/.*)$/.test(host);

/**
 * Every CronJob container that connects to the database verifies the server (docs/architecture.md §8):
 * `PGSSLMODE=verify-full` and `PGSSLROOTCERT` the RDS CA bundle the image ships. `require`
 * encrypts but accepts any certificate, so whoever can answer on the database's address (a
 * spoofed DNS answer, a hijacked ENI) gets the backup login's password and the data.
 *
 * Severity: high; enforcement: mandatory. Containers that talk only to a server in their own pod
 * (`PGHOST` localhost or a socket directory) are exempt.
 * https://www.postgresql.org/docs/current/libpq-ssl.html#LIBPQ-SSL-PROTECTION
 * https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.SSL.html
 */
export const drKubernetesCronJobDatabaseTls: ResourceValidationPolicy = {
  name: "dr-kubernetes-cronjob-database-tls",
  description: "CronJobs connect to the database with verify-full TLS against the RDS CA bundle.",
  enforcementLevel: "mandatory",
  severity: "high",
  url: "https://www.postgresql.org/docs/current/libpq-ssl.html#LIBPQ-SSL-PROTECTION",
  configSchema,
  validateResource: validateResourceOfType(k8s.batch.v1.CronJob, (job, args, reportViolation) => {
    const { rootCertPath } = thresholds<Config>(configSchema, args);
    for (const c of containers(job)) {
      const env = envOf(c);
      if (!CONNECTS.some((k) => env.has(k)) || isLocal(env.get("PGHOST"))) continue;
      const at = `CronJob ${jobName(job)} container ${c.name}`;
      const mode = env.get("PGSSLMODE");
      if (mode !== "verify-full") {
        reportViolation(
          `${at} connects to the database with PGSSLMODE ${mode === undefined ? "unset or not a literal" : `"${mode}"`}, ` +
            `which does not verify the server; set PGSSLMODE "verify-full"`,
        );
      }
      const cert = env.get("PGSSLROOTCERT");
      if (cert !== rootCertPath) {
        reportViolation(
          `${at} sets PGSSLROOTCERT ${cert === undefined ? "to no literal value" : `"${cert}"`}; ` +
            `set it to "${rootCertPath}", the RDS CA bundle in the drctl image`,
        );
      }
    }
  }),
};
