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
