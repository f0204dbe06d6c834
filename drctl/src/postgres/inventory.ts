import type { Client } from "pg";
import type { Extension, TableCount } from "../manifest";

/**
 * What a bare server needs to take a dump, and what `restore --tables` must bring back with a
 * table, read from the catalog in the dump's own snapshot. Names are quoted by the server.
 */

const USER_NS = `n.nspname not in ('pg_catalog', 'information_schema') and n.nspname !~ '^pg_(toast|temp_)'`;

/**
 * Every role the database's dumped objects name: owners, grantors and grantees of privileges
 * (ACL items, https://www.postgresql.org/docs/current/ddl-priv.html), default privileges
 * (https://www.postgresql.org/docs/current/sql-alterdefaultprivileges.html) and the roles of
 * row-level-security policies (https://www.postgresql.org/docs/current/sql-createpolicy.html).
 * PUBLIC (grantee 0) is no role. The database's own owner and ACL are not in a dump made without
 * --create, so they are left out.
 */
const ROLES_SQL = `
with acl(a) as (
  select c.relacl from pg_class c join pg_namespace n on n.oid = c.relnamespace where ${USER_NS}
  union all select a.attacl from pg_attribute a join pg_class c on c.oid = a.attrelid
    join pg_namespace n on n.oid = c.relnamespace where ${USER_NS} and a.attacl is not null
  union all select n.nspacl from pg_namespace n where ${USER_NS}
  union all select p.proacl from pg_proc p join pg_namespace n on n.oid = p.pronamespace where ${USER_NS}
  union all select t.typacl from pg_type t join pg_namespace n on n.oid = t.typnamespace where ${USER_NS}
  union all select defaclacl from pg_default_acl
  union all select lomacl from pg_largeobject_metadata
  union all select fdwacl from pg_foreign_data_wrapper
  union all select srvacl from pg_foreign_server
), refs(r) as (
  select (aclexplode(a)).grantee from acl where a is not null
  union select (aclexplode(a)).grantor from acl where a is not null
  union select c.relowner from pg_class c join pg_namespace n on n.oid = c.relnamespace where ${USER_NS}
  union select n.nspowner from pg_namespace n where ${USER_NS}
  union select p.proowner from pg_proc p join pg_namespace n on n.oid = p.pronamespace where ${USER_NS}
  union select t.typowner from pg_type t join pg_namespace n on n.oid = t.typnamespace where ${USER_NS}
  union select o.oprowner from pg_operator o join pg_namespace n on n.oid = o.oprnamespace where ${USER_NS}
  union select x.collowner from pg_collation x join pg_namespace n on n.oid = x.collnamespace where ${USER_NS}
  union select x.stxowner from pg_statistic_ext x join pg_namespace n on n.oid = x.stxnamespace where ${USER_NS}
  union select x.cfgowner from pg_ts_config x join pg_namespace n on n.oid = x.cfgnamespace where ${USER_NS}
  union select x.dictowner from pg_ts_dict x join pg_namespace n on n.oid = x.dictnamespace where ${USER_NS}
  union select defaclrole from pg_default_acl
  union select unnest(polroles) from pg_policy
  union select lomowner from pg_largeobject_metadata
  union select evtowner from pg_event_trigger
  union select srvowner from pg_foreign_server
  union select umuser from pg_user_mappings
  union select pubowner from pg_publication
)
select rolname from pg_roles where oid in (select r from refs) order by 1`;

export async function referencedRoles(client: Client): Promise<string[]> {
  const { rows } = await client.query<{ rolname: string }>(ROLES_SQL);
  return rows.map((r) => r.rolname);
}

export async function usedExtensions(client: Client): Promise<Extension[]> {
  const { rows } = await client.query<Extension>(
    `select e.extname as name, e.extversion as version, n.nspname as schema
     from pg_extension e join pg_namespace n on n.oid = e.extnamespace order by 1`,
  );
  return rows;
}

/**
 * Per table (by `format('%I.%I')`): its indexes that back no constraint (a constraint's index is
 * part of its CONSTRAINT entry), the sequences owned by its columns (serial and identity), the
 * foreign keys it holds and those that point at it. The archive's TOC names these objects
 * without their table (https://www.postgresql.org/docs/current/app-pgrestore.html, -l / -L).
 */
const DEPENDENTS_SQL = `
with t as (
  select c.oid, format('%I.%I', n.nspname, c.relname) as q
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
  where c.relkind = 'r' and ${USER_NS}
)
select t.q, 'index' as kind, ic.relname as name, null as other
  from t join pg_index i on i.indrelid = t.oid join pg_class ic on ic.oid = i.indexrelid
  where not exists (select 1 from pg_constraint k where k.conindid = i.indexrelid
                    and k.conrelid = t.oid and k.contype in ('p', 'u', 'x'))
union all
select t.q, 'sequence', s.relname, null
  from t join pg_depend d on d.refobjid = t.oid and d.refclassid = 'pg_class'::regclass
  join pg_class s on s.oid = d.objid and d.classid = 'pg_class'::regclass
  where s.relkind = 'S' and d.deptype in ('a', 'i')
union all
select t.q, 'fk', k.conname, format('%I.%I', rn.nspname, r.relname)
  from t join pg_constraint k on k.conrelid = t.oid and k.contype = 'f'
  join pg_class r on r.oid = k.confrelid join pg_namespace rn on rn.oid = r.relnamespace
union all
select t.q, 'referenced-by', k.conname, format('%I.%I', sn.nspname, s.relname)
  from t join pg_constraint k on k.confrelid = t.oid and k.contype = 'f' and k.conrelid <> t.oid
  join pg_class s on s.oid = k.conrelid join pg_namespace sn on sn.oid = s.relnamespace
order by 1, 2, 3`;

/** Adds indexes, sequences and foreign keys to each table's entry. */
export async function withDependents(client: Client, tables: TableCount[]): Promise<TableCount[]> {
  const { rows } = await client.query<{ q: string; kind: string; name: string; other: string }>(
    DEPENDENTS_SQL,
  );
  return tables.map((t) => {
    const mine = rows.filter((r) => r.q === t.qualified);
    return {
      ...t,
      indexes: mine.filter((r) => r.kind === "index").map((r) => r.name),
      sequences: mine.filter((r) => r.kind === "sequence").map((r) => r.name),
      foreignKeys: mine
        .filter((r) => r.kind === "fk")
        .map((r) => ({ name: r.name, references: r.other })),
      referencedBy: mine
        .filter((r) => r.kind === "referenced-by")
        .map((r) => ({ table: r.other, name: r.name })),
    };
  });
}
