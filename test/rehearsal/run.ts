import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { DrReport } from "../../rehearsal/report";

const ROOT = resolve(__dirname, "../..");

/** Runs `rehearsal/main.ts` as `npm run drill` does, and reads the report it wrote. */
export async function runDrill(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; report: DrReport; stdout: string; stderr: string }> {
  const reportPath = join(mkdtempSync(join(tmpdir(), "drill-test-")), "dr_report.json");
  const child = spawn(
    process.execPath,
    ["-r", "ts-node/register/transpile-only", "rehearsal/main.ts", ...args, "--report", reportPath],
    { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] },
  );
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number>((r) => child.on("exit", (c) => r(c ?? -1)));
  if (!existsSync(reportPath)) throw new Error(`no report written (exit ${code}): ${stderr}`);
  return { code, report: JSON.parse(readFileSync(reportPath, "utf8")) as DrReport, stdout, stderr };
}

/** True when something accepts TCP connections on 127.0.0.1:port. */
export function accepts(port: number): Promise<boolean> {
  return new Promise((r) => {
    const s = connect({ host: "127.0.0.1", port });
    s.once("connect", () => {
      s.destroy();
      r(true);
    });
    s.once("error", () => r(false));
  });
}

/** Every port the run's summary lines mention ("port 12345"). */
export function portsIn(text: string): number[] {
  return [...text.matchAll(/port (\d+)/g)].map((m) => Number(m[1]));
}
