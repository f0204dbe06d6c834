import type * as S3 from "@aws-sdk/client-s3";
import type { PutObjectCommandInput, S3Client } from "@aws-sdk/client-s3";
import type * as LibStorage from "@aws-sdk/lib-storage";
import { Readable } from "node:stream";
import { DrctlError, explain } from "../errors";
import {
  existsError,
  StoreAccessDenied,
  StoreMissing,
  type PutOptions,
  type Store,
  type StoredObject,
} from "./store";

/**
 * 8 MiB parts × at most 10,000 parts per multipart upload = 78.1 GiB (83.9 GB) per dump, stored
 * bytes (after zstd). Without an explicit size, lib-storage uses 5 MiB parts for a stream of
 * unknown length, capping a dump at ~48.8 GiB
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html). An upload holds about
 * partSize × (queueSize + 2) (parts in flight, the part being gathered, and its concatenation):
 * 16 MiB parts put the agent at ~190 MiB RSS; 8 MiB keeps it well under 200 MB. Two parts in
 * flight, not one: with one, lib-storage stops reading (and pg_dump stalls) during every upload.
 * Pass `partSize` for a larger database.
 */
export const DEFAULT_PART_SIZE = 8 * 1024 * 1024;
export const DEFAULT_QUEUE_SIZE = 2;

/**
 * Object Lock retention set on every object drctl writes (create-only backups, docs/architecture.md §4): the CronJobs pass
 * DRCTL_OBJECT_LOCK_MODE and DRCTL_OBJECT_LOCK_DAYS, at least the tier's lifecycle expiration.
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock.html
 */
export interface ObjectLock {
  readonly mode: "GOVERNANCE" | "COMPLIANCE";
  readonly days: number;
}

export interface S3StoreOptions {
  /** S3-compatible endpoint (MinIO, s3rver, …); implies path-style addressing. */
  readonly endpoint?: string;
  /** KMS key for SSE-KMS; the bucket policy may deny uploads without it. */
  readonly sseKmsKeyId?: string;
  /** Retention for every object written. @default none (the bucket's default retention applies) */
  readonly objectLock?: ObjectLock;
  readonly region?: string;
  readonly partSize?: number;
  readonly queueSize?: number;
  /** Inject a client (tests with aws-sdk-client-mock). */
  readonly client?: S3Client;
}

interface S3ErrorLike {
  name?: string;
  $metadata?: { httpStatusCode?: number };
}

/** S3 refused a conditional write: the key already exists. */
function isPreconditionFailed(err: unknown): boolean {
  const e = err as S3ErrorLike;
  return e.name === "PreconditionFailed" || e.$metadata?.httpStatusCode === 412;
}

function isNoSuchBucket(err: unknown): boolean {
  return (err as S3ErrorLike).name === "NoSuchBucket";
}

function isAccessDenied(err: unknown): boolean {
  const e = err as S3ErrorLike;
  return e.name === "AccessDenied" || e.$metadata?.httpStatusCode === 403;
}

function isNotFound(err: unknown): boolean {
  const e = err as S3ErrorLike;
  return e.name === "NotFound" || e.name === "NoSuchKey" || e.$metadata?.httpStatusCode === 404;
}

/** `s3://bucket/prefix` on AWS or on any S3-compatible endpoint. */
export class S3Store implements Store {
  private sdk: Promise<Sdk> | undefined;
  private readonly partSize: number;
  private readonly queueSize: number;

  constructor(
    readonly url: string,
    readonly bucket: string,
    readonly prefix: string,
    private readonly options: S3StoreOptions = {},
  ) {
    this.partSize = options.partSize ?? DEFAULT_PART_SIZE;
    this.queueSize = options.queueSize ?? DEFAULT_QUEUE_SIZE;
  }

  /**
   * The SDK and the client, loaded on first use: the S3 SDK costs a few hundred milliseconds of
   * start-up that a backup to a file store should not pay.
   */
  private load(): Promise<Sdk> {
    this.sdk ??= loadSdk(this.options);
    return this.sdk;
  }

  private key(key: string): string {
    return this.prefix ? `${this.prefix}/${key}` : key;
  }

  /**
   * What every object write carries: SSE-KMS when configured; `If-None-Match: *`, which makes
   * S3 refuse (412) to replace an existing key (sent on PutObject and CompleteMultipartUpload,
   * https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html; the bucket
   * policy denies writes without it); and the Object Lock retention (sent on PutObject and
   * CreateMultipartUpload). lib-storage spreads these params into each of those requests, and the
   * SDK serialises a member only into the requests whose shape has it.
   */
  private writeParams(): Pick<
    PutObjectCommandInput,
    | "ServerSideEncryption"
    | "SSEKMSKeyId"
    | "IfNoneMatch"
    | "ObjectLockMode"
    | "ObjectLockRetainUntilDate"
  > {
    const lock = this.options.objectLock;
    return {
      IfNoneMatch: "*",
      ...(this.options.sseKmsKeyId
        ? { ServerSideEncryption: "aws:kms", SSEKMSKeyId: this.options.sseKmsKeyId }
        : {}),
      ...(lock
        ? {
            ObjectLockMode: lock.mode,
            ObjectLockRetainUntilDate: new Date(Date.now() + lock.days * 86_400_000),
          }
        : {}),
    };
  }

  async put(key: string, body: Readable, options: PutOptions = {}): Promise<void> {
    // The source's own error (e.g. "pg_dump exited with status 1") is the one worth reporting,
    // not a follow-on failure of the abort.
    let sourceError: unknown;
    body.once("error", (err) => (sourceError ??= err));
    const { client, Upload } = await this.load();
    const upload = new Upload({
      client,
      partSize: this.partSize,
      queueSize: this.queueSize,
      // On failure lib-storage sends AbortMultipartUpload, so no billed orphan parts are left.
      leavePartsOnError: false,
      params: {
        Bucket: this.bucket,
        Key: this.key(key),
        Body: body,
        ContentType: "application/octet-stream",
        ...(options.size !== undefined ? { ContentLength: options.size } : {}),
        ...this.writeParams(),
      },
    });
    try {
      await upload.done();
    } catch (err) {
      body.destroy();
      if (sourceError !== undefined) throw explain(sourceError, `store ${this.url}`);
      if (isPreconditionFailed(err)) throw existsError(this.url, key);
      throw this.failure(err);
    }
    if (sourceError !== undefined) throw explain(sourceError, `store ${this.url}`);
  }

  /** Small objects (manifests) in one request. */
  async putBytes(key: string, bytes: Buffer): Promise<void> {
    try {
      const sdk = await this.load();
      await sdk.client.send(
        new sdk.PutObjectCommand({
          Bucket: this.bucket,
          Key: this.key(key),
          Body: bytes,
          ContentLength: bytes.length,
          ContentType: "application/json",
          ...this.writeParams(),
        }),
      );
    } catch (err) {
      if (isPreconditionFailed(err)) throw existsError(this.url, key);
      throw this.failure(err);
    }
  }

  async get(key: string): Promise<Readable> {
    try {
      const sdk = await this.load();
      const out = await sdk.client.send(
        new sdk.GetObjectCommand({ Bucket: this.bucket, Key: this.key(key) }),
      );
      if (!(out.Body instanceof Readable)) throw new Error(`no body for ${key}`);
      return out.Body;
    } catch (err) {
      if (isNotFound(err) && !isNoSuchBucket(err)) {
        throw new DrctlError(`object ${key} not found in store ${this.url}`);
      }
      throw this.failure(err);
    }
  }

  /** Bytes `start` to `end` (inclusive) of an object, in memory: one part of a parallel download. */
  async getRange(key: string, start: number, end: number): Promise<Buffer> {
    try {
      const sdk = await this.load();
      const out = await sdk.client.send(
        new sdk.GetObjectCommand({
          Bucket: this.bucket,
          Key: this.key(key),
          Range: `bytes=${start}-${end}`,
        }),
      );
      if (!out.Body) throw new Error(`no body for ${key}`);
      return Buffer.from(await out.Body.transformToByteArray());
    } catch (err) {
      if (isNotFound(err) && !isNoSuchBucket(err)) {
        throw new DrctlError(`object ${key} not found in store ${this.url}`);
      }
      throw this.failure(err);
    }
  }

  async head(key: string): Promise<StoredObject | undefined> {
    try {
      const sdk = await this.load();
      const out = await sdk.client.send(
        new sdk.HeadObjectCommand({ Bucket: this.bucket, Key: this.key(key) }),
      );
      return { key, size: out.ContentLength ?? 0, lastModified: out.LastModified ?? new Date(0) };
    } catch (err) {
      // HEAD answers a bare 404 whether the key or the bucket is missing: listings tell them apart.
      if (isNotFound(err)) return undefined;
      throw this.failure(err);
    }
  }

  async list(prefix: string): Promise<StoredObject[]> {
    const out: StoredObject[] = [];
    const base = this.prefix ? `${this.prefix}/` : "";
    let token: string | undefined;
    try {
      const sdk = await this.load();
      do {
        const page = await sdk.client.send(
          new sdk.ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: base + prefix,
            ContinuationToken: token,
          }),
        );
        for (const o of page.Contents ?? []) {
          if (!o.Key) continue;
          out.push({
            key: o.Key.slice(base.length),
            size: o.Size ?? 0,
            lastModified: o.LastModified ?? new Date(0),
          });
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
    } catch (err) {
      throw this.failure(err);
    }
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string): Promise<void> {
    try {
      const sdk = await this.load();
      await sdk.client.send(
        new sdk.DeleteObjectCommand({ Bucket: this.bucket, Key: this.key(key) }),
      );
    } catch (err) {
      throw this.failure(err);
    }
  }

  /**
   * The bucket must exist: ListObjectsV2 of one key under `daily/`, which answers NoSuchBucket
   * for a bucket that is not there. Not HeadBucket: it needs s3:ListBucket with no s3:prefix,
   * and the job identities may list only with a tier prefix (components/backups/identity.ts),
   * so HeadBucket would be denied to them; every identity that reads backups may list `daily/`.
   * https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadBucket.html
   * https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html
   */
  async check(): Promise<void> {
    try {
      const sdk = await this.load();
      await sdk.client.send(
        new sdk.ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: `${this.prefix ? `${this.prefix}/` : ""}daily/`,
          MaxKeys: 1,
        }),
      );
    } catch (err) {
      throw this.failure(err);
    }
  }

  /** An SDK error as one line: a missing bucket (exit 2) and a denial get their own kinds. */
  private failure(err: unknown): Error {
    if (isNoSuchBucket(err)) {
      return new StoreMissing(
        `store ${this.url}: bucket ${this.bucket} does not exist (NoSuchBucket); check the bucket ` +
          `name in --store / DRCTL_STORE for a typo (a site's bucket is the stack output ` +
          `backupBucketName) and the endpoint (--s3-endpoint / DRCTL_S3_ENDPOINT)`,
      );
    }
    const e = explain(err, `store ${this.url}`);
    return isAccessDenied(err) ? new StoreAccessDenied(e.message) : e;
  }
}

/** What the store uses of the SDK, loaded together on first use. */
interface Sdk {
  readonly client: S3Client;
  readonly Upload: typeof LibStorage.Upload;
  readonly PutObjectCommand: typeof S3.PutObjectCommand;
  readonly GetObjectCommand: typeof S3.GetObjectCommand;
  readonly HeadObjectCommand: typeof S3.HeadObjectCommand;
  readonly ListObjectsV2Command: typeof S3.ListObjectsV2Command;
  readonly DeleteObjectCommand: typeof S3.DeleteObjectCommand;
}

async function loadSdk(options: S3StoreOptions): Promise<Sdk> {
  const [s3, { Upload }] = await Promise.all([
    import("@aws-sdk/client-s3"),
    import("@aws-sdk/lib-storage"),
  ]);
  return {
    client: options.client ?? newS3Client(s3, options),
    Upload,
    PutObjectCommand: s3.PutObjectCommand,
    GetObjectCommand: s3.GetObjectCommand,
    HeadObjectCommand: s3.HeadObjectCommand,
    ListObjectsV2Command: s3.ListObjectsV2Command,
    DeleteObjectCommand: s3.DeleteObjectCommand,
  };
}

/**
 * The client a store opened with `options` talks through: `drctl check` builds its bucket
 * queries on the same one, so they reach the same endpoint with the same settings.
 */
export function newS3Client(s3: typeof S3, options: S3StoreOptions): S3Client {
  return new s3.S3Client({
    region:
      options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? "us-east-1",
    ...(options.endpoint
      ? {
          endpoint: options.endpoint,
          forcePathStyle: true,
          // Many S3-compatible servers reject the flexible-checksum headers the SDK adds by default.
          requestChecksumCalculation: "WHEN_REQUIRED",
          responseChecksumValidation: "WHEN_REQUIRED",
        }
      : {}),
  });
}
