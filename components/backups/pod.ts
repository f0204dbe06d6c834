import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";

/**
 * Pure builders for the pods the backup CronJobs run: one locked-down drctl container, and for
 * the restore drill a scratch PostgreSQL beside it. Kept apart from the component so that the
 * security settings read in one place.
 */

type PodSpec = k8s.types.input.core.v1.PodSpec;
type Container = k8s.types.input.core.v1.Container;
type EnvVar = k8s.types.input.core.v1.EnvVar;
type Resources = k8s.types.input.core.v1.ResourceRequirements;
type Volume = k8s.types.input.core.v1.Volume;

/**
 * Where a pod keeps bulk data: an emptyDir on the node's disk (bounded by `sizeLimit`, counted
 * against the pod's ephemeral-storage), or a generic ephemeral volume, a PersistentVolumeClaim
 * that Kubernetes creates with the pod and deletes with it, provisioned by the storage class and
 * so off the node's disk. https://kubernetes.io/docs/concepts/storage/ephemeral-volumes/#generic-ephemeral-volumes
 */
export type ScratchVolume =
  | { readonly kind: "emptyDir"; readonly sizeLimit: string }
  | { readonly kind: "ephemeral"; readonly size: string; readonly storageClassName: string };

/** The pod volume named `name` for a ScratchVolume. */
export function scratchVolume(
  name: string,
  v: ScratchVolume,
  labels: Record<string, string>,
): Volume {
  if (v.kind === "emptyDir") return { name, emptyDir: { sizeLimit: v.sizeLimit } };
  return {
    name,
    ephemeral: {
      volumeClaimTemplate: {
        metadata: { labels },
        spec: {
          accessModes: ["ReadWriteOnce"],
          storageClassName: v.storageClassName,
          resources: { requests: { storage: v.size } },
        },
      },
    },
  };
}

/**
 * drctl's uid/gid: the image's own `drctl` user (drctl/Dockerfile). It must have a passwd entry:
 * libpq and pg_dump look the current user up and fail for an unknown uid.
 */
export const DRCTL_UID = 10001;
/** The `postgres` user of the official Debian-based postgres image, so initdb finds its passwd entry. */
export const POSTGRES_UID = 999;

/** Name of the drill's scratch PostgreSQL container (also skipped by the IRSA webhook). */
export const SCRATCH_CONTAINER = "scratch-postgres";
export const SCRATCH_PORT = 5432;
/**
 * Loopback only, trust auth: the server lives and dies with the pod, listens on no pod IP, and
 * holds a restored copy that the drill deletes with the pod. No password to leak or rotate.
 */
export const SCRATCH_URL = `postgresql://postgres@127.0.0.1:${SCRATCH_PORT}/postgres?sslmode=disable`;

/** Container-level hardening shared by every container (Pod Security Standard "restricted"). */
export function containerSecurityContext(uid: number): k8s.types.input.core.v1.SecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser: uid,
    runAsGroup: uid,
    readOnlyRootFilesystem: true,
    allowPrivilegeEscalation: false,
    privileged: false,
    capabilities: { drop: ["ALL"] },
    seccompProfile: { type: "RuntimeDefault" },
  };
}

export interface DrctlContainerInput {
  readonly image: pulumi.Input<string>;
  readonly args: string[];
  readonly env: EnvVar[];
  readonly resources: Resources;
}

function drctlContainer(c: DrctlContainerInput): Container {
  return {
    name: "drctl",
    image: c.image,
    // The image's entrypoint is drctl; only its arguments are ours.
    args: c.args,
    env: [...c.env, { name: "TMPDIR", value: "/tmp" }],
    resources: c.resources,
    securityContext: containerSecurityContext(DRCTL_UID),
    volumeMounts: [{ name: "tmp", mountPath: "/tmp" }],
  };
}

export interface ScratchPostgresInput {
  readonly image: pulumi.Input<string>;
  /** Where PGDATA lives: the restored database must fit. */
  readonly data: ScratchVolume;
  readonly resources: Resources;
  /** Server settings beyond listen_addresses, passed as `-c name=value`. @default {} */
  readonly settings?: Readonly<Record<string, string>>;
}

/**
 * The drill's scratch PostgreSQL as a native sidecar (an init container with restartPolicy
 * Always, Kubernetes 1.29+): kubelet starts drctl only after the startup probe passes, and
 * stops the server once drctl exits, so the Job completes. A plain second container would keep
 * the pod, and the Job, running forever.
 * https://kubernetes.io/docs/concepts/workloads/pods/sidecar-containers/
 */
export function scratchPostgresContainer(s: ScratchPostgresInput): Container {
  return {
    name: SCRATCH_CONTAINER,
    image: s.image,
    restartPolicy: "Always",
    args: [
      "-c",
      "listen_addresses=127.0.0.1",
      ...Object.entries(s.settings ?? {}).flatMap(([k, v]) => ["-c", `${k}=${v}`]),
    ],
    env: [
      { name: "POSTGRES_HOST_AUTH_METHOD", value: "trust" },
      // A subdirectory of the mount: initdb creates it owned by the postgres user with mode
      // 0700, which it cannot do to the mount point itself.
      { name: "PGDATA", value: "/var/lib/postgresql/data" },
    ],
    resources: s.resources,
    securityContext: containerSecurityContext(POSTGRES_UID),
    startupProbe: {
      exec: {
        command: ["pg_isready", "-h", "127.0.0.1", "-p", `${SCRATCH_PORT}`, "-U", "postgres"],
      },
      periodSeconds: 2,
      // initdb of an empty cluster takes seconds; five minutes covers a slow image pull.
      failureThreshold: 150,
    },
    volumeMounts: [
      { name: "pgdata", mountPath: "/var/lib/postgresql" },
      { name: "pgrun", mountPath: "/var/run/postgresql" },
      { name: "pgtmp", mountPath: "/tmp" },
      { name: "dshm", mountPath: "/dev/shm" },
    ],
  };
}

export interface PodSpecInput {
  readonly serviceAccount: string;
  readonly drctl: DrctlContainerInput;
  /** drctl's /tmp (TMPDIR): where the drill downloads the dump before pg_restore reads it. */
  readonly tmp: ScratchVolume;
  /** Labels for the claims of generic ephemeral volumes. @default {} */
  readonly volumeLabels?: Record<string, string>;
  /** The drill's scratch PostgreSQL; omitted for backups, verify and status. @default undefined */
  readonly scratch?: ScratchPostgresInput;
  /**
   * drctl arguments run first, in an init container like the drctl container (same image,
   * environment, identity and limits): the job's own command starts only if they exit 0
   * (https://kubernetes.io/docs/concepts/workloads/pods/init-containers/). @default undefined
   */
  readonly preflight?: string[];
}

function initContainers(p: PodSpecInput): Container[] | undefined {
  const out: Container[] = [];
  if (p.scratch) out.push(scratchPostgresContainer(p.scratch));
  if (p.preflight) {
    out.push({ ...drctlContainer(p.drctl), name: `drctl-${p.preflight[0]}`, args: p.preflight });
  }
  return out.length > 0 ? out : undefined;
}

/** The locked-down pod every CronJob runs. */
export function backupPodSpec(p: PodSpecInput): PodSpec {
  const labels = p.volumeLabels ?? {};
  const volumes: Volume[] = [scratchVolume("tmp", p.tmp, labels)];
  if (p.scratch) {
    volumes.push(
      scratchVolume("pgdata", p.scratch.data, labels),
      { name: "pgrun", emptyDir: { sizeLimit: "16Mi" } },
      { name: "pgtmp", emptyDir: { sizeLimit: "256Mi" } },
      // The default 64 MiB /dev/shm is too small for parallel restore's shared memory.
      { name: "dshm", emptyDir: { medium: "Memory", sizeLimit: "512Mi" } },
    );
  }
  return {
    serviceAccountName: p.serviceAccount,
    // drctl never calls the Kubernetes API, but IRSA's web-identity token is a projected
    // ServiceAccount token that the EKS pod identity webhook injects; keep token mounting on
    // (the ServiceAccount itself turns it off for any other pod that might use it).
    automountServiceAccountToken: true,
    // Never: a failed pod stays for its logs; the Job's backoffLimit decides on retries.
    restartPolicy: "Never",
    enableServiceLinks: false,
    securityContext: {
      runAsNonRoot: true,
      runAsUser: DRCTL_UID,
      runAsGroup: DRCTL_UID,
      fsGroup: DRCTL_UID,
      seccompProfile: { type: "RuntimeDefault" },
    },
    initContainers: initContainers(p),
    containers: [drctlContainer(p.drctl)],
    volumes,
  };
}
