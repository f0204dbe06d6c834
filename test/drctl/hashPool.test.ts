import { afterAll, describe, expect, it } from "vitest";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  STREAM_BATCH_BYTES,
  hashFileOffThread,
  hashStream,
} from "../../drctl/src/parallel/hashPool";

describe("hashFileOffThread", () => {
  const dir = mkdtempSync(join(tmpdir(), "drctl-hash-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("gives each file's SHA-256 and size, several at once, reporting every byte", async () => {
    // Sizes around the worker's 4 MiB read buffer, and an empty file.
    const sizes = [0, 1, (4 << 20) - 1, 4 << 20, (9 << 20) + 17];
    const files = sizes.map((n, i) => {
      const bytes = randomBytes(n);
      const path = join(dir, `f${i}`);
      writeFileSync(path, bytes);
      return { path, bytes };
    });
    let reported = 0;
    const got = await Promise.all(
      files.map((f) => hashFileOffThread(f.path, (n) => (reported += n))),
    );
    expect(got).toEqual(
      files.map((f) => ({
        sha256: createHash("sha256").update(f.bytes).digest("hex"),
        bytes: f.bytes.length,
      })),
    );
    expect(reported).toBe(sizes.reduce((a, b) => a + b, 0));
  });

  it("rejects a missing file with ENOENT, as fs does", async () => {
    await expect(hashFileOffThread(join(dir, "absent"))).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("rejects with the signal's reason once aborted", async () => {
    const path = join(dir, "big");
    writeFileSync(path, randomBytes(32 << 20));
    const controller = new AbortController();
    const reason = new Error("stopped by the test");
    controller.abort(reason);
    await expect(hashFileOffThread(path, undefined, controller.signal)).rejects.toBe(reason);
  });

  it("hashes and counts a stream pushed in batches, reusing its slots", async () => {
    // 20 batches through 8 slots: pushes wait for the worker, and every byte still arrives once.
    const rows = Buffer.from("a\\tb\tc\n".repeat(STREAM_BATCH_BYTES / 8));
    const job = hashStream({ hash: true, count: "none" });
    const all = createHash("sha256");
    for (let i = 0; i < 20; i++) {
      const batch = Buffer.from(rows);
      batch[0] = 65 + i; // each batch differs, so a reused slot read twice would change the digest
      all.update(batch);
      await job.push(batch);
    }
    const result = await job.end();
    expect(result).toEqual({
      sha256: all.digest("hex"),
      bytes: 20 * rows.length,
      rows: { rows: 20 * (STREAM_BATCH_BYTES / 8) },
    });
  });
});
