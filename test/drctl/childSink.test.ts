import { describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { ChildSink } from "../../drctl/src/postgres/tools";

/**
 * The cause of verify --deep's false "Premature close": pg_restore reads an archive to its last
 * block and exits without waiting for end-of-file, and Node destroys a child's stdin when the
 * child exits. `head -c N` behaves the same way (it exits once it has N bytes), and a source
 * that ends a little after its last byte makes the race certain instead of occasional.
 */
const BYTES = 256 * 1024;

function lateEndingSource(): Readable {
  return Readable.from(
    (async function* () {
      yield Buffer.alloc(BYTES, 7);
      await sleep(300);
    })(),
  );
}

function head(): ReturnType<typeof spawn> {
  return spawn("head", ["-c", String(BYTES)], { stdio: ["pipe", "ignore", "ignore"] });
}

describe("feeding a program that exits at the end of what it needs", () => {
  it("a plain pipeline into its stdin fails with Premature close although every byte arrived", async () => {
    const child = head();
    const exited = new Promise<number | null>((r) => child.once("exit", r));
    await expect(pipeline(lateEndingSource(), child.stdin!)).rejects.toMatchObject({
      code: "ERR_STREAM_PREMATURE_CLOSE",
    });
    expect(await exited).toBe(0);
  });

  it("ChildSink finishes cleanly, delivers every byte and leaves the verdict to the exit status", async () => {
    const child = head();
    const exited = new Promise<number | null>((r) => child.once("exit", r));
    const sink = new ChildSink(child.stdin!);
    await pipeline(lateEndingSource(), sink);
    expect(await exited).toBe(0);
    expect(sink.dropped).toBe(0);
  });

  it("counts what it could not deliver when the program stops reading early", async () => {
    const child = spawn("head", ["-c", "1"], { stdio: ["pipe", "ignore", "ignore"] });
    const exited = new Promise<number | null>((r) => child.once("exit", r));
    const sink = new ChildSink(child.stdin);
    const source = Readable.from(
      (async function* () {
        yield Buffer.alloc(1, 1);
        await exited;
        await sleep(50); // Node closes the stdin of an exited child on a later tick
        yield Buffer.alloc(1000, 1);
      })(),
    );
    await pipeline(source, sink);
    expect(sink.dropped).toBe(1000);
  });
});
