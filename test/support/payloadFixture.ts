import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LocalCluster } from "../../drctl/src/postgres/localCluster";
import { createDatabase, sql, startCluster } from "./postgres";
import { S3Server } from "./s3server";

/** A PostgreSQL database with a ~3 MB `payload` table, an s3rver bucket and a scratch directory. */
export interface PayloadFixture {
  readonly cluster: LocalCluster;
  readonly s3: S3Server;
  readonly work: string;
  readonly dbUrl: string;
  stop(): Promise<void>;
}

/**
 * Starts the fixture the integrity and signal tests share. ~3 MB uncompressed: well past the
 * 1 MiB at which their wrapped pg_dump dies, and long enough to signal a backup mid-stream.
 */
export async function startPayloadFixture(name: string): Promise<PayloadFixture> {
  const cluster = await startCluster();
  const db = await createDatabase(cluster, name);
  await sql(
    cluster,
    db,
    `create table payload as select g as id, md5(g::text) || md5((g+1)::text) || md5((g+2)::text) as body
     from generate_series(1, 30000) g`,
  );
  const work = mkdtempSync(join(tmpdir(), `drctl-${name}-`));
  const s3 = await S3Server.start();
  await s3.createBucket(name);
  // The SDK's credential chain reads process.env, not the environment drctl is handed.
  Object.assign(process.env, { AWS_ACCESS_KEY_ID: "S3RVER", AWS_SECRET_ACCESS_KEY: "S3RVER" });
  return {
    cluster,
    s3,
    work,
    dbUrl: cluster.url(db),
    async stop() {
      await s3.stop();
      await cluster.destroy();
      rmSync(work, { recursive: true, force: true });
    },
  };
}
