import { performance } from "node:perf_hooks";
import { Client } from "pg";

/** One acknowledged commit: the id, which node acknowledged it, and when (performance.now()). */
export interface Ack {
  readonly id: number;
  readonly node: string;
  readonly at: number;
}

export const WORKLOAD_TABLE = "rehearsal_writes";

/**
 * Small committed INSERTs from a few connections. An id counts as acknowledged only when the
 * server returned from its (autocommit) INSERT, i.e. COMMIT succeeded: those are the writes a
 * client has been promised, and RPO counts the ones the promoted node does not have. An INSERT
 * that errored (the connection died mid-commit) is "in doubt": it may or may not have committed,
 * and it is never counted as lost.
 */
export class Workload {
  readonly acks: Ack[] = [];
  inDoubt = 0;
  errors = 0;
  private nextId = 1;
  private stopping = false;
  private target: { url: string; node: string };
  private readonly loops: Promise<void>[] = [];
  private readonly clients = new Set<Client>();

  constructor(url: string, node: string) {
    this.target = { url, node };
  }

  /** Creates the table on `url` (before the standby is cloned, so the standby has it too). */
  static async prepare(url: string): Promise<void> {
    const c = new Client({ connectionString: url });
    await c.connect();
    try {
      await c.query(
        `create table if not exists ${WORKLOAD_TABLE} (id bigint primary key, writer int not null, at timestamptz not null default clock_timestamp())`,
      );
    } finally {
      await c.end();
    }
  }

  start(writers: number): void {
    for (let w = 0; w < writers; w++) this.loops.push(this.loop(w));
  }

  /** Sends every writer to another node (after a failover): they reconnect on their next try. */
  retarget(url: string, node: string): void {
    this.target = { url, node };
    for (const c of this.clients) void c.end().catch(() => undefined);
  }

  /** The first acknowledgement from `node` at or after `since`. */
  firstAckOn(node: string, since: number): Ack | undefined {
    return this.acks.find((a) => a.node === node && a.at >= since);
  }

  /** Resolves when `node` has acknowledged a write at or after `since`, or rejects at the deadline. */
  async waitForAck(node: string, since: number, timeoutMs: number): Promise<Ack> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.firstAckOn(node, since);
      if (hit) return hit;
      if (Date.now() > deadline) {
        throw new Error(
          `no write was acknowledged by the ${node} within ${timeoutMs} ms (${this.errors} errors so far)`,
        );
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.loops);
  }

  private async loop(writer: number): Promise<void> {
    let client: Client | undefined;
    let bound = "";
    while (!this.stopping) {
      const { url, node } = this.target;
      try {
        if (!client || bound !== url) {
          if (client) await client.end().catch(() => undefined);
          client = undefined;
          const c = new Client({ connectionString: url, connectionTimeoutMillis: 1_000 });
          // A dead server emits 'error' on the client outside any query; the next query reports it.
          c.on("error", () => undefined);
          await c.connect();
          client = c;
          bound = url;
          this.clients.add(c);
        }
      } catch {
        this.errors++;
        client = undefined;
        await new Promise((r) => setTimeout(r, 5));
        continue;
      }
      const id = this.nextId++;
      try {
        await client.query(`insert into ${WORKLOAD_TABLE} (id, writer) values ($1, $2)`, [
          id,
          writer,
        ]);
        this.acks.push({ id, node, at: performance.now() });
      } catch (err) {
        this.errors++;
        // A read-only error (standby not yet promoted) certainly did not commit; anything else
        // on a dying connection might have.
        if ((err as { code?: string }).code !== "25006") this.inDoubt++;
        this.clients.delete(client);
        await client.end().catch(() => undefined);
        client = undefined;
        await new Promise((r) => setTimeout(r, 2));
      }
    }
    if (client) {
      this.clients.delete(client);
      await client.end().catch(() => undefined);
    }
  }
}
