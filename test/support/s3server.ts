import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import {
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import { connect, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { freePort } from "../../drctl/src/postgres/localCluster";

/** One request as the server received it, for tests that assert what drctl sends. */
export interface SeenRequest {
  readonly method: string;
  /** Path-style: `/bucket/key`. */
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
  /** The status the server answered with. */
  status?: number;
}

/**
 * A real S3-speaking HTTP server (s3rver) on a loopback port, in a child process, behind a small
 * HTTP front on another port that records every request and enforces what s3rver ignores:
 * conditional writes. A PutObject or CompleteMultipartUpload with `If-None-Match: *` onto a key
 * that exists is answered 412 PreconditionFailed, as S3 does
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html); s3rver only
 * honours If-None-Match on GET. s3rver needs --openssl-legacy-provider: its list continuation
 * token is DES-encrypted, which OpenSSL 3 refuses otherwise. It has no versioning, object lock or
 * AbortMultipartUpload.
 */
export class S3Server {
  private constructor(
    readonly endpoint: string,
    readonly dir: string,
    private readonly child: ChildProcess,
    private readonly front: Server,
    /** Every request received, oldest first. */
    readonly requests: SeenRequest[],
  ) {}

  /** Requests that write an object (PUT object, UploadPart, CompleteMultipartUpload), in order. */
  objectWrites(): SeenRequest[] {
    return this.requests.filter(
      (r) =>
        (r.method === "PUT" && r.path.split("/").length > 2) ||
        (r.method === "POST" && r.query.has("uploadId")),
    );
  }

  static async start(): Promise<S3Server> {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), "drctl-s3rver-"));
    const bin = join(__dirname, "..", "..", "node_modules", "s3rver", "bin", "s3rver.js");
    const child = spawn(
      process.execPath,
      [
        "--openssl-legacy-provider",
        bin,
        "-d",
        dir,
        "-a",
        "127.0.0.1",
        "-p",
        String(port),
        "--silent",
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    let stderr = "";
    child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
    const deadline = Date.now() + 20_000;
    while (!(await accepts(port))) {
      if (child.exitCode !== null) throw new Error(`s3rver exited: ${stderr.trim()}`);
      if (Date.now() > deadline) {
        child.kill("SIGKILL");
        throw new Error(`s3rver not listening on ${port} after 20 s: ${stderr.trim()}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    const seen: SeenRequest[] = [];
    const front = createServer((req, res) => void forward(port, req, res, seen));
    await new Promise<void>((r) => front.listen(0, "127.0.0.1", r));
    return new S3Server(
      `http://127.0.0.1:${(front.address() as AddressInfo).port}`,
      dir,
      child,
      front,
      seen,
    );
  }

  /** A client for the test itself (drctl builds its own from the endpoint). */
  client(): S3Client {
    return new S3Client({
      endpoint: this.endpoint,
      region: "us-east-1",
      forcePathStyle: true,
      credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
    });
  }

  async createBucket(name: string): Promise<void> {
    const client = this.client();
    await client.send(new CreateBucketCommand({ Bucket: name }));
    client.destroy();
  }

  /** Environment under which drctl (and the SDK's default credential chain) reaches this server. */
  env(): NodeJS.ProcessEnv {
    return {
      DRCTL_S3_ENDPOINT: this.endpoint,
      AWS_ACCESS_KEY_ID: "S3RVER",
      AWS_SECRET_ACCESS_KEY: "S3RVER",
      AWS_REGION: "us-east-1",
    };
  }

  async stop(): Promise<void> {
    await new Promise<void>((r) => {
      this.front.close(() => r());
      this.front.closeAllConnections();
    });
    if (this.child.exitCode === null) {
      const exited = new Promise((r) => this.child.once("exit", r));
      this.child.kill("SIGTERM");
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** Sends `req` on to s3rver on `port`, body and all, and resolves with its answer. */
function upstream(port: number, req: IncomingMessage): Promise<IncomingMessage> {
  return new Promise<IncomingMessage>((resolve, reject) => {
    const out = httpRequest(
      { host: "127.0.0.1", port, method: req.method, path: req.url, headers: req.headers },
      resolve,
    );
    out.on("error", reject);
    req.pipe(out);
  });
}

/** Whether the object at `path` (`/bucket/key`) exists in s3rver. */
async function exists(port: number, path: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const r = httpRequest({ host: "127.0.0.1", port, method: "HEAD", path }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    r.on("error", reject);
    r.end();
  });
}

async function forward(
  port: number,
  req: IncomingMessage,
  res: ServerResponse,
  seen: SeenRequest[],
): Promise<void> {
  const url = new URL(req.url ?? "/", "http://x");
  const record: SeenRequest = {
    method: req.method ?? "GET",
    path: url.pathname,
    query: url.searchParams,
    headers: req.headers,
  };
  seen.push(record);
  try {
    const creates =
      (record.method === "PUT" && !url.searchParams.has("partNumber")) ||
      (record.method === "POST" && url.searchParams.has("uploadId"));
    if (creates && req.headers["if-none-match"] === "*" && (await exists(port, url.pathname))) {
      req.resume();
      record.status = 412;
      res.writeHead(412, { "content-type": "application/xml" });
      res.end(
        `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>PreconditionFailed</Code>` +
          `<Message>At least one of the pre-conditions you specified did not hold</Message>` +
          `<Condition>If-None-Match</Condition></Error>`,
      );
      return;
    }
    const answer = await upstream(port, req);
    record.status = answer.statusCode;
    res.writeHead(answer.statusCode ?? 502, answer.headers);
    answer.pipe(res);
  } catch (err) {
    record.status = 502;
    res.writeHead(502);
    res.end(String(err));
  }
}
