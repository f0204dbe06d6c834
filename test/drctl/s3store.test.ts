import { afterEach, describe, expect, it } from "vitest";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { Readable } from "node:stream";
import { S3Store } from "../../drctl/src/store/s3";
import { openStore } from "../../drctl/src/store";

// s3rver has no AbortMultipartUpload and ignores SSE-KMS, so these paths are checked against the
// SDK's own command stream (aws-sdk-client-mock), not a fake of S3's behaviour.
const s3 = mockClient(S3Client);
afterEach(() => s3.reset());

const MiB = 1024 * 1024;
const KEY_ID = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

function store(): S3Store {
  return new S3Store("s3://dr-bucket/site-a", "dr-bucket", "site-a", {
    client: new S3Client({
      region: "eu-west-1",
      credentials: { accessKeyId: "a", secretAccessKey: "b" },
    }),
    sseKmsKeyId: KEY_ID,
    partSize: 5 * MiB,
    queueSize: 1,
  });
}

/** Yields `parts` chunks of 5 MiB, then fails like a pg_dump that exited non-zero. */
function failingSource(parts: number): Readable {
  return Readable.from(
    (async function* () {
      for (let i = 0; i < parts; i++) yield Buffer.alloc(5 * MiB, i);
      await new Promise((r) => setTimeout(r, 10));
      throw new Error("pg_dump exited with status 1");
    })(),
  );
}

describe("S3Store", () => {
  it("aborts the multipart upload when the source stream fails, and reports the source's error", async () => {
    s3.on(CreateMultipartUploadCommand).resolves({ UploadId: "upload-1" });
    s3.on(UploadPartCommand).resolves({ ETag: '"etag"' });
    s3.on(AbortMultipartUploadCommand).resolves({});
    await expect(
      store().put("daily/20261122T021500Z-abcdef/dump", failingSource(2)),
    ).rejects.toThrow("pg_dump exited with status 1");
    expect(s3.commandCalls(AbortMultipartUploadCommand).map((c) => c.args[0].input)).toEqual([
      {
        Bucket: "dr-bucket",
        Key: "site-a/daily/20261122T021500Z-abcdef/dump",
        UploadId: "upload-1",
      },
    ]);
    expect(s3.commandCalls(CompleteMultipartUploadCommand)).toHaveLength(0);
  });

  it("never sends a PutObject for a small stream that fails before its end", async () => {
    const source = Readable.from(
      (async function* () {
        yield Buffer.from("PGDMP partial");
        await Promise.resolve();
        throw new Error("pg_dump was killed by SIGKILL");
      })(),
    );
    await expect(store().put("daily/x/dump", source)).rejects.toThrow(
      "pg_dump was killed by SIGKILL",
    );
    expect(s3.commandCalls(PutObjectCommand)).toHaveLength(0);
    expect(s3.commandCalls(CompleteMultipartUploadCommand)).toHaveLength(0);
  });

  it("sets SSE-KMS with the key id on multipart uploads and on manifests", async () => {
    s3.on(CreateMultipartUploadCommand).resolves({ UploadId: "upload-2" });
    s3.on(UploadPartCommand).resolves({ ETag: '"etag"' });
    s3.on(CompleteMultipartUploadCommand).resolves({});
    s3.on(PutObjectCommand).resolves({});
    const st = store();
    await st.put("daily/y/dump", Readable.from([Buffer.alloc(6 * MiB, 1)]));
    await st.putBytes("daily/y/manifest.json", Buffer.from("{}"));
    expect(s3.commandCalls(CreateMultipartUploadCommand)[0].args[0].input).toMatchObject({
      Bucket: "dr-bucket",
      Key: "site-a/daily/y/dump",
      ServerSideEncryption: "aws:kms",
      SSEKMSKeyId: KEY_ID,
    });
    expect(s3.commandCalls(UploadPartCommand).map((c) => c.args[0].input.PartNumber)).toEqual([
      1, 2,
    ]);
    expect(s3.commandCalls(PutObjectCommand)[0].args[0].input).toMatchObject({
      Key: "site-a/daily/y/manifest.json",
      ServerSideEncryption: "aws:kms",
      SSEKMSKeyId: KEY_ID,
      ContentLength: 2,
    });
  });

  it("uses 8 MiB parts by default: a dump of unknown length can reach 78 GiB, memory stays low", () => {
    const st = openStore("s3://dr-bucket/a/b/", { endpoint: "http://127.0.0.1:9000" }) as S3Store;
    expect(st.bucket).toBe("dr-bucket");
    expect(st.prefix).toBe("a/b");
    expect((st as unknown as { partSize: number }).partSize).toBe(8 * MiB);
    expect(8 * MiB * 10_000).toBeGreaterThan(78 * 1024 ** 3);
  });
});
