import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { FileStore } from "../../drctl/src/store";

let root: string;
let store: FileStore;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "drctl-filestore-"));
  store = new FileStore(`file://${root}`, root);
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Every file under the store's root, relative, sorted. */
function files(): string[] {
  return readdirSync(root, { recursive: true })
    .map(String)
    .filter((f) => statSync(join(root, f)).isFile())
    .sort();
}

/** Polls until `predicate` holds, failing after two seconds. */
async function until(predicate: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !predicate(); i++) await sleep(10);
  expect(predicate()).toBe(true);
}

describe("FileStore.put", () => {
  it("stores the streamed bytes exactly and leaves no temporary file", async () => {
    // 24 MiB in 64 KiB chunks: several write-behind flushes' worth, as a pipe delivers it.
    const chunk = Buffer.alloc(64 * 1024);
    const chunks = Array.from({ length: 384 }, (_, i) => Buffer.from(chunk.fill(i % 251)));
    const expected = createHash("sha256").update(Buffer.concat(chunks)).digest("hex");
    await store.put("daily/a/dump", Readable.from(chunks));
    const stored = readFileSync(join(root, "daily", "a", "dump"));
    expect(stored.length).toBe(24 * 1024 * 1024);
    expect(createHash("sha256").update(stored).digest("hex")).toBe(expected);
    expect(files()).toEqual(["daily/a/dump"]);
  });

  it("shows nothing at the key until the body ended cleanly", async () => {
    const body = new PassThrough();
    const put = store.put("daily/b/dump", body);
    body.write(Buffer.alloc(1000, 7));
    // The bytes are on their way into a temporary file; the key itself does not exist yet.
    await until(() => files().some((f) => f.startsWith("daily/b/dump.drctl-tmp-")));
    expect(existsSync(join(root, "daily", "b", "dump"))).toBe(false);
    body.end(Buffer.alloc(24, 8));
    await put;
    expect(readFileSync(join(root, "daily", "b", "dump")).length).toBe(1024);
    expect(files().filter((f) => f.startsWith("daily/b/"))).toEqual(["daily/b/dump"]);
  });

  it("rejects with the body's error and removes the partial file when the body fails", async () => {
    const body = new PassThrough();
    const put = store.put("daily/c/dump", body);
    body.write(Buffer.alloc(4096, 1));
    await until(() => files().some((f) => f.startsWith("daily/c/dump.drctl-tmp-")));
    body.destroy(new Error("pg_dump exited with status 1"));
    await expect(put).rejects.toThrow("pg_dump exited with status 1");
    expect(files().filter((f) => f.startsWith("daily/c/"))).toEqual([]);
  });

  it("rejects with the body's error when the body fails before the file is open", async () => {
    // A pg_dump refused at once: its error arrives while put still makes the directory. Without a
    // listener by then, the error event would be an uncaught exception that ends drctl.
    const body = new PassThrough();
    const put = store.put("daily/d/dump", body);
    body.destroy(new Error("pg_dump exited with status 1: pg_dump: error: disk quota exceeded"));
    await expect(put).rejects.toThrow("pg_dump exited with status 1: pg_dump: error: disk quota");
    expect(files().filter((f) => f.startsWith("daily/d/"))).toEqual([]);
    expect(body.listenerCount("error")).toBe(0);
  });
});
