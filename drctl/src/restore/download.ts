import { createWriteStream } from "node:fs";
import { open, statfs } from "node:fs/promises";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { DrctlError } from "../errors";
import { HashGate, runTool, zstdPath, type Tool } from "../postgres/tools";

/** Bytes free for an unprivileged user on the file system holding `dir`, or undefined. */
export async function freeBytes(dir: string): Promise<number | undefined> {
  try {
    const s = await statfs(dir);
    return s.bavail * s.bsize;
  } catch {
    return undefined;
  }
}

/** ENOSPC, from Node or in the words zstd prints it. */
function outOfSpace(err: unknown, stderr = ""): boolean {
  return (
    (err as NodeJS.ErrnoException | undefined)?.code === "ENOSPC" ||
    /No space left on device/i.test(stderr)
  );
}

/** A full TMPDIR, said as such: not a corrupt archive. */
export async function tmpdirFull(dir: string, file: string, written: number): Promise<DrctlError> {
  const free = await freeBytes(dir);
  return new DrctlError(
    `no space left in TMPDIR (${dir}) writing ${file} after ${written} bytes` +
      `${free !== undefined ? ` (${free} bytes free)` : ""}; restore needs room for the ` +
      `uncompressed dump there: set TMPDIR to a larger volume`,
  );
}

/**
 * Downloads a dump into `file`, hashing the bytes as stored; a zstd-wrapped dump is unwrapped on
 * the way (pg_restore < 16 cannot read it) by a zstd that writes the file itself. The digest is
 * undefined when the download did not complete, so the caller reports a checksum failure; a full
 * file system is reported as such.
 */
export async function download(
  input: Readable,
  file: string,
  scratchDir: string,
  envelope: "none" | "zstd",
  env: NodeJS.ProcessEnv,
  onBytes: (n: number) => void,
): Promise<{ sha256: string | undefined; bytes: number }> {
  const gate = new HashGate(() => Promise.resolve(), onBytes);
  if (envelope === "zstd") {
    const out = await open(file, "wx", 0o600);
    let unzstd: Tool | undefined;
    try {
      unzstd = runTool("zstd", zstdPath(env), ["-d", "-q", "-c"], {
        stdio: ["pipe", out.fd, "pipe"],
      });
      await Promise.all([pipeline(input, gate, unzstd.child.stdin!), unzstd.done]).catch(
        async (err: unknown) => {
          await unzstd?.done.catch(() => undefined);
          if (outOfSpace(err, unzstd?.stderr())) {
            throw await tmpdirFull(scratchDir, file, (await out.stat()).size);
          }
          // A corrupt frame makes zstd fail; the checksum comparison says why more usefully.
          if (gate.bytes === 0) throw err;
        },
      );
    } finally {
      await out.close();
    }
  } else {
    const sink = createWriteStream(file, { highWaterMark: 4 << 20, mode: 0o600, flags: "wx" });
    try {
      await pipeline(input, gate, sink);
    } catch (err) {
      if (outOfSpace(err)) throw await tmpdirFull(scratchDir, file, sink.bytesWritten);
      throw err;
    }
  }
  try {
    return { sha256: gate.sha256(), bytes: gate.bytes };
  } catch {
    return { sha256: undefined, bytes: gate.bytes };
  }
}
