/**
 * drctl's start-up from a checkout against Node's own: `npm run bench:startup [-- --runs 10]`.
 * Runs `node -e 0` and `drctl/bin/drctl --version` alternately (so a change in the machine's load
 * hits both alike), and prints each median, the ratio, and whether it is within 4×.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { parseArgs } from "node:util";

export const LAUNCHER = join(__dirname, "..", "drctl", "bin", "drctl");

/** drctl --version may take at most this many times a bare `node -e 0`. */
export const STARTUP_RATIO_LIMIT = 4;

function millis(file: string, args: string[]): number {
  const started = process.hrtime.bigint();
  const r = spawnSync(file, args, { stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (r.status !== 0) throw new Error(`${file} ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  return ms;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export interface Startup {
  readonly nodeMs: number;
  readonly drctlMs: number;
  readonly ratio: number;
}

/** Medians of `runs` alternate starts of bare Node and of `drctl --version`. */
export function measureStartup(runs = 10): Startup {
  millis(LAUNCHER, ["--version"]); // a stale build is rebuilt by this first run, not timed
  const node: number[] = [];
  const drctl: number[] = [];
  for (let i = 0; i < runs; i++) {
    node.push(millis(process.execPath, ["-e", "0"]));
    drctl.push(millis(LAUNCHER, ["--version"]));
  }
  const nodeMs = median(node);
  const drctlMs = median(drctl);
  return { nodeMs, drctlMs, ratio: drctlMs / nodeMs };
}

if (require.main === module) {
  const { values } = parseArgs({ options: { runs: { type: "string", default: "10" } } });
  const runs = Number(values.runs);
  const s = measureStartup(runs);
  process.stdout.write(
    `node -e 0                median of ${runs}: ${s.nodeMs.toFixed(1)} ms\n` +
      `drctl/bin/drctl --version median of ${runs}: ${s.drctlMs.toFixed(1)} ms\n` +
      `ratio ${s.ratio.toFixed(2)}× (limit ${STARTUP_RATIO_LIMIT}×): ` +
      `${s.ratio <= STARTUP_RATIO_LIMIT ? "ok" : "TOO SLOW"}\n`,
  );
  process.exitCode = s.ratio <= STARTUP_RATIO_LIMIT ? 0 : 1;
}
