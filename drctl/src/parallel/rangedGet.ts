import { Readable } from "node:stream";
import { S3Store, type Store } from "../store";

/**
 * 8 MiB ranges, four in flight: S3 serves each connection at tens of MB/s, and AWS's guidance for
 * large objects is parallel byte-range GETs
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/optimizing-performance-guidelines.html,
 * "Use byte-range fetches"). The reader holds at most RANGE_BYTES × RANGES_IN_FLIGHT (32 MiB).
 */
export const RANGE_BYTES = 8 * 1024 * 1024;
export const RANGES_IN_FLIGHT = 4;
/** A range whose body failed mid-way is fetched again this many times in all. */
const ATTEMPTS = 3;

export interface RangedReadOptions {
  /** @default RANGE_BYTES */
  readonly rangeBytes?: number;
  /** @default RANGES_IN_FLIGHT */
  readonly inFlight?: number;
}

/**
 * The bytes of a `size`-byte object in order, fetched as ranges several at a time: the stream a
 * restore hashes (and unwraps) on its way into the scratch file, so the SHA-256 is still of the
 * bytes as stored, in order, and checked before pg_restore starts.
 */
export function rangedReader(
  fetchRange: (start: number, end: number) => Promise<Buffer>,
  size: number,
  options: RangedReadOptions = {},
): Readable {
  const rangeBytes = options.rangeBytes ?? RANGE_BYTES;
  const inFlight = options.inFlight ?? RANGES_IN_FLIGHT;
  const count = Math.ceil(size / rangeBytes);
  const pending = new Map<number, Promise<Buffer>>();
  let requested = 0;
  let emitted = 0;
  const fetchPart = async (i: number): Promise<Buffer> => {
    const start = i * rangeBytes;
    const end = Math.min(size, start + rangeBytes) - 1;
    for (let attempt = 1; ; attempt++) {
      try {
        const buf = await fetchRange(start, end);
        if (buf.length !== end - start + 1) {
          throw new Error(`range ${start}-${end} returned ${buf.length} bytes`);
        }
        return buf;
      } catch (err) {
        if (attempt >= ATTEMPTS) throw err;
      }
    }
  };
  const topUp = (): void => {
    while (requested < count && pending.size < inFlight) {
      const p = fetchPart(requested);
      p.catch(() => undefined);
      pending.set(requested++, p);
    }
  };
  return new Readable({
    highWaterMark: 0,
    read() {
      if (emitted >= count) {
        this.push(null);
        return;
      }
      topUp();
      const i = emitted;
      pending.get(i)!.then(
        (buf) => {
          pending.delete(i);
          emitted++;
          topUp();
          this.push(buf);
        },
        (err: Error) => this.destroy(err),
      );
    },
  });
}

/** A dump's bytes from the store: ranged and parallel from S3, one stream from anything else. */
export async function openDump(store: Store, key: string, size: number): Promise<Readable> {
  if (store instanceof S3Store && size > RANGE_BYTES) {
    return rangedReader((start, end) => store.getRange(key, start, end), size);
  }
  return store.get(key);
}
