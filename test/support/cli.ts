import { PassThrough } from "node:stream";
import { main } from "../../drctl/src/main";

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs drctl in-process with captured (non-TTY) output and the given environment only. */
export async function drctl(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = "";
  let err = "";
  stdout.on("data", (d: Buffer) => (out += d.toString()));
  stderr.on("data", (d: Buffer) => (err += d.toString()));
  const code = await main(argv, {
    stdout,
    stderr,
    env: { PATH: process.env.PATH, TMPDIR: process.env.TMPDIR, ...env },
  });
  return { code, stdout: out, stderr: err };
}

/** The plain (non-JSON) lines a person reads on stderr. */
export function plainErrors(stderr: string): string[] {
  return stderr.split("\n").filter((l) => l.length > 0 && !l.startsWith("{"));
}

/** The messages of the JSON `error` events on stderr, in order. */
export function errorEvents(stderr: string): string[] {
  return stderr
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as { event: string; message?: string })
    .filter((e) => e.event === "error")
    .map((e) => e.message ?? "");
}

/** A backup id (newBackupId's shape) for a moment `ago` ms in the past. */
export function idAt(ago: number, suffix: string): string {
  const stamp = new Date(Date.now() - ago)
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}Z$/, "Z");
  return `${stamp}-${suffix}`;
}
