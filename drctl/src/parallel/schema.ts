import { z } from "zod";
import { DUMP_FILE_NAME, TOC_FILE, listingDigest } from "./layout";

/** One file of a directory-format dump (manifest `files`). */
export const DumpFile = z.object({
  name: z.string().regex(DUMP_FILE_NAME, "expected a file name pg_dump -Fd writes"),
  size: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});

interface DumpShape {
  readonly format: "custom" | "directory";
  readonly dump: { readonly size: number; readonly sha256: string };
  readonly files?: readonly z.infer<typeof DumpFile>[];
}

/**
 * A directory dump's manifest lists every file, once, toc.dat among them, and its `dump` size and
 * digest are those of the listing; a custom dump lists none. Checked when the manifest is read, so
 * a manifest that was edited by hand cannot point a restore at fewer files than were dumped.
 */
export function checkDumpFiles(m: DumpShape, ctx: z.RefinementCtx): void {
  if (m.format === "custom") {
    if (m.files !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["files"],
        message: "a custom-format dump has no files",
      });
    }
    return;
  }
  const files = m.files ?? [];
  const issue = (message: string): void =>
    ctx.addIssue({ code: "custom", path: ["files"], message });
  if (!files.some((f) => f.name === TOC_FILE)) issue(`a directory dump needs its ${TOC_FILE}`);
  if (new Set(files.map((f) => f.name)).size !== files.length) issue("a file is listed twice");
  if (files.reduce((n, f) => n + f.size, 0) !== m.dump.size) {
    issue("dump.size is not the sum of the files' sizes");
  }
  if (listingDigest(files) !== m.dump.sha256) {
    issue("dump.sha256 is not the SHA-256 of the files' listing");
  }
}
