import { spawn } from "node:child_process";
import { join } from "node:path";
import { findPgBinary } from "../drctl/src/postgres/binaries";

/** What the dead primary had in its WAL beyond what the standby received. */
export interface WalGap {
  /** End of the last valid WAL record in the dead primary's pg_wal. */
  readonly primaryEndLsn: string;
  /** WAL records after the standby's receive LSN. */
  readonly recordsNotReceived: number;
  /** Of which transaction commits. */
  readonly commitsNotReceived: number;
}

/**
 * Reads the dead primary's WAL files with pg_waldump from `fromLsn` (the standby's last received
 * position) to the end of valid WAL. The server is dead, so its files are the only witness of what
 * it had written. Undefined when pg_waldump is not installed or cannot read the directory.
 */
export async function walGap(dataDir: string, fromLsn: string): Promise<WalGap | undefined> {
  let bin: string;
  try {
    bin = findPgBinary("pg_waldump").path;
  } catch {
    return undefined;
  }
  const output = await new Promise<string>((resolve) => {
    const child = spawn(bin, ["--path", join(dataDir, "pg_wal"), "--start", fromLsn], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", () => undefined);
    // pg_waldump exits non-zero at the end of valid WAL ("invalid record length"): that is normal.
    child.on("exit", () => resolve(out));
    child.on("error", () => resolve(""));
  });
  const lines = output.split("\n").filter((l) => l.startsWith("rmgr:"));
  let end = fromLsn;
  let commits = 0;
  let records = 0;
  for (const line of lines) {
    const lsn = /lsn: ([0-9A-F]+\/[0-9A-F]+)/.exec(line)?.[1];
    const len = /len \(rec\/tot\):\s*\d+\/\s*(\d+)/.exec(line)?.[1];
    if (!lsn) continue;
    // The record at fromLsn itself, if it starts exactly there, was received.
    if (lsn === fromLsn) continue;
    records++;
    if (/rmgr: Transaction .*desc: COMMIT/.test(line)) commits++;
    if (len) end = addLsn(lsn, Number(len));
  }
  return { primaryEndLsn: end, recordsNotReceived: records, commitsNotReceived: commits };
}

export function lsnToBigInt(lsn: string): bigint {
  const [hi, lo] = lsn.split("/");
  return (BigInt(`0x${hi}`) << 32n) + BigInt(`0x${lo}`);
}

function addLsn(lsn: string, n: number): string {
  const v = lsnToBigInt(lsn) + BigInt(n);
  return `${(v >> 32n).toString(16).toUpperCase()}/${(v & 0xffffffffn).toString(16).toUpperCase()}`;
}
