import { readdirSync, readlinkSync, readFileSync } from "node:fs";

/**
 * Everything the rehearsal started, undone in reverse order: on success, on failure and on
 * SIGINT/SIGTERM. Each undo runs once; a failing undo does not stop the others.
 */
export class Cleanup {
  private readonly undo: { what: string; fn: () => Promise<void> | void }[] = [];
  private running: Promise<string[]> | undefined;

  add(what: string, fn: () => Promise<void> | void): void {
    this.undo.push({ what, fn });
  }

  /** Runs every registered undo (newest first) and returns the problems, if any. */
  run(): Promise<string[]> {
    this.running ??= (async () => {
      const problems: string[] = [];
      while (this.undo.length > 0) {
        const { what, fn } = this.undo.pop()!;
        try {
          const t0 = Date.now();
          await fn();
          if (process.env.DRILL_DEBUG)
            process.stderr.write(`cleanup ${what}: ${Date.now() - t0} ms\n`);
        } catch (err) {
          problems.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
      return problems;
    })();
    return this.running;
  }
}

/**
 * Processes whose working directory or command line is under `dir`. After a SIGKILL on a
 * postmaster its backends are orphaned (re-parented to init) and only exit when they notice; they
 * chdir into the data directory, which is how we find them without matching on names.
 */
export function processesUnder(dir: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    try {
      const cwd = readlinkSync(`/proc/${pid}/cwd`);
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
      if (cwd === dir || cwd.startsWith(`${dir}/`) || cmdline.includes(dir)) found.push(pid);
    } catch {
      // Gone already, or not ours to read.
    }
  }
  return found;
}

/**
 * Whether `pid` has not finished exiting: its /proc entry is there and it is not a zombie (Z) or
 * dead (X). A process being killed drops its working directory and command line early in its
 * exit (the kernel's do_exit releases them before the memory), so processesUnder no longer sees
 * it while it still runs; this is what waits for the end.
 */
function stillRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

/** SIGKILLs the leftovers under `dir` (by pid) and waits up to `timeoutMs` for them to go. */
export async function reapUnder(dir: string, timeoutMs = 5_000): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  const killed = new Set<number>();
  const kill = (pids: number[]): void => {
    for (const pid of pids) {
      if (killed.has(pid)) continue;
      killed.add(pid);
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Already exited.
      }
    }
  };
  const left = (): number[] => {
    const under = processesUnder(dir);
    kill(under);
    return [...new Set([...under, ...[...killed].filter(stillRunning)])];
  };
  let remaining = left();
  while (remaining.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    remaining = left();
  }
  return remaining;
}

/**
 * Registers, as the last undo to run before the run directory goes, the wait for every server
 * process the rehearsal started under `runDir`: a postmaster killed with SIGKILL leaves backends
 * that exit only when they notice, holding their data directory (and a CI job's next server on a
 * reused port would meet them). `npm run drill` returns only after they are gone.
 */
export function reapOnCleanup(cleanup: Cleanup, runDir: string): void {
  cleanup.add("stop leftover server processes", async () => {
    const left = await reapUnder(runDir);
    if (left.length > 0) throw new Error(`processes still running: ${left.join(", ")}`);
  });
}
