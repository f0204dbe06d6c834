import type { Client } from "pg";
import { DrctlError } from "../errors";
import type { Extension } from "../manifest";

const USER_NS = `n.nspname not in ('pg_catalog', 'information_schema') and n.nspname !~ '^pg_(toast|temp_)'`;

/**
 * Every kind of user object a restore could collide with or that the guard must see: relations of
 * any kind (tables, views, materialized views, sequences, indexes, foreign tables), functions,
 * standalone types, schemas other than the empty `public`, extensions other than plpgsql, large
 * objects, event triggers, publications and foreign servers.
 */
const OBJECTS_SQL = `
select 'relation ' || case c.relkind when 'r' then 'table' when 'p' then 'table' when 'v' then 'view'
  when 'm' then 'materialized view' when 'S' then 'sequence' when 'f' then 'foreign table'
  when 'i' then 'index' when 'I' then 'index' else 'type' end as kind, count(*)::int as n
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
  where ${USER_NS} and c.relkind <> 't'
    and not exists (select 1 from pg_depend d where d.objid = c.oid and d.deptype = 'e') group by 1
union all select 'function', count(*)::int from pg_proc p join pg_namespace n on n.oid = p.pronamespace
  where ${USER_NS} and not exists (select 1 from pg_depend d where d.objid = p.oid and d.deptype = 'e')
union all select 'type', count(*)::int from pg_type t join pg_namespace n on n.oid = t.typnamespace
  where ${USER_NS} and t.typtype in ('d', 'e', 'r', 'm') and not exists
    (select 1 from pg_depend d where d.objid = t.oid and d.deptype = 'e')
union all select 'schema', count(*)::int from pg_namespace n where ${USER_NS} and n.nspname <> 'public'
union all select 'extension', count(*)::int from pg_extension where extname <> 'plpgsql'
union all select 'large object', count(*)::int from pg_largeobject_metadata
union all select 'event trigger', count(*)::int from pg_event_trigger
union all select 'publication', count(*)::int from pg_publication
union all select 'foreign server', count(*)::int from pg_foreign_server`;

export interface UserObjects {
  readonly total: number;
  /** e.g. { "relation table": 2, "relation view": 1, function: 3 }, only non-zero kinds. */
  readonly byKind: Record<string, number>;
}

/** Counts the target's user objects: a non-empty target needs --confirm. */
export async function userObjects(client: Client): Promise<UserObjects> {
  const { rows } = await client.query<{ kind: string; n: number }>(OBJECTS_SQL);
  const byKind: Record<string, number> = {};
  let total = 0;
  for (const r of rows) {
    if (r.n === 0) continue;
    const kind = r.kind.replace(/^relation /, "");
    byKind[kind] = (byKind[kind] ?? 0) + r.n;
    total += r.n;
  }
  return { total, byKind };
}

export function describeObjects(o: UserObjects): string {
  return Object.entries(o.byKind)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, n]) => `${n} ${k}${n === 1 ? "" : k.endsWith("x") ? "es" : "s"}`)
    .join(", ");
}

/** The qualified names (`format('%I.%I')`) of the target's tables. */
export async function targetTables(client: Client): Promise<Set<string>> {
  const { rows } = await client.query<{ q: string }>(
    `select format('%I.%I', n.nspname, c.relname) as q from pg_class c
     join pg_namespace n on n.oid = c.relnamespace where c.relkind in ('r', 'p') and ${USER_NS}`,
  );
  return new Set(rows.map((r) => r.q));
}

/**
 * Roles of `wanted` the target server lacks. Predefined roles (`pg_*`) cannot be created
 * (https://www.postgresql.org/docs/current/predefined-roles.html): a missing one is returned in
 * `impossible`.
 */
export async function missingRoles(
  client: Client,
  wanted: readonly string[],
): Promise<{ create: string[]; impossible: string[] }> {
  const { rows } = await client.query<{ rolname: string }>(
    "select rolname from pg_roles where rolname = any($1::text[])",
    [wanted],
  );
  const have = new Set(rows.map((r) => r.rolname));
  const missing = wanted.filter((r) => !have.has(r));
  return {
    create: missing.filter((r) => !r.startsWith("pg_")),
    impossible: missing.filter((r) => r.startsWith("pg_")),
  };
}

/**
 * `CREATE ROLE … NOLOGIN` for each role, quoted by the server: a role that only owns objects or
 * holds grants needs neither a login nor a password, and none is invented.
 */
export async function createRoleStatements(
  client: Client,
  roles: readonly string[],
): Promise<string> {
  if (roles.length === 0) return "";
  const { rows } = await client.query<{ s: string }>(
    "select format('create role %I nologin;', r) as s from unnest($1::text[]) r",
    [roles],
  );
  return `${rows.map((r) => r.s).join("\n")}\n`;
}

/** Extensions the backup uses that the target server cannot install (not in pg_available_extensions). */
export async function missingExtensions(
  client: Client,
  wanted: readonly Extension[],
): Promise<Extension[]> {
  const { rows } = await client.query<{ name: string }>(
    "select name from pg_available_extensions where name = any($1::text[])",
    [wanted.map((e) => e.name)],
  );
  const have = new Set(rows.map((r) => r.name));
  return wanted.filter((e) => !have.has(e.name));
}

/**
 * Connections the target can still accept from this role into this database: the server's
 * max_connections less the reserved ones and those in use, and the role's and the database's
 * CONNECTION LIMIT (https://www.postgresql.org/docs/current/runtime-config-connection.html).
 * Counted while this client is connected, so it excludes the one drctl already holds.
 */
export async function freeConnections(client: Client): Promise<number> {
  const { rows } = await client.query<{ server: number; role: number | null; db: number | null }>(
    `select (current_setting('max_connections')::int
             - current_setting('superuser_reserved_connections')::int
             - coalesce(nullif(current_setting('reserved_connections', true), '')::int, 0)
             - (select count(*) from pg_stat_activity where backend_type = 'client backend'))::int as server,
            (select case when rolconnlimit < 0 then null else rolconnlimit - (select count(*)
               from pg_stat_activity a where a.usename = current_user) end
             from pg_roles where rolname = current_user)::int as role,
            (select case when datconnlimit < 0 then null else datconnlimit - (select count(*)
               from pg_stat_activity a where a.datname = current_database()) end
             from pg_database where datname = current_database())::int as db`,
  );
  const r = rows[0];
  return Math.min(r.server, r.role ?? Infinity, r.db ?? Infinity);
}

/** Refuses --jobs that the target cannot serve: pg_restore --jobs N opens N connections. */
export function checkJobs(jobs: number, free: number, label: string): void {
  if (jobs > free) {
    throw new DrctlError(
      `--jobs ${jobs} needs ${jobs} connections, but target ${label} accepts only ${Math.max(free, 0)} more ` +
        `(max_connections, reserved slots, the role's and database's connection limits); ` +
        `lower --jobs or free connections`,
    );
  }
}

/**
 * The target's partitioned tables, by `format('%I.%I')`, each with the leaf partitions of its
 * tree (pg_partition_tree, https://www.postgresql.org/docs/current/functions-admin.html), and
 * for each partition the partitioned table at the top of its tree (pg_partition_root).
 */
export async function partitionTrees(
  client: Client,
): Promise<{ leaves: Map<string, string[]>; rootOf: Map<string, string> }> {
  const { rows } = await client.query<{ p: string; leaf: string }>(
    `select format('%I.%I', n.nspname, c.relname) as p,
            format('%I.%I', ln.nspname, l.relname) as leaf
     from pg_class c join pg_namespace n on n.oid = c.relnamespace,
       pg_partition_tree(c.oid) t join pg_class l on l.oid = t.relid
       join pg_namespace ln on ln.oid = l.relnamespace
     where c.relkind = 'p' and ${USER_NS} and t.isleaf and l.relkind = 'r'
     order by 1, 2`,
  );
  const leaves = new Map<string, string[]>();
  for (const r of rows) leaves.set(r.p, [...(leaves.get(r.p) ?? []), r.leaf]);
  const { rows: roots } = await client.query<{ q: string; root: string }>(
    `select format('%I.%I', n.nspname, c.relname) as q, format('%I.%I', rn.nspname, r.relname) as root
     from pg_class c join pg_namespace n on n.oid = c.relnamespace
     join pg_class r on r.oid = pg_partition_root(c.oid) join pg_namespace rn on rn.oid = r.relnamespace
     where c.relispartition and ${USER_NS}`,
  );
  return { leaves, rootOf: new Map(roots.map((r) => [r.q, r.root])) };
}
