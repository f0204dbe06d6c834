import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { ROW_COUNT_FUNCTIONS, type CountKind, type StreamRows } from "./archiveRows";

/**
 * SHA-256 (and row counts, archiveRows.ts) on worker threads. `createHash().update()` runs on the
 * thread that calls it, so "hash N files at once" on the main thread is one core's worth (~1.7
 * GB/s with SHA-NI) however many reads are in flight: it made verifying a 776 MB directory dump
 * take 0.76 s before `pg_restore --jobs 2` could start, where two cores need 0.25 s. Node's
 * `crypto` and `zlib` are available in workers
 * (https://nodejs.org/docs/latest-v20.x/api/worker_threads.html).
 *
 * The worker's source is inline (eval) so that it runs the same under the compiled image, ts-node
 * and vitest; the counting functions are spliced in from their compiled text. A file is read with
 * a 4 MiB buffer, so each worker holds ~4 MiB besides its heap; a stream job (`hashStream`) holds
 * up to STREAM_SLOTS × STREAM_BATCH_BYTES (8 MiB) of shared slots.
 */
const WORKER_SOURCE = `
"use strict";
const { parentPort } = require("node:worker_threads");
const { createHash } = require("node:crypto");
const { open } = require("node:fs/promises");
const zlib = require("node:zlib");
${ROW_COUNT_FUNCTIONS.map((f) => f.toString()).join("\n")}
const cancelled = new Set();
const streams = new Map();
const buf = Buffer.allocUnsafe(4 << 20);
const failed = (id, err) =>
  parentPort.postMessage({ id, error: String(err && err.message), code: err && err.code });
const counted = async (counter) => {
  if (!counter) return undefined;
  try {
    return await counter.finish();
  } catch (err) {
    return { error: String(err && err.message) };
  }
};
async function hashFile({ id, path, count }) {
  let handle;
  try {
    handle = await open(path, "r");
    const hash = createHash("sha256");
    const counter = count ? streamRowCounter(count, zlib) : undefined;
    let bytes = 0;
    for (;;) {
      if (cancelled.delete(id)) throw Object.assign(new Error("hash aborted"), { code: "ABORT_ERR" });
      const { bytesRead } = await handle.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      hash.update(buf.subarray(0, bytesRead));
      if (counter) await counter.feed(buf, 0, bytesRead);
      bytes += bytesRead;
      parentPort.postMessage({ id, n: bytesRead });
    }
    parentPort.postMessage({ id, sha256: hash.digest("hex"), bytes, rows: await counted(counter) });
  } catch (err) {
    failed(id, err);
  } finally {
    cancelled.delete(id);
    if (handle) await handle.close().catch(() => undefined);
  }
}
async function streamStep(s, msg) {
  if (msg.chunk) {
    const chunk = Buffer.from(msg.chunk, 0, msg.length);
    if (s.hash) s.hash.update(chunk);
    s.bytes += msg.length;
    if (s.counter) {
      try {
        await s.counter.feed(chunk, 0, msg.length);
      } catch (err) {
        s.countError = String(err && err.message);
        s.counter = undefined;
      }
    }
    parentPort.postMessage({ id: msg.id, ack: msg.length });
    return;
  }
  streams.delete(msg.id);
  const rows = s.countError ? { error: s.countError } : await counted(s.counter);
  parentPort.postMessage({
    id: msg.id,
    sha256: s.hash ? s.hash.digest("hex") : "",
    bytes: s.bytes,
    rows,
  });
}
parentPort.on("message", (msg) => {
  if (msg.cancel !== undefined) {
    cancelled.add(msg.cancel);
    return;
  }
  if (msg.path !== undefined) return void hashFile(msg);
  if (msg.open) {
    streams.set(msg.id, {
      hash: msg.hash ? createHash("sha256") : undefined,
      counter: msg.count ? streamRowCounter(msg.count, zlib) : undefined,
      bytes: 0,
      chain: Promise.resolve(),
    });
    return;
  }
  const s = streams.get(msg.id);
  if (!s) return;
  // In order: a compressed table's decompression is asynchronous.
  s.chain = s.chain.then(() => streamStep(s, msg)).catch((err) => failed(msg.id, err));
});
`;

/** What the worker could count, or why it could not. */
export type RowsResult = StreamRows & { readonly error?: string };

export interface FileHash {
  readonly sha256: string;
  readonly bytes: number;
  /** With `count`: the rows of the data file, or why they could not be counted. */
  readonly rows?: RowsResult;
}

type Reply =
  | { id: number; n: number }
  | { id: number; ack: number }
  | { id: number; sha256: string; bytes: number; rows?: RowsResult }
  | { id: number; error: string; code?: string };

interface Job {
  readonly id: number;
  /** A file to hash, or a stream job's first message. */
  readonly message: Record<string, unknown>;
  readonly label: string;
  readonly onBytes: (n: number) => void;
  readonly resolve: (r: FileHash) => void;
  readonly reject: (e: Error) => void;
  readonly signal?: AbortSignal;
  /** Called once the job has a worker, with the job's id. */
  readonly started?: (worker: Worker, id: number) => void;
}

class HashPool {
  private readonly idle: Worker[] = [];
  private readonly busy = new Map<Worker, Job>();
  private readonly queue: Job[] = [];
  private nextId = 0;

  constructor(private readonly size: number) {}

  run(job: Omit<Job, "id" | "resolve" | "reject">): { id: number; done: Promise<FileHash> } {
    const id = this.nextId++;
    const done = new Promise<FileHash>((resolve, reject) => {
      if (job.signal?.aborted) return reject(job.signal.reason as Error);
      this.queue.push({ ...job, id, resolve, reject });
      this.pump();
    });
    return { id, done };
  }

  private pump(): void {
    while (this.queue.length > 0) {
      const worker = this.idle.pop() ?? (this.total() < this.size ? this.spawn() : undefined);
      if (!worker) return;
      const job = this.queue.shift()!;
      if (job.signal?.aborted) {
        this.idle.push(worker);
        job.reject(job.signal.reason as Error);
        continue;
      }
      this.busy.set(worker, job);
      // A busy worker keeps the process alive; an idle one must not.
      worker.ref();
      job.signal?.addEventListener("abort", () => worker.postMessage({ cancel: job.id }), {
        once: true,
      });
      worker.postMessage({ id: job.id, ...job.message });
      job.started?.(worker, job.id);
    }
  }

  private total(): number {
    return this.idle.length + this.busy.size;
  }

  private spawn(): Worker {
    const worker = new Worker(WORKER_SOURCE, { eval: true });
    worker.on("message", (msg: Reply) => {
      const job = this.busy.get(worker);
      if (!job || job.id !== msg.id) return;
      if ("n" in msg) return job.onBytes(msg.n);
      if ("ack" in msg) return job.onBytes(msg.ack);
      this.busy.delete(worker);
      worker.unref();
      this.idle.push(worker);
      if ("error" in msg) {
        job.reject(
          job.signal?.aborted
            ? (job.signal.reason as Error)
            : Object.assign(new Error(`${msg.error} (${job.label})`), { code: msg.code }),
        );
      } else {
        job.resolve({ sha256: msg.sha256, bytes: msg.bytes, rows: msg.rows });
      }
      this.pump();
    });
    worker.on("error", (err) => {
      const job = this.busy.get(worker);
      this.busy.delete(worker);
      job?.reject(err);
      this.pump();
    });
    worker.unref();
    return worker;
  }
}

/** One pool per process, a worker per core (capped at 4: more readers than that only queue). */
const pool = new HashPool(Math.min(4, Math.max(1, availableParallelism())));

/**
 * The SHA-256 and size of a file, hashed on a worker thread; calls run on as many cores as the
 * machine has (up to 4) at once, and the rest queue. `onBytes` reports progress on this thread.
 * With `count`, the worker also counts the rows of the file as that kind of data (archiveRows.ts).
 */
export function hashFileOffThread(
  path: string,
  onBytes: (n: number) => void = () => undefined,
  signal?: AbortSignal,
  count?: CountKind | "lz4",
): Promise<FileHash> {
  return pool.run({ message: { path, count }, label: path, onBytes, signal }).done;
}

/** Bytes of one batch of a stream job, and how many may wait for the worker at once. */
export const STREAM_BATCH_BYTES = 1 << 20;
export const STREAM_SLOTS = 8;

/** A stream hashed (and counted) on a worker thread, fed batches of up to STREAM_BATCH_BYTES. */
export interface StreamJob {
  /**
   * Copies `data` into one of STREAM_SLOTS shared buffers the worker reads it from; resolves once
   * it is copied, which waits while every slot is still being read. `data` must not change until.
   */
  push(data: Buffer): Promise<void>;
  /** Ends the stream: its SHA-256 (empty without `hash`), size and rows. */
  end(): Promise<FileHash>;
}

/**
 * Starts a stream job: with `hash` the worker computes the SHA-256 of every byte pushed, with
 * `count` it counts rows as that kind of stream. The slots are SharedArrayBuffers, reused once
 * the worker acknowledged them (in order): a buffer posted to a worker and dropped would be freed
 * only when both threads' garbage collectors let it go, and a worker that allocates little
 * collects rarely, so fresh buffers grew the process by their total.
 */
export function hashStream(options: {
  hash: boolean;
  count?: CountKind;
  onBytes?: (n: number) => void;
}): StreamJob {
  let worker: Worker | undefined;
  let jobId = -1;
  let ended = false;
  let allocated = 0;
  const free: SharedArrayBuffer[] = [];
  const reading: SharedArrayBuffer[] = [];
  const early: [SharedArrayBuffer, number][] = [];
  const waiters: (() => void)[] = [];
  const post = (w: Worker, slot: SharedArrayBuffer, length: number): void =>
    w.postMessage({ id: jobId, chunk: slot, length });
  const { done } = pool.run({
    message: { open: true, hash: options.hash, count: options.count },
    label: "dump stream",
    onBytes: (n) => {
      free.push(reading.shift()!);
      options.onBytes?.(n);
      waiters.shift()?.();
    },
    started: (w, id) => {
      worker = w;
      jobId = id;
      for (const [slot, length] of early.splice(0)) post(w, slot, length);
      if (ended) w.postMessage({ id, end: true });
    },
  });
  const slot = async (): Promise<SharedArrayBuffer> => {
    for (;;) {
      const s =
        free.pop() ??
        (allocated < STREAM_SLOTS
          ? (allocated++, new SharedArrayBuffer(STREAM_BATCH_BYTES))
          : undefined);
      if (s) return s;
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  };
  return {
    async push(data) {
      const s = await slot();
      data.copy(Buffer.from(s));
      reading.push(s);
      if (worker) post(worker, s, data.length);
      else early.push([s, data.length]);
    },
    end() {
      ended = true;
      worker?.postMessage({ id: jobId, end: true });
      return done;
    },
  };
}
