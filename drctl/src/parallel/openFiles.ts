import { readFile, readdir, readlink } from "node:fs/promises";

/**
 * Which files a process and its direct children hold open, from Linux's /proc: the one way a
 * Node process can tell that pg_dump has *closed* a file (Node's fs.watch exposes no
 * IN_CLOSE_WRITE). pg_dump -j forks its workers from the leader, so the leader's children are
 * every process that may write the dump
 * (https://git.postgresql.org/gitweb/?p=postgresql.git;a=blob;f=src/bin/pg_dump/parallel.c,
 * ParallelBackupStart forks on Unix).
 *
 * Callers must list the directory *before* asking this: a file that was in the listing and is
 * not open afterwards has been closed, whereas one created between the two calls could look
 * closed if the order were reversed.
 */
export async function filesOpenBy(rootPid: number): Promise<Set<string>> {
  const pids = [rootPid, ...(await childrenOf(rootPid))];
  const open = new Set<string>();
  await Promise.all(
    pids.map(async (pid) => {
      let fds: string[];
      try {
        fds = await readdir(`/proc/${pid}/fd`);
      } catch {
        return; // exited: everything it held is closed
      }
      await Promise.all(
        fds.map(async (fd) => {
          const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => undefined);
          if (target?.startsWith("/")) open.add(target);
        }),
      );
    }),
  );
  return open;
}

/**
 * Direct children of `pid`: /proc/<pid>/task/<tid>/children where the kernel has it
 * (CONFIG_PROC_CHILDREN, https://docs.kernel.org/filesystems/proc.html section 3.7), else every
 * /proc/<n>/stat whose parent field is `pid`.
 */
async function childrenOf(pid: number): Promise<number[]> {
  try {
    const tasks = await readdir(`/proc/${pid}/task`);
    const lists = await Promise.all(
      tasks.map((t) => readFile(`/proc/${pid}/task/${t}/children`, "utf8")),
    );
    return lists.flatMap((l) => l.split(/\s+/).filter(Boolean).map(Number));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") return [];
  }
  const out: number[] = [];
  for (const entry of await readdir("/proc").catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, "utf8").catch(() => "");
    // The second field is "(comm)", which may itself hold spaces or parentheses: parse after it.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(fields[1]) === pid) out.push(Number(entry));
  }
  return out;
}
