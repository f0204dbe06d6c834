import { randomBytes } from "node:crypto";
import type { Client } from "pg";

/**
 * Foreign keys of tables outside a restore that point at a table it replaces.
 *
 * pg_restore --clean drops each restored table's primary key before the table, which a foreign
 * key of another table depends on ("cannot drop constraint … because other objects depend on
 * it"); DROP … CASCADE would drop those keys for good. So, inside the restore's transaction,
 * drctl notes each such key (its table, name, `pg_get_constraintdef` and comment) in a temporary
 * table, drops it, lets the archive replace the tables, and adds each key back under its name
 * before the row-count gate. Dropping a constraint fires no referential action, so no row of a
 * table outside the selection is deleted or set to NULL, and those rows are never written.
 * Chosen over replacing rows with triggers off (`session_replication_role = replica`): that needs
 * a superuser or a grant RDS does not give and would skip every check the restored rows must pass.
 *
 * Cost: ADD CONSTRAINT … FOREIGN KEY checks every row of the referencing table against the
 * restored one (one scan of it, an index probe or a hash join per row), unless the key was NOT
 * VALID, which pg_get_constraintdef keeps. It needs SHARE ROW EXCLUSIVE on both tables, and the
 * DROP CONSTRAINT before it ACCESS EXCLUSIVE on the referencing table
 * (https://www.postgresql.org/docs/current/sql-altertable.html, "ADD table_constraint" and
 * "Notes"): the referencing tables can be neither read nor written until the restore commits.
 * A key the restored rows would break is not added: the restore raises an error that names it,
 * and the whole transaction, the drops included, rolls back.
 */

/** The quoted names (`format('%I.%I')`) of the tables a restore replaces, as an SQL array. */
function tableArray(tables: readonly string[]): string {
  return `array[${tables.map((t) => `'${t.replace(/'/g, "''")}'`).join(", ")}]::text[]`;
}

/**
 * `sel(relid)`: the tables named and, for a partitioned one, every table of its tree
 * (pg_partition_tree lists nothing for a table that is not partitioned,
 * https://www.postgresql.org/docs/current/functions-admin.html#FUNCTIONS-INFO-PARTITION).
 */
function selectionCte(names: string): string {
  return `sel(relid) as (
    select pg_catalog.to_regclass(q.name)::oid from unnest(${names}) q(name)
    where pg_catalog.to_regclass(q.name) is not null
    union
    select t.relid from unnest(${names}) q(name),
      pg_catalog.pg_partition_tree(pg_catalog.to_regclass(q.name)) t
    where pg_catalog.to_regclass(q.name) is not null
  )`;
}

/**
 * SQL for the start of the transaction: note and drop the keys of other tables that point at
 * `tables` (a partitioned table's whole tree counts as the table). search_path is emptied first
 * so that pg_get_constraintdef qualifies every name, as the archive's script also does.
 */
export function setAsideSql(tables: readonly string[]): string {
  if (tables.length === 0) return "";
  const tag = `$drctl_${randomBytes(6).toString("hex")}$`;
  return `
select pg_catalog.set_config('search_path', '', true);
create temporary table drctl_fk on commit drop as
  with ${selectionCte(tableArray(tables))}
  select pg_catalog.format('%I.%I', n.nspname, c.relname) as tbl, k.conname::text as name,
         pg_catalog.pg_get_constraintdef(k.oid) as def,
         pg_catalog.obj_description(k.oid, 'pg_constraint') as comment
  from pg_catalog.pg_constraint k join pg_catalog.pg_class c on c.oid = k.conrelid
  join pg_catalog.pg_namespace n on n.oid = c.relnamespace
  where k.contype = 'f' and k.conparentid = 0 and k.confrelid in (select relid from sel)
    and k.conrelid not in (select relid from sel);
do ${tag}
declare r record;
begin
  for r in select * from pg_temp.drctl_fk loop
    execute pg_catalog.format('alter table %s drop constraint %I', r.tbl, r.name);
  end loop;
end ${tag};
`;
}

/**
 * SQL for after the archive: add each key back, or raise an error naming the key, its table and
 * PostgreSQL's own detail (the first key value the restored rows lack).
 */
export function putBackSql(tables: readonly string[]): string {
  if (tables.length === 0) return "";
  const tag = `$drctl_${randomBytes(6).toString("hex")}$`;
  return `
do ${tag}
declare r record; d text;
begin
  for r in select * from pg_temp.drctl_fk order by tbl, name loop
    begin
      execute pg_catalog.format('alter table %s add constraint %I %s', r.tbl, r.name, r.def);
    exception when foreign_key_violation then
      get stacked diagnostics d = pg_exception_detail;
      raise exception 'drctl: the restored rows would break foreign key % of %, a table this restore does not replace (%); nothing was changed: add % to --tables or fix its rows first', r.name, r.tbl, d, r.tbl;
    end;
    if r.comment is not null then
      execute pg_catalog.format('comment on constraint %I on %s is %L', r.name, r.tbl, r.comment);
    end if;
  end loop;
end ${tag};
`;
}

/** The keys setAsideSql would set aside, for the report: `table name → referenced`. */
export async function referencingKeys(
  client: Client,
  tables: readonly string[],
): Promise<string[]> {
  if (tables.length === 0) return [];
  const { rows } = await client.query<{ k: string }>(
    `with ${selectionCte("$1::text[]")}
     select format('%I.%I %I → %I.%I', n.nspname, c.relname, k.conname, rn.nspname, r.relname) as k
     from pg_constraint k join pg_class c on c.oid = k.conrelid
     join pg_namespace n on n.oid = c.relnamespace
     join pg_class r on r.oid = k.confrelid join pg_namespace rn on rn.oid = r.relnamespace
     where k.contype = 'f' and k.conparentid = 0 and k.confrelid in (select relid from sel)
       and k.conrelid not in (select relid from sel)
     order by 1`,
    [tables],
  );
  return rows.map((r) => r.k);
}
