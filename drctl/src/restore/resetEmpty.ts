import type { Client } from "pg";

/**
 * Putting back an empty target after a `--jobs` restore failed. pg_restore --jobs cannot run in
 * one transaction ("cannot specify both --single-transaction and multiple jobs",
 * https://www.postgresql.org/docs/current/app-pgrestore.html), so drctl only runs it into a
 * target that had no user objects, notes how its `public` schema looked, and on failure drops
 * what the restore created: every schema (cascading to what is in it), `public` recreated as it
 * was, the extensions, large objects and the roles drctl created.
 */
export interface EmptyState {
  /** `public`'s owner, privileges (aclexplode rows) and comment, if the target had `public`. */
  readonly publicSchema?: {
    readonly owner: string;
    readonly grants: { grantee: string | null; privilege: string }[];
    readonly comment: string | null;
  };
}

export async function captureEmpty(client: Client): Promise<EmptyState> {
  const { rows } = await client.query<{ owner: string; comment: string | null }>(
    `select n.nspowner::regrole::text as owner, obj_description(n.oid, 'pg_namespace') as comment
     from pg_namespace n where n.nspname = 'public'`,
  );
  if (rows.length === 0) return {};
  const { rows: grants } = await client.query<{ grantee: string | null; privilege: string }>(
    `select case when a.grantee = 0 then null else a.grantee::regrole::text end as grantee,
            a.privilege_type as privilege
     from pg_namespace n, aclexplode(n.nspacl) a
     where n.nspname = 'public' and a.grantee <> n.nspowner`,
  );
  return { publicSchema: { owner: rows[0].owner, grants, comment: rows[0].comment } };
}

/** Drops what a failed restore left in a target that was empty, and the roles drctl created. */
export async function resetToEmpty(
  client: Client,
  state: EmptyState,
  createdRoles: readonly string[],
): Promise<void> {
  const q = async (sql: string, params: unknown[] = []): Promise<void> => {
    await client.query(sql, params);
  };
  await q("begin");
  const { rows: schemas } = await client.query<{ s: string }>(
    `select format('%I', nspname) as s from pg_namespace
     where nspname not in ('pg_catalog', 'information_schema') and nspname !~ '^pg_(toast|temp_)'`,
  );
  for (const { s } of schemas) await q(`drop schema ${s} cascade`);
  const { rows: exts } = await client.query<{ e: string }>(
    "select format('%I', extname) as e from pg_extension where extname <> 'plpgsql'",
  );
  for (const { e } of exts) await q(`drop extension if exists ${e} cascade`);
  await q("select lo_unlink(oid) from pg_largeobject_metadata");
  const p = state.publicSchema;
  if (p) {
    const { rows } = await client.query<{ sql: string }>(
      "select format('create schema public authorization %s', $1::text) as sql",
      [p.owner],
    );
    await q(rows[0].sql);
    for (const g of p.grants) {
      const { rows: gs } = await client.query<{ sql: string }>(
        "select format('grant %s on schema public to %s', $1::text, coalesce(quote_ident($2::text), 'public')) as sql",
        [g.privilege, g.grantee],
      );
      await q(gs[0].sql);
    }
    if (p.comment !== null) {
      await q(`comment on schema public is ${await quoteLiteral(client, p.comment)}`);
    }
  }
  await q("commit");
  for (const role of createdRoles) {
    const { rows } = await client.query<{ sql: string }>(
      "select format('drop role if exists %I', $1::text) as sql",
      [role],
    );
    await q(rows[0].sql);
  }
}

async function quoteLiteral(client: Client, s: string): Promise<string> {
  const { rows } = await client.query<{ l: string }>("select quote_literal($1::text) as l", [s]);
  return rows[0].l;
}
