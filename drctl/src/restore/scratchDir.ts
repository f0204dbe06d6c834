import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";

/**
 * The directory a restore keeps its plaintext copy of the dump in, under TMPDIR, named with the
 * pid of the drctl that made it: `drctl-restore-<pid>-XXXXXX`. drctl removes it when the restore
 * ends, however it ends; a drctl that was SIGKILLed cannot, so every restore first removes the
 * directories of drctl processes that no longer run. Only directories this user owns are touched.
 */
const PREFIX = "drctl-restore-";

export async function makeScratchDir(tmp: string): Promise<string> {
  await removeStaleScratch(tmp);
  return mkdtemp(join(tmp, `${PREFIX}${process.pid}-`));
}

/** Removes scratch directories of drctl processes that are gone; returns their paths. */
export async function removeStaleScratch(tmp: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(tmp);
  } catch {
    return [];
  }
  const removed: string[] = [];
  const uid = typeof process.getuid === "function" ? process.getuid() : undefined;
  for (const name of names) {
    const m = /^drctl-restore-(\d+)-[A-Za-z0-9]{6}$/.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (running(pid)) continue;
    const path = join(tmp, name);
    const s = await stat(path).catch(() => undefined);
    if (!s?.isDirectory() || (uid !== undefined && s.uid !== uid)) continue;
    await rm(path, { recursive: true, force: true });
    removed.push(path);
  }
  return removed;
}

/** Signal 0 checks that a process exists; EPERM means it does, under another user. */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
