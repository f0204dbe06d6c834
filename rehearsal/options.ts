import { resolve } from "node:path";

/** Parsed command line of `npm run drill -- …`. */
export interface RehearsalOptions {
  /** Dataset size in bytes. @default 200 MB */
  readonly sizeBytes: number;
  readonly sizeLabel: string;
  /** Synchronous replication (RPO must be 0). @default false */
  readonly sync: boolean;
  /** Leave the run directory (data dirs, logs, file store) for inspection. @default false */
  readonly keep: boolean;
  /** Machine-readable summary on stdout. @default false */
  readonly json: boolean;
  /** Backup store URL. @default file://<run dir>/store */
  readonly store?: string;
  readonly s3Endpoint?: string;
  /** Where dr_report.json goes. @default ./dr_report.json */
  readonly reportPath: string;
  /** How long the standby may take to reach `streaming`. @default 30 s */
  readonly standbyTimeoutMs: number;
  /** Concurrent writer connections. @default 2 */
  readonly writers: number;
}

export class UsageError extends Error {}

export const USAGE = `npm run drill -- [--size 200MB] [--sync] [--keep] [--json] [--store URL] [--s3-endpoint URL]
                    [--report PATH] [--standby-timeout SECONDS] [--writers N]

A local disaster-recovery rehearsal on real PostgreSQL: primary + streaming standby, a write
workload, a drctl backup (verified deep), a crash of the primary, promotion of the standby with
measured RTO and RPO, and a restore of the backup checked against its manifest (docs/drill.md).
Exit codes: 0 objectives met, 2 an objective missed, 1 the rehearsal failed, 64 usage error.
Fault injection for tests: DRILL_FAULT=standby-stuck|backup-missing|backup-corrupt.`;

const UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1024,
  kb: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
};

/** `200MB`, `5mb`, `1.5GB`, `500k` → bytes (binary units). */
export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = m ? UNITS[m[2].toLowerCase()] : undefined;
  if (!m || unit === undefined) {
    throw new UsageError(`--size "${text}" is not a size; expected e.g. 200MB, 5MB or 1GB`);
  }
  const bytes = Math.round(Number(m[1]) * unit);
  if (bytes < 1024 * 1024) {
    throw new UsageError(`--size must be at least 1MB, got ${text}`);
  }
  return bytes;
}

export function parseOptions(argv: string[], cwd = process.cwd()): RehearsalOptions | "help" {
  let sizeLabel = "200MB";
  let sync = false;
  let keep = false;
  let json = false;
  let store: string | undefined;
  let s3Endpoint: string | undefined;
  let reportPath = resolve(cwd, "dr_report.json");
  let standbyTimeoutMs = 30_000;
  let writers = 2;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const [flag, inline] = arg.startsWith("--") && arg.includes("=") ? arg.split(/=(.*)/s) : [arg];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === "") throw new UsageError(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case "-h":
      case "--help":
        return "help";
      case "--sync":
        sync = true;
        break;
      case "--keep":
        keep = true;
        break;
      case "--json":
        json = true;
        break;
      case "--size":
        sizeLabel = value();
        break;
      case "--store":
        store = value();
        break;
      case "--s3-endpoint":
        s3Endpoint = value();
        break;
      case "--report":
        reportPath = resolve(cwd, value());
        break;
      case "--standby-timeout": {
        const v = Number(value());
        if (!(v > 0))
          throw new UsageError(`--standby-timeout must be a positive number of seconds`);
        standbyTimeoutMs = v * 1000;
        break;
      }
      case "--writers": {
        const v = Number(value());
        if (!Number.isInteger(v) || v < 1 || v > 16) {
          throw new UsageError(`--writers must be an integer from 1 to 16, got ${v}`);
        }
        writers = v;
        break;
      }
      default:
        throw new UsageError(`unknown option "${arg}"; see npm run drill -- --help`);
    }
  }
  if (store !== undefined && !/^(s3|file):\/\//.test(store)) {
    throw new UsageError(`--store "${store}" must be s3://bucket/prefix or file:///absolute/path`);
  }
  return {
    sizeBytes: parseSize(sizeLabel),
    sizeLabel,
    sync,
    keep,
    json,
    store,
    s3Endpoint,
    reportPath,
    standbyTimeoutMs,
    writers,
  };
}

export type Fault = "standby-stuck" | "backup-missing" | "backup-corrupt";

/** The test-only fault named by DRILL_FAULT, if any (docs/drill.md, "Fault injection"). */
export function faultFromEnv(env: NodeJS.ProcessEnv = process.env): Fault | undefined {
  const f = env.DRILL_FAULT;
  if (f === undefined || f === "") return undefined;
  if (f === "standby-stuck" || f === "backup-missing" || f === "backup-corrupt") return f;
  throw new UsageError(
    `DRILL_FAULT="${f}" is not a known fault; expected standby-stuck, backup-missing or backup-corrupt`,
  );
}
