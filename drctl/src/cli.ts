import { parseArgs, type ParseArgsConfig } from "node:util";
import type { Writable } from "node:stream";
import { UsageError } from "./errors";
import { TIERS, type Tier } from "./manifest";
import { eventSink, type EventSink } from "./progress";
import { openStore, type Store } from "./store";
import type { ObjectLock } from "./store/s3";

export interface Io {
  readonly stdout: Writable;
  readonly stderr: Writable;
  readonly env: NodeJS.ProcessEnv;
}

export interface Ctx {
  readonly io: Io;
  readonly env: NodeJS.ProcessEnv;
  readonly sink: EventSink;
  out(line: string): void;
}

export function makeCtx(io: Io): Ctx {
  return {
    io,
    env: io.env,
    sink: eventSink(io.stderr),
    out: (line) => {
      io.stdout.write(`${line}\n`);
    },
  };
}

type Options = NonNullable<ParseArgsConfig["options"]>;

/** Flags every command that touches the store accepts. */
export const STORE_OPTIONS = {
  store: { type: "string" },
  "s3-endpoint": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const satisfies Options;

interface ParseError {
  code?: string;
  message: string;
}

/** util.parseArgs in strict mode, with its errors turned into usage errors (exit 64). */
export function parse<O extends Options>(
  command: string,
  argv: string[],
  options: O,
  allowPositionals: boolean,
): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options,
      strict: true,
      allowPositionals,
    });
    return { values, positionals };
  } catch (err) {
    const e = err as ParseError;
    const msg = e.message.split("\n")[0].replace(/\. To specify a positional.*$/, "");
    throw new UsageError(`${msg}; run drctl ${command} --help`);
  }
}

export function str(
  values: Record<string, string | boolean | undefined>,
  key: string,
): string | undefined {
  const v = values[key];
  return typeof v === "string" ? v : undefined;
}

/** Flag, else environment variable, else undefined. Flags win. */
export function pick(
  values: Record<string, string | boolean | undefined>,
  flag: string,
  env: NodeJS.ProcessEnv,
  envName: string,
): string | undefined {
  const v = str(values, flag);
  if (v !== undefined) return v;
  const e = env[envName];
  return e === undefined || e === "" ? undefined : e;
}

export function parseTier(text: string | undefined, flag = "--tier"): Tier | undefined {
  if (text === undefined) return undefined;
  if (!(TIERS as readonly string[]).includes(text)) {
    throw new UsageError(`${flag} must be one of ${TIERS.join(", ")}, got "${text}"`);
  }
  return text as Tier;
}

export function parseOneOf<T extends string>(text: string, allowed: readonly T[], flag: string): T {
  if (!(allowed as readonly string[]).includes(text)) {
    throw new UsageError(`${flag} must be one of ${allowed.join(", ")}, got "${text}"`);
  }
  return text as T;
}

export function parsePositiveInt(text: string, flag: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1) {
    throw new UsageError(`${flag} must be a whole number of at least 1, got "${text}"`);
  }
  return Number(text);
}

/** The store from --store / DRCTL_STORE, with --s3-endpoint / DRCTL_S3_ENDPOINT. */
export function storeFrom(
  values: Record<string, string | boolean | undefined>,
  env: NodeJS.ProcessEnv,
  sseKmsKeyId?: string,
): Store {
  const url = pick(values, "store", env, "DRCTL_STORE");
  if (!url) {
    throw new UsageError(
      "no store given; pass --store s3://bucket/prefix or file:///path, or set DRCTL_STORE",
    );
  }
  const endpoint = pick(values, "s3-endpoint", env, "DRCTL_S3_ENDPOINT");
  if (endpoint !== undefined && !/^https?:\/\/[^/]+/.test(endpoint)) {
    throw new UsageError(`--s3-endpoint must be an http(s) URL, got "${endpoint}"`);
  }
  return openStore(url, { endpoint, sseKmsKeyId, objectLock: objectLockFrom(env) });
}

/**
 * DRCTL_OBJECT_LOCK_MODE (GOVERNANCE | COMPLIANCE) and DRCTL_OBJECT_LOCK_DAYS (whole days, at
 * least 1): both or neither. Retention is set on every object drctl writes (create-only backups, docs/architecture.md §4).
 */
export function objectLockFrom(env: NodeJS.ProcessEnv): ObjectLock | undefined {
  const mode = env.DRCTL_OBJECT_LOCK_MODE || undefined;
  const days = env.DRCTL_OBJECT_LOCK_DAYS || undefined;
  if (mode === undefined && days === undefined) return undefined;
  if (mode === undefined || days === undefined) {
    throw new UsageError(
      `DRCTL_OBJECT_LOCK_MODE and DRCTL_OBJECT_LOCK_DAYS go together; set both or neither ` +
        `(got ${mode === undefined ? "only DRCTL_OBJECT_LOCK_DAYS" : "only DRCTL_OBJECT_LOCK_MODE"})`,
    );
  }
  if (mode !== "GOVERNANCE" && mode !== "COMPLIANCE") {
    throw new UsageError(`DRCTL_OBJECT_LOCK_MODE must be GOVERNANCE or COMPLIANCE, got "${mode}"`);
  }
  if (!/^\d+$/.test(days) || Number(days) < 1) {
    throw new UsageError(
      `DRCTL_OBJECT_LOCK_DAYS must be a whole number of days of at least 1, got "${days}"`,
    );
  }
  return { mode, days: Number(days) };
}
