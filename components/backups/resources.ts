/**
 * CPU, memory and node-disk budgets of the backup CronJobs' containers, as functions of the
 * parallel jobs (`jobs.parallelJobs`, env DRCTL_JOBS, parallel jobs and scratch: docs/architecture.md §5).
 *
 * `pg_dump -j N` runs a leader and N workers, N + 1 processes, each holding one connection
 * ("pg_dump will open njobs + 1 connections to the database",
 * https://www.postgresql.org/docs/current/app-pgdump.html); `pg_restore -j N` runs N workers,
 * each a session, that is a server backend, on the scratch server doing COPY and index builds
 * (https://www.postgresql.org/docs/current/app-pgrestore.html). So:
 *  - the limit gives every process a core (N + 1), so N workers never share one;
 *  - the request grows by an eighth of a core per extra worker (a dump's workers wait on the
 *    network and the database as much as they compress; they burst up to the limit into idle
 *    CPU), so the drill pod of 4 jobs requests 1.5 cores and still schedules on the default
 *    m6i.large nodes (2 vCPU); beyond 4 jobs, pick larger nodes (cluster.nodeInstanceTypes);
 *  - memory per process is flat (docs/architecture.md §5), so each extra worker adds a fixed slice.
 * Kubernetes quantities: https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/
 */

type Resources = {
  requests: Record<"cpu" | "memory" | "ephemeral-storage", string>;
  limits: Record<"cpu" | "memory" | "ephemeral-storage", string>;
};

/**
 * Node-disk limit of each container (GiB). Everything bulky is elsewhere: the dump streams to S3,
 * the drill's download and PGDATA are EBS volumes; what stays on the node is drctl's TMPDIR
 * (emptyDir 2 GiB: directory-format files between pg_dump closing and the upload finishing) and
 * the scratch server's /tmp, socket directory and logs.
 */
export const NODE_DISK_GIB = { drctl: 2, scratch: 1, restoreCheck: 0.125 } as const;

/**
 * Node disk of every CronJob pod of a site at once: six drctl pods (three backups, verify, status,
 * drill), the drill's scratch server, and four small checks of 128Mi each: the restore-test check
 * (components/restoreTesting/check.ts), the two point-in-time tests (components/backups/pitrJobs.ts)
 * and the data-at-risk monitor (components/backups/rpoMonitor.ts). test/kubernetesSchema.test.ts sums the limits of the CronJobs a mocked run registers
 * against this figure, so a new CronJob cannot slip past the node-disk floor.
 */
export const SITE_JOBS_NODE_DISK_GIB =
  6 * NODE_DISK_GIB.drctl + NODE_DISK_GIB.scratch + 4 * NODE_DISK_GIB.restoreCheck;

/** MiB as Kubernetes writes it back (`1Gi`, not `1024Mi`), so a second up sees no change. */
function mebibytes(n: number): string {
  return n % 1024 === 0 ? `${n / 1024}Gi` : `${n}Mi`;
}

/** drctl's container in a job that runs `jobs` parallel workers (backup, drill). */
export function drctlResources(jobs: number): Resources {
  const extra = jobs - 1;
  return {
    requests: {
      cpu: `${250 + 125 * extra}m`,
      memory: mebibytes(256 + 64 * extra),
      "ephemeral-storage": "256Mi",
    },
    // 1 GiB is headroom for drctl and one pg_dump, not a need; each worker adds its buffers.
    limits: {
      cpu: `${jobs + 1}`,
      memory: mebibytes(1024 + 256 * extra),
      "ephemeral-storage": `${NODE_DISK_GIB.drctl}Gi`,
    },
  };
}

/** The drill's scratch PostgreSQL, with one backend per pg_restore worker. */
export function scratchResources(jobs: number): Resources {
  const extra = jobs - 1;
  return {
    requests: {
      cpu: `${500 + 125 * extra}m`,
      memory: mebibytes(1024 + 256 * extra),
      "ephemeral-storage": "512Mi",
    },
    // N backends and the server's own processes (checkpointer, WAL writer): N + 1 cores.
    limits: {
      cpu: `${jobs + 1}`,
      memory: mebibytes(2048 + 512 * extra),
      "ephemeral-storage": `${NODE_DISK_GIB.scratch}Gi`,
    },
  };
}

/**
 * The throwaway server tuned for one thing, a restore it may lose: no fsync, no full-page writes
 * and no synchronous commit (a crash means running the drill again), wal_level=minimal with
 * max_wal_senders=0 (it requires it) so COPY into a table created in the same transaction writes
 * no WAL, and maintenance_work_mem from the container's memory: each pg_restore job builds indexes
 * with its own, and half of the limit is left to shared buffers and the backends.
 * https://www.postgresql.org/docs/current/populate.html
 * https://www.postgresql.org/docs/current/non-durability.html
 */
export function scratchServerSettings(jobs: number): Record<string, string> {
  const limitMiB = 2048 + 512 * (jobs - 1);
  return {
    fsync: "off",
    full_page_writes: "off",
    synchronous_commit: "off",
    wal_level: "minimal",
    max_wal_senders: "0",
    maintenance_work_mem: `${Math.floor(limitMiB / 2 / jobs)}MB`,
    max_wal_size: "16GB",
    checkpoint_timeout: "30min",
    autovacuum: "off",
  };
}
