import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { freePort } from "../../drctl/src/postgres/localCluster";

/**
 * A real S3-speaking HTTP server (s3rver) on a loopback port, in a child process. It needs
 * --openssl-legacy-provider: its list continuation token is DES-encrypted, which OpenSSL 3
 * refuses otherwise. It has no versioning, object lock or AbortMultipartUpload.
 */
export class S3Server {
  private constructor(
    readonly endpoint: string,
    readonly dir: string,
    private readonly child: ChildProcess,
  ) {}

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
    return new S3Server(`http://127.0.0.1:${port}`, dir, child);
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
