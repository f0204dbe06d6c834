import { randomBytes } from "node:crypto";

/**
 * `--tables … --confirm` on a table the target still has: its rows are replaced, not the table.
 *
 * Dropping and recreating the table (pg_restore --clean) fails on every real schema: views and
 * materialized views that read it depend on it, and DROP … CASCADE would drop them for good. So
 * for such a table the archive brings only its rows (TABLE DATA) and its sequences' values
 * (SEQUENCE SET); inside the restore's one transaction drctl first disables the table's enabled
 * user triggers (noted, by name, with their mode), empties the tables with one
 * `TRUNCATE ONLY a, b, …`, lets the archive COPY the rows back, then enables each trigger again
 * as it was. TRUNCATE fires no row trigger and no referential action, and it refuses (rather
 * than cascades) while another table's foreign key points at the table: those keys are set aside
 * first (./referencing.ts). The table's definition (columns, indexes, constraints) stays as it is
 * in the target; a column the backup has and the target lacks fails the COPY, which names it,
 * and the whole transaction rolls back.
 *
 * Privileges: ALTER TABLE … DISABLE TRIGGER of user triggers needs the table's owner, TRUNCATE
 * the TRUNCATE privilege (https://www.postgresql.org/docs/current/sql-altertable.html,
 * https://www.postgresql.org/docs/current/sql-truncate.html); no superuser, unlike pg_restore
 * --disable-triggers, which disables the foreign-key triggers too. TRUNCATE takes ACCESS
 * EXCLUSIVE on each table until the commit, and is not MVCC-safe: a transaction whose snapshot
 * predates the commit sees the table empty (sql-truncate.html, Notes).
 */

function tableArray(tables: readonly string[]): string {
  return `array[${tables.map((t) => `'${t.replace(/'/g, "''")}'`).join(", ")}]::text[]`;
}

/** SQL for the start of the transaction: note and disable the user triggers, empty the tables. */
export function emptyTablesSql(tables: readonly string[]): string {
  if (tables.length === 0) return "";
  const tag = `$drctl_${randomBytes(6).toString("hex")}$`;
  return `
create temporary table drctl_trigger on commit drop as
  select pg_catalog.format('%I.%I', n.nspname, c.relname) as tbl, t.tgname::text as name,
         t.tgenabled::text as mode
  from pg_catalog.pg_trigger t join pg_catalog.pg_class c on c.oid = t.tgrelid
  join pg_catalog.pg_namespace n on n.oid = c.relnamespace
  where not t.tgisinternal and t.tgenabled <> 'D'
    and t.tgrelid in (select pg_catalog.to_regclass(q) from unnest(${tableArray(tables)}) q);
do ${tag}
declare r record;
begin
  for r in select * from pg_temp.drctl_trigger loop
    execute pg_catalog.format('alter table %s disable trigger %I', r.tbl, r.name);
  end loop;
end ${tag};
truncate only ${tables.join(", ")};
`;
}

/** SQL for after the archive: each trigger enabled again in the mode it had (O, R or A). */
export function enableTriggersSql(tables: readonly string[]): string {
  if (tables.length === 0) return "";
  const tag = `$drctl_${randomBytes(6).toString("hex")}$`;
  return `
do ${tag}
declare r record;
begin
  for r in select * from pg_temp.drctl_trigger loop
    execute pg_catalog.format('alter table %s enable %s trigger %I', r.tbl,
      case r.mode when 'R' then 'replica' when 'A' then 'always' else '' end, r.name);
  end loop;
end ${tag};
`;
}
