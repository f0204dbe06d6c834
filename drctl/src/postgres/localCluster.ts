import { spawn, execFileSync, type ChildProcess, type SpawnOptions } from "node:child_process";
import { chownSync, closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "pg";
import { findPgBinary } from "./binaries";

/**
 * A throwaway PostgreSQL server on a loopback port: what the tests, the local drill and the
 * benchmarks run against. The postmaster is our direct child, so a crash is one SIGKILL away.
 */
export interface LocalClusterOptions {
  /** Directory for the data directory, socket and log. @default a new directory under os.tmpdir() */
  readonly baseDir?: string;
  /** TCP port on 127.0.0.1. @default a free port */
  readonly port?: number;
  /** Extra server settings, passed as `-c key=value`. @default {} */
  readonly settings?: Readonly<Record<string, string>>;
}

/** Asks the kernel for a free loopback port. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * initdb and postgres refuse to run as root. When we are root, server programs run as the
 * unprivileged OS user named by PG_OS_USER (default `postgres`, which Debian's package creates).
 */
export function serverSpawnIdentity(
  env: NodeJS.ProcessEnv = process.env,
): { uid: number; gid: number } | undefined {
  if (typeof process.getuid !== "function" || process.getuid() !== 0) return undefined;
  const user = env.PG_OS_USER ?? "postgres";
  try {
    const uid = Number(
      execFileSync("id", ["-u", user], { encoding: "utf8", stdio: "pipe" }).trim(),
    );
    const gid = Number(
      execFileSync("id", ["-g", user], { encoding: "utf8", stdio: "pipe" }).trim(),
    );
    return { uid, gid };
  } catch {
    throw new Error(
      `running as root, and the OS user "${user}" to run PostgreSQL as does not exist; ` +
        `create it (useradd --system ${user}), set PG_OS_USER to another unprivileged user, or run as non-root`,
    );
  }
}

/** Spawn options that run a server program as the identity above. */
export function serverSpawnOptions(): Pick<SpawnOptions, "uid" | "gid"> {
  return serverSpawnIdentity() ?? {};
}

/** Creates a directory the server's OS user owns. */
export function makeServerDir(prefix: string, parent = tmpdir()): string {
  const dir = mkdtempSync(join(parent, prefix));
  const who = serverSpawnIdentity();
  if (who) chownSync(dir, who.uid, who.gid);
  return dir;
}

function run(file: string, args: string[], what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { ...serverSpawnOptions(), stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout?.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr?.on("data", (d: Buffer) => (output += d.toString()));
    child.on("error", reject);
    child.on("exit", (code) =>
      code === 0 ? resolve() : reject(new Error(`${what} failed (exit ${code}): ${output.trim()}`)),
    );
  });
}

export class LocalCluster {
  readonly baseDir: string;
  readonly dataDir: string;
  readonly port: number;
  readonly logFile: string;
  private readonly settings: Readonly<Record<string, string>>;
  private child: ChildProcess | undefined;
  private exited: Promise<void> | undefined;

  private constructor(
    baseDir: string,
    dataDir: string,
    port: number,
    settings: Record<string, string>,
  ) {
    this.baseDir = baseDir;
    this.dataDir = dataDir;
    this.port = port;
    this.settings = settings;
    this.logFile = join(baseDir, `postgres-${port}.log`);
  }

  /** initdb a new cluster (not started). Superuser `postgres`, trust auth on loopback only. */
  static async init(options: LocalClusterOptions = {}): Promise<LocalCluster> {
    const baseDir = options.baseDir ?? makeServerDir("drstack-pg-");
    const port = options.port ?? (await freePort());
    const dataDir = join(baseDir, "data");
    const initdb = findPgBinary("initdb");
    await run(
      initdb.path,
      [
        "-D",
        dataDir,
        "-U",
        "postgres",
        "--auth=trust",
        "-E",
        "UTF8",
        "--locale=C.UTF-8",
        "--no-sync",
      ],
      "initdb",
    );
    return new LocalCluster(baseDir, dataDir, port, { ...options.settings });
  }

  /** Wraps a data directory made elsewhere (for example by pg_basebackup for a standby). */
  static fromDataDir(
    baseDir: string,
    dataDir: string,
    port: number,
    settings: Record<string, string> = {},
  ): LocalCluster {
    return new LocalCluster(baseDir, dataDir, port, settings);
  }

  /** Connection URL for `database` as the superuser, over TCP on loopback. */
  url(database = "postgres"): string {
    return `postgresql://postgres@127.0.0.1:${this.port}/${encodeURIComponent(database)}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  /** Starts the postmaster and waits until it accepts connections. */
  async start(timeoutMs = 30_000): Promise<void> {
    if (this.child) return;
    const postgres = findPgBinary("postgres");
    const settings: Record<string, string> = {
      listen_addresses: "127.0.0.1",
      unix_socket_directories: this.baseDir,
      ...this.settings,
    };
    const args = ["-D", this.dataDir, "-p", String(this.port)];
    for (const [key, value] of Object.entries(settings)) args.push("-c", `${key}=${value}`);
    const log = openSync(this.logFile, "a");
    const child = spawn(postgres.path, args, {
      ...serverSpawnOptions(),
      stdio: ["ignore", log, log],
    });
    closeSync(log);
    this.child = child;
    this.exited = new Promise((resolve) =>
      child.once("exit", () => {
        this.child = undefined;
        resolve();
      }),
    );
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!this.child) {
        throw new Error(`postgres on port ${this.port} exited during start-up: ${this.logTail()}`);
      }
      if (await this.accepts()) return;
      if (Date.now() > deadline) {
        await this.kill();
        throw new Error(
          `postgres on port ${this.port} not ready after ${timeoutMs} ms: ${this.logTail()}`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** True when a connection succeeds right now. */
  async accepts(): Promise<boolean> {
    const client = new Client({ connectionString: this.url(), connectionTimeoutMillis: 1000 });
    try {
      await client.connect();
      await client.query("select 1");
      return true;
    } catch {
      return false;
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  /** Fast shutdown (SIGINT), escalating to SIGKILL after `timeoutMs`. */
  async stop(timeoutMs = 30_000): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill("SIGINT");
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** Crash: SIGKILL to the postmaster. Its backends notice and exit on their own. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill("SIGKILL");
    await this.exited;
  }

  /** Last lines of the server log, for error messages. */
  logTail(lines = 5): string {
    try {
      return readFileSync(this.logFile, "utf8").trim().split("\n").slice(-lines).join(" | ");
    } catch {
      return "(no log)";
    }
  }

  /** Stops the server and deletes everything under baseDir. */
  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.baseDir, { recursive: true, force: true });
  }
}
