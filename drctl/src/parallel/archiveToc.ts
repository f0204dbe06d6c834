import { open, stat } from "node:fs/promises";
import { join } from "node:path";
import { parseArchiveToc, type TocEntry } from "./archiveRows";
import { TOC_FILE } from "./layout";

/**
 * The table of contents of an archive pg_restore reads: a directory dump's toc.dat, or the start
 * of a custom archive (its TOC precedes the data), read in growing pieces until it parses.
 */
export async function archiveToc(path: string): Promise<TocEntry[]> {
  const file = (await stat(path)).isDirectory() ? join(path, TOC_FILE) : path;
  const handle = await open(file, "r");
  try {
    const size = (await handle.stat()).size;
    for (let want = 1 << 20; ; want *= 4) {
      const buf = Buffer.alloc(Math.min(want, size));
      const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
      const toc = parseArchiveToc(buf.subarray(0, bytesRead));
      if (toc) return toc.entries;
      if (bytesRead >= size) throw new Error(`${file} ends inside its table of contents`);
    }
  } finally {
    await handle.close();
  }
}
