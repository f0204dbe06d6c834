import { describe, expect, it } from "vitest";
import { runStack, type RegisteredResource, type StackRun } from "../harness";

const CRONJOB = "kubernetes:batch/v1:CronJob";
const BUCKET_USE1 = "acme-dr-use1-backups-111122223333";
const BUCKET_USW2 = "acme-dr-usw2-backups-111122223333";

/** BackupCronJobs' own children (the restore-test CronJob is RestoreTestCheck's). */
const ofBackupCronJobs = (r: RegisteredResource) =>
  r.urn.includes("drstack:backup:BackupCronJobs$");

/** CronJob inputs by Kubernetes name (backup-daily, restore-drill, …). */
function cronJobs(run: StackRun): Record<string, any> {
  return Object.fromEntries(
    run
      .ofType(CRONJOB)
      .filter(ofBackupCronJobs)
      .map((r: RegisteredResource) => [r.inputs.metadata.name, r.inputs]),
  );
}

const podOf = (cj: any) => cj.spec.jobTemplate.spec.template.spec;
const drctlOf = (cj: any) => podOf(cj).containers.find((c: any) => c.name === "drctl");
const envOf = (container: any): Record<string, string> =>
  Object.fromEntries(container.env.map((e: any) => [e.name, e.value]));
const suspended = (run: StackRun) =>
  Object.fromEntries(Object.entries(cronJobs(run)).map(([n, cj]) => [n, cj.spec.suspend]));

describe("backup CronJobs on the primary", () => {
  it("runs the six jobs on the configured schedules, in Etc/UTC, in dr-backup", async () => {
    const run = await runStack("primary");
    const jobs = cronJobs(run);
    expect(
      Object.fromEntries(Object.entries(jobs).map(([n, cj]) => [n, cj.spec.schedule])),
    ).toEqual({
      "backup-daily": "0 2 * * *",
      "backup-weekly": "0 3 * * 0",
      "backup-monthly": "0 4 1 * *",
      "verify-daily": "30 5 * * *",
      "restore-drill": "0 6 2 * *",
      "backup-status": "15 * * * *",
    });
    for (const cj of Object.values(jobs)) {
      expect(cj.spec.timeZone).toBe("Etc/UTC");
      expect(cj.metadata.namespace).toBe("dr-backup");
    }
    expect([...run.outputs.backupCronJobs].sort()).toEqual(Object.keys(jobs).sort());
  });

  it("passes each job its drctl command and environment", async () => {
    const run = await runStack("primary");
    const jobs = cronJobs(run);
    const args = Object.fromEntries(Object.entries(jobs).map(([n, cj]) => [n, drctlOf(cj).args]));
    expect(args).toEqual({
      "backup-daily": ["backup", "--tier", "daily"],
      "backup-weekly": ["backup", "--tier", "weekly"],
      "backup-monthly": ["backup", "--tier", "monthly"],
      "verify-daily": ["verify", "--latest", "--deep"],
      "restore-drill": ["drill"],
      "backup-status": ["status", "--json"],
    });
    const common = {
      AWS_REGION: "us-east-1",
      DRCTL_STORE: `s3://${BUCKET_USE1}/`,
      DRCTL_SSE_KMS_KEY_ID: run.outputs.kmsKeyArn,
      DRCTL_METRICS_NAMESPACE: "DrStack/Backups",
      TMPDIR: "/tmp",
    };
    expect(run.outputs.kmsKeyArn).toMatch(/^arn:aws:kms:us-east-1:111122223333:key\//);
    expect(run.outputs.dbEndpoint).toMatch(
      /^acme-dr-use1-pg\.[0-9a-f]{12}\.us-east-1\.rds\.amazonaws\.com$/,
    );
    expect(envOf(drctlOf(jobs["backup-weekly"]))).toEqual({
      ...common,
      DRCTL_TIER: "weekly",
      // Parallel jobs and scratch (docs/architecture.md §5): pg_dump's --jobs (jobs.parallelJobs, default 1: custom format, one stream).
      DRCTL_JOBS: "1",
      PGHOST: run.outputs.dbEndpoint,
      // The backup login's secret (it exists in every role), never the master (docs/architecture.md §8).
      DRCTL_DB_SECRET_ARN: run.outputs.dbBackupLoginSecretArn,
      PGPORT: "5432",
      PGDATABASE: "app",
      // Database TLS (docs/architecture.md §8): libpq verifies the server certificate and host name against the RDS CA
      // bundle in the image. https://www.postgresql.org/docs/current/libpq-ssl.html
      PGSSLMODE: "verify-full",
      PGSSLROOTCERT: "/etc/drctl/rds-ca.pem",
      // Create-only backups (docs/architecture.md §4): drctl locks each object it writes for at least the tier's lifecycle days.
      DRCTL_OBJECT_LOCK_MODE: "GOVERNANCE",
      DRCTL_OBJECT_LOCK_DAYS: "28",
    });
    expect(envOf(drctlOf(jobs["verify-daily"]))).toEqual(common);
    expect(envOf(drctlOf(jobs["backup-status"]))).toEqual(common);
    expect(envOf(drctlOf(jobs["restore-drill"]))).toEqual({
      ...common,
      DRCTL_SCRATCH_URL: "postgresql://postgres@127.0.0.1:5432/postgres?sslmode=disable",
      DRCTL_SMOKE_SQL: "[]",
      DRCTL_JOBS: "1",
      // Parallel jobs and scratch (docs/architecture.md §5): unset jobs.drillScratchStorage sizes each volume from the database: 100 GiB
      // allocated x 1.25 = 125Gi = 125 * 2^30 bytes, at least the configured database size.
      DRCTL_SCRATCH_BYTES: "134217728000",
    });
    for (const cj of Object.values(jobs)) {
      expect(drctlOf(cj).image).toBe(
        "ghcr.io/dr-stack/drctl@sha256:0e5a3c1f7b1c4f0d2a9e8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e",
      );
    }
  });

  it("runs drctl check before the monthly backup, as the backup container, and only then", async () => {
    const jobs = cronJobs(await runStack("primary"));
    const monthly = podOf(jobs["backup-monthly"]);
    const backup = drctlOf(jobs["backup-monthly"]);
    // An init container must exit 0 before the pod's containers start:
    // https://kubernetes.io/docs/concepts/workloads/pods/init-containers/
    expect(monthly.initContainers).toEqual([{ ...backup, name: "drctl-check", args: ["check"] }]);
    expect(envOf(backup)).toMatchObject({
      DRCTL_TIER: "monthly",
      // The check sizes the drill's scratch volumes (125Gi: 100 GB of database × 1.25) against
      // the newest backup.
      DRCTL_SCRATCH_BYTES: "134217728000",
      DRCTL_OBJECT_LOCK_DAYS: "365",
    });
    for (const n of ["backup-daily", "backup-weekly"]) {
      expect(podOf(jobs[n]).initContainers, n).toBeUndefined();
      expect(envOf(drctlOf(jobs[n])).DRCTL_SCRATCH_BYTES, n).toBeUndefined();
    }
  });

  it("bounds every job in time, history and concurrency", async () => {
    const jobs = cronJobs(await runStack("primary"));
    const timing = Object.fromEntries(
      Object.entries(jobs).map(([n, cj]) => [
        n,
        [
          cj.spec.startingDeadlineSeconds,
          cj.spec.jobTemplate.spec.backoffLimit,
          cj.spec.jobTemplate.spec.activeDeadlineSeconds,
        ],
      ]),
    );
    expect(timing).toEqual({
      "backup-daily": [3600, 2, 21600],
      "backup-weekly": [3600, 2, 21600],
      "backup-monthly": [3600, 2, 21600],
      "verify-daily": [3600, 1, 14400],
      "restore-drill": [3600, 0, 28800],
      "backup-status": [1800, 0, 600],
    });
    for (const [n, cj] of Object.entries(jobs)) {
      expect(cj.spec.concurrencyPolicy).toBe("Forbid");
      expect(cj.spec.successfulJobsHistoryLimit).toBe(n === "backup-status" ? 1 : 3);
      expect(cj.spec.failedJobsHistoryLimit).toBe(3);
      expect(cj.spec.jobTemplate.spec.ttlSecondsAfterFinished).toBe(604800);
    }
  });

  it("locks down every pod and container, each job running as its purpose's ServiceAccount", async () => {
    const jobs = cronJobs(await runStack("primary"));
    const serviceAccounts = Object.fromEntries(
      Object.entries(jobs).map(([n, cj]) => [n, podOf(cj).serviceAccountName]),
    );
    expect(serviceAccounts).toEqual({
      "backup-daily": "drctl-writer",
      "backup-weekly": "drctl-writer",
      "backup-monthly": "drctl-writer",
      "verify-daily": "drctl-reader",
      "restore-drill": "drctl-drill",
      "backup-status": "drctl-reader",
    });
    for (const [n, cj] of Object.entries(jobs)) {
      const pod = podOf(cj);
      expect(pod.automountServiceAccountToken, n).toBe(true);
      expect(pod.restartPolicy, n).toBe("Never");
      expect(pod.securityContext, n).toEqual({
        runAsNonRoot: true,
        runAsUser: 10001,
        runAsGroup: 10001,
        fsGroup: 10001,
        seccompProfile: { type: "RuntimeDefault" },
      });
      if (n !== "restore-drill") {
        // Everything but the drill streams: a small emptyDir, within the container's limit.
        expect(
          pod.volumes.find((v: any) => v.name === "tmp"),
          n,
        ).toEqual({
          name: "tmp",
          emptyDir: { sizeLimit: "2Gi" },
        });
      }
      const drctl = drctlOf(cj);
      expect(drctl.volumeMounts, n).toEqual([{ name: "tmp", mountPath: "/tmp" }]);
      for (const c of [...pod.containers, ...(pod.initContainers ?? [])]) {
        expect(c.securityContext, `${n}/${c.name}`).toMatchObject({
          runAsNonRoot: true,
          readOnlyRootFilesystem: true,
          allowPrivilegeEscalation: false,
          privileged: false,
          capabilities: { drop: ["ALL"] },
          seccompProfile: { type: "RuntimeDefault" },
        });
        expect(c.securityContext.runAsUser, `${n}/${c.name}`).toBeGreaterThan(0);
        expect(c.securityContext.runAsGroup, `${n}/${c.name}`).toBeGreaterThan(0);
        // Every container bounds its share of the node's disk (issue 13 finding 8): the kubelet
        // evicts a pod past its ephemeral-storage limit instead of letting the node fill.
        // https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/#local-ephemeral-storage
        expect(Object.keys(c.resources.requests).sort(), `${n}/${c.name}`).toEqual([
          "cpu",
          "ephemeral-storage",
          "memory",
        ]);
        expect(Object.keys(c.resources.limits).sort(), `${n}/${c.name}`).toEqual([
          "cpu",
          "ephemeral-storage",
          "memory",
        ]);
      }
    }
    // One job: drctl and one pg_dump, a core each at most (components/backups/resources.ts).
    for (const n of ["backup-daily", "verify-daily", "restore-drill", "backup-status"]) {
      expect(drctlOf(jobs[n]).resources, n).toEqual({
        requests: { cpu: "250m", memory: "256Mi", "ephemeral-storage": "256Mi" },
        limits: { cpu: "2", memory: "1Gi", "ephemeral-storage": "2Gi" },
      });
    }
  });

  it("gives the drill a scratch PostgreSQL of the database's major version as a native sidecar", async () => {
    const jobs = cronJobs(await runStack("primary"));
    const pod = podOf(jobs["restore-drill"]);
    expect(pod.initContainers).toHaveLength(1);
    const pg = pod.initContainers[0];
    expect(pg.name).toBe("scratch-postgres");
    // Pinned by digest from config (issue 16.6), never a moving tag.
    expect(pg.image).toBe(
      "postgres:16.4@sha256:e62fbf9d3e2b49816a32c400ed2dba83e3b361e6833e624024309c35d334b412",
    );
    expect(pg.resources).toEqual({
      requests: { cpu: "500m", memory: "1Gi", "ephemeral-storage": "512Mi" },
      limits: { cpu: "2", memory: "2Gi", "ephemeral-storage": "1Gi" },
    });
    expect(pg.restartPolicy).toBe("Always");
    // Tuned for a restore it may lose (components/backups/resources.ts scratchServerSettings).
    expect(pg.args).toEqual([
      "-c",
      "listen_addresses=127.0.0.1",
      "-c",
      "fsync=off",
      "-c",
      "full_page_writes=off",
      "-c",
      "synchronous_commit=off",
      "-c",
      "wal_level=minimal",
      "-c",
      "max_wal_senders=0",
      "-c",
      "maintenance_work_mem=1024MB",
      "-c",
      "max_wal_size=16GB",
      "-c",
      "checkpoint_timeout=30min",
      "-c",
      "autovacuum=off",
    ]);
    expect(pg.securityContext.runAsUser).toBe(999);
    expect(pg.startupProbe.exec.command).toEqual([
      "pg_isready",
      "-h",
      "127.0.0.1",
      "-p",
      "5432",
      "-U",
      "postgres",
    ]);
    expect(envOf(pg)).toEqual({
      POSTGRES_HOST_AUTH_METHOD: "trust",
      PGDATA: "/var/lib/postgresql/data",
    });
    expect(pg.volumeMounts.map((m: any) => [m.name, m.mountPath])).toEqual([
      ["pgdata", "/var/lib/postgresql"],
      ["pgrun", "/var/run/postgresql"],
      ["pgtmp", "/tmp"],
      ["dshm", "/dev/shm"],
    ]);
    // PGDATA and the downloaded dump are generic ephemeral volumes (issue 17.4): claims made
    // with the pod and deleted with it, off the node's disk.
    // https://kubernetes.io/docs/concepts/storage/ephemeral-volumes/#generic-ephemeral-volumes
    for (const name of ["pgdata", "tmp"]) {
      expect(pod.volumes.find((v: any) => v.name === name)).toEqual({
        name,
        ephemeral: {
          volumeClaimTemplate: {
            metadata: {
              labels: {
                "app.kubernetes.io/name": "drctl",
                "app.kubernetes.io/part-of": "dr-stack",
                "app.kubernetes.io/component": "drill",
              },
            },
            spec: {
              accessModes: ["ReadWriteOnce"],
              storageClassName: "drctl-scratch",
              resources: { requests: { storage: "125Gi" } },
            },
          },
        },
      });
    }
    expect(jobs["restore-drill"].spec.jobTemplate.spec.template.metadata.annotations).toEqual({
      "eks.amazonaws.com/skip-containers": "scratch-postgres",
    });
    for (const n of ["backup-daily", "verify-daily", "backup-status"]) {
      expect(podOf(jobs[n]).initContainers, n).toBeUndefined();
    }
  });

  it("follows config: engine version, time zone, smoke SQL, scratch size", async () => {
    const pg17 = `postgres:17.2@sha256:${"ab".repeat(32)}`;
    const run = await runStack("primary", {
      database: { engineVersion: "17" },
      jobs: {
        scratchImage: pg17,
        timeZone: "Europe/Berlin",
        smokeSql: ["select 1 from orders limit 1"],
        drillScratchStorage: "1.5Ti",
        parallelJobs: 4,
        schedules: { drill: "30 1 3 * *" },
      },
    });
    const jobs = cronJobs(run);
    const drill = jobs["restore-drill"];
    expect(drill.spec.schedule).toBe("30 1 3 * *");
    expect(podOf(drill).initContainers[0].image).toBe(pg17);
    expect(envOf(drctlOf(drill)).DRCTL_SMOKE_SQL).toBe('["select 1 from orders limit 1"]');
    for (const volume of ["pgdata", "tmp"]) {
      const claim = podOf(drill).volumes.find((v: any) => v.name === volume).ephemeral;
      expect(claim.volumeClaimTemplate.spec.resources).toEqual({ requests: { storage: "1.5Ti" } });
    }
    // 1.5 * 2^40: the quantity read exactly, fractions included (parallel jobs and scratch, docs/architecture.md §5).
    expect(envOf(drctlOf(drill)).DRCTL_SCRATCH_BYTES).toBe("1649267441664");
    // pg_dump -j 4 is a leader and 4 workers; pg_restore -j 4 is 4 backends on the scratch server.
    // The drill pod requests 625m + 875m = 1.5 cores: it still fits an m6i.large (2 vCPU).
    for (const n of ["backup-daily", "backup-weekly", "backup-monthly", "restore-drill"]) {
      expect(envOf(drctlOf(jobs[n])).DRCTL_JOBS, n).toBe("4");
      expect(drctlOf(jobs[n]).resources, n).toEqual({
        requests: { cpu: "625m", memory: "448Mi", "ephemeral-storage": "256Mi" },
        limits: { cpu: "5", memory: "1792Mi", "ephemeral-storage": "2Gi" },
      });
    }
    expect(podOf(drill).initContainers[0].resources).toEqual({
      requests: { cpu: "875m", memory: "1792Mi", "ephemeral-storage": "512Mi" },
      limits: { cpu: "5", memory: "3584Mi", "ephemeral-storage": "1Gi" },
    });
    // verify and status run no workers: their pods stay at one job's size, without DRCTL_JOBS.
    for (const n of ["verify-daily", "backup-status"]) {
      expect(envOf(drctlOf(jobs[n])).DRCTL_JOBS, n).toBeUndefined();
      expect(drctlOf(jobs[n]).resources.limits.cpu, n).toBe("2");
    }
    for (const cj of Object.values(jobs)) expect(cj.spec.timeZone).toBe("Europe/Berlin");
  });

  it("rejects an unknown time zone and a malformed scratch size in config", async () => {
    await expect(runStack("primary", { jobs: { timeZone: "Mars/Olympus" } })).rejects.toThrow(
      "dr-stack:jobs.timeZone: must be an IANA time zone",
    );
    await expect(runStack("primary", { jobs: { drillScratchStorage: "40GB" } })).rejects.toThrow(
      'dr-stack:jobs.drillScratchStorage: "40GB" is not a Kubernetes quantity: a number with an ' +
        "optional suffix Ki/Mi/Gi/Ti/Pi/Ei, k/M/G/T/P/E or an exponent (e.g. 8Gi, 500G, 1.5Ti)",
    );
    await expect(runStack("primary", { jobs: { drillScratchStorage: "0Gi" } })).rejects.toThrow(
      'dr-stack:jobs.drillScratchStorage: "0Gi" must be greater than zero, as the API server requires of a claim',
    );
    await expect(runStack("primary", { jobs: { parallelJobs: 0 } })).rejects.toThrow(
      "dr-stack:jobs.parallelJobs:",
    );
  });

  it("refuses a scratch image without a digest, or of another major version", async () => {
    await expect(runStack("primary", { jobs: { scratchImage: "postgres:16" } })).rejects.toThrow(
      'dr-stack:jobs.scratchImage: "postgres:16" is not pinned by digest; set dr-stack:jobs.scratchImage to ' +
        "postgres:16.<minor>@sha256:<64 hex digits>",
    );
    await expect(
      runStack("primary", { jobs: { scratchImage: `postgres:15.8@sha256:${"0".repeat(64)}` } }),
    ).rejects.toThrow(
      `dr-stack:jobs.scratchImage: "postgres:15.8@sha256:${"0".repeat(64)}" is PostgreSQL 15 but the database runs 16; ` +
        "pin a postgres:16.x image",
    );
  });
});

describe("role awareness", () => {
  it("primary: every job runs", async () => {
    expect(suspended(await runStack("primary"))).toEqual({
      "backup-daily": false,
      "backup-weekly": false,
      "backup-monthly": false,
      "verify-daily": false,
      "restore-drill": false,
      "backup-status": false,
    });
  });

  it("standby: backups and verify suspended, the drill restores the replicated copy", async () => {
    const run = await runStack("dr");
    expect(suspended(run)).toEqual({
      "backup-daily": true,
      "backup-weekly": true,
      "backup-monthly": true,
      "verify-daily": true,
      "restore-drill": false,
      "backup-status": false,
    });
    const drill = cronJobs(run)["restore-drill"];
    // Its own bucket in its own region: where replication delivered the primary's backups.
    expect(envOf(drctlOf(drill)).DRCTL_STORE).toBe(`s3://${BUCKET_USW2}/`);
    expect(envOf(drctlOf(drill)).AWS_REGION).toBe("us-west-2");
  });

  it("promoting: as standby", async () => {
    const s = suspended(await runStack("dr", { role: "promoting" }));
    expect(s["backup-daily"]).toBe(true);
    expect(s["verify-daily"]).toBe(true);
    expect(s["restore-drill"]).toBe(false);
  });

  it("fenced: everything suspended", async () => {
    const s = suspended(await runStack("primary", { role: "fenced" }));
    expect(Object.values(s)).toEqual([true, true, true, true, true, true]);
  });
});

describe("namespace, ServiceAccount and NetworkPolicy", () => {
  it("enforces the restricted Pod Security Standard on dr-backup", async () => {
    const ns = (await runStack("primary")).one(
      "kubernetes:core/v1:Namespace",
      "acme-dr-use1-backup-cron-ns",
    );
    expect(ns.inputs.metadata.name).toBe("dr-backup");
    expect(ns.inputs.metadata.labels["pod-security.kubernetes.io/enforce"]).toBe("restricted");
  });

  it("binds one ServiceAccount per job purpose to that purpose's IRSA role", async () => {
    const run = await runStack("primary");
    // The restore-test check's own ServiceAccount (components/restoreTesting/check.ts) is not a job's.
    const sas = run
      .ofType("kubernetes:core/v1:ServiceAccount")
      .filter((sa) => /-sa-(writer|reader|drill)$/.test(sa.name));
    expect(
      Object.fromEntries(
        sas.map((sa) => [
          sa.inputs.metadata.name,
          sa.inputs.metadata.annotations["eks.amazonaws.com/role-arn"],
        ]),
      ),
    ).toEqual({
      "drctl-writer": "arn:aws:iam::111122223333:role/acme-dr-use1-drctl-writer",
      "drctl-reader": "arn:aws:iam::111122223333:role/acme-dr-use1-drctl-reader",
      "drctl-drill": "arn:aws:iam::111122223333:role/acme-dr-use1-drctl-drill",
    });
    for (const sa of sas) {
      expect(sa.inputs.metadata.namespace).toBe("dr-backup");
      expect(sa.inputs.automountServiceAccountToken).toBe(false);
    }
    expect(run.outputs.backupRoleArn).toBe(
      "arn:aws:iam::111122223333:role/acme-dr-use1-drctl-writer",
    );
  });

  it("provisions the drill's scratch volumes as encrypted gp3 with the site key, in the pod's zone", async () => {
    const run = await runStack("primary");
    const sc = run.one("kubernetes:storage.k8s.io/v1:StorageClass");
    // EBS CSI driver parameters (type, encrypted, kmsKeyId); WaitForFirstConsumer binds the
    // volume in the zone of the node the pod is scheduled to.
    // https://github.com/kubernetes-sigs/aws-ebs-csi-driver/blob/master/docs/parameters.md
    expect(sc.inputs).toEqual({
      apiVersion: "storage.k8s.io/v1",
      kind: "StorageClass",
      metadata: {
        name: "drctl-scratch",
        labels: { "app.kubernetes.io/name": "drctl", "app.kubernetes.io/part-of": "dr-stack" },
      },
      provisioner: "ebs.csi.aws.com",
      // jobs.drillScratchIops / drillScratchThroughputMiBps defaults: a restore is write-bound.
      parameters: {
        type: "gp3",
        encrypted: "true",
        kmsKeyId: run.outputs.kmsKeyArn,
        iops: "6000",
        throughput: "500",
      },
      reclaimPolicy: "Delete",
      volumeBindingMode: "WaitForFirstConsumer",
      allowVolumeExpansion: false,
    });
  });

  it("uses the cluster's Kubernetes provider for every in-cluster object", async () => {
    const run = await runStack("primary");
    const inCluster = run.resources.filter((r) => r.type.startsWith("kubernetes:"));
    // Namespace, 3 ServiceAccounts, StorageClass, 6 CronJobs, NetworkPolicy; the restore-test
    // check's ServiceAccount and CronJob; the point-in-time tests' ServiceAccount and two CronJobs;
    // the data-at-risk monitor's ServiceAccount and CronJob; the applications' Namespace and Secret.
    expect(inCluster).toHaveLength(21);
    const provider = run.one("pulumi:providers:kubernetes");
    expect(provider.name).toBe("acme-dr-use1-eks-k8s");
    for (const r of inCluster) {
      expect(r.provider?.startsWith(`${provider.urn}::`), r.name).toBe(true);
    }
  });

  it("lets the jobs reach only DNS, the database port in the VPC and HTTPS outside it", async () => {
    const np = (await runStack("primary")).one("kubernetes:networking.k8s.io/v1:NetworkPolicy");
    expect(np.inputs.metadata.namespace).toBe("dr-backup");
    expect(np.inputs.spec.podSelector).toEqual({});
    expect(np.inputs.spec.policyTypes).toEqual(["Ingress", "Egress"]);
    expect(np.inputs.spec.ingress).toEqual([]);
    expect(np.inputs.spec.egress).toEqual([
      {
        to: [
          {
            namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } },
            podSelector: { matchLabels: { "k8s-app": "kube-dns" } },
          },
        ],
        ports: [
          { protocol: "UDP", port: 53 },
          { protocol: "TCP", port: 53 },
        ],
      },
      { to: [{ ipBlock: { cidr: "10.10.0.0/16" } }], ports: [{ protocol: "TCP", port: 5432 }] },
      {
        to: [
          {
            ipBlock: {
              cidr: "0.0.0.0/0",
              except: [
                "10.0.0.0/8",
                "172.16.0.0/12",
                "192.168.0.0/16",
                "100.64.0.0/10",
                "169.254.0.0/16",
              ],
            },
          },
        ],
        ports: [{ protocol: "TCP", port: 443 }],
      },
    ]);
  });

  it("turns on NetworkPolicy enforcement in the VPC CNI add-on", async () => {
    const cni = (await runStack("primary")).one("aws:eks/addon:Addon", "acme-dr-use1-eks-vpc-cni");
    expect(JSON.parse(cni.inputs.configurationValues)).toEqual({ enableNetworkPolicy: "true" });
  });
});
