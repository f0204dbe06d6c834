import type { Client } from "pg";

/** A table the connected login cannot read every row of, with why and the statement that fixes it. */
export interface UnreadableTable {
  /** `schema.table`, quoted by the server where needed. */
  readonly table: string;
  readonly reason: string;
  readonly fix: string;
}

export interface TableReadability {
  /** How many tables were looked at. */
  readonly checked: number;
  /** Tables a dump by this login would miss, or miss rows of. Empty when it reads everything. */
  readonly unreadable: UnreadableTable[];
  /**
   * Tables with row security on for this login that it reads in full through a `USING (true)`
   * policy: pg_dump must then run with --enable-row-security, since by default it turns
   * row_security off and fails on any table whose policies would apply
   * (https://www.postgresql.org/docs/current/app-pgdump.html, --enable-row-security).
   */
  readonly readThroughPolicy: string[];
}

/**
 * Every ordinary table and leaf partition (relkind r) and partitioned table (p) outside the system
 * schemas, with what decides whether the connected login reads all of its rows. The rules are
 * PostgreSQL's (https://www.postgresql.org/docs/current/ddl-rowsecurity.html;
 * src/backend/utils/misc/rls.c check_enable_rls, src/backend/rewrite/rowsecurity.c):
 * - row security applies only when the table has it enabled (relrowsecurity), and not to a
 *   superuser or a role with BYPASSRLS (a role attribute: never inherited through membership),
 *   nor to the table's owner or a role having its privileges, unless the table FORCEs it;
 * - a policy applies to the login when it names PUBLIC (role oid 0) or a role whose privileges
 *   the login has (check_role_for_policy: has_privs_of_role, which pg_has_role(…, 'USAGE') is);
 * - SELECT uses the policies FOR SELECT and FOR ALL; rows visible = (any permissive USING) AND
 *   (every restrictive USING). A permissive `USING (true)` shows every row only when no
 *   restrictive policy applies, so any applying restrictive policy counts as hiding rows.
 * SELECT privilege counts membership in pg_read_all_data (has_table_privilege does).
 */
const READABILITY_SQL = `
  with tables as (
    select c.oid, c.relkind, format('%I.%I', n.nspname, c.relname) as qualified,
           c.relrowsecurity, c.relforcerowsecurity, c.relowner
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where c.relkind in ('r', 'p')
      and n.nspname not in ('pg_catalog', 'information_schema')
      and n.nspname !~ '^pg_(toast|temp_)'
  ), me as (
    select rolsuper or rolbypassrls as bypass from pg_roles where rolname = current_user
  ), applying as (
    select p.polrelid, p.polpermissive, pg_get_expr(p.polqual, p.polrelid) as qual
    from pg_policy p
    where p.polcmd in ('r', '*')
      and exists (select 1 from unnest(p.polroles) r
                  where case when r = 0 then true else pg_has_role(r, 'USAGE') end)
  )
  select t.qualified,
         has_table_privilege(t.oid, 'SELECT') as can_select,
         t.relkind = 'r' and t.relrowsecurity and not (select bypass from me)
           and (t.relforcerowsecurity or not pg_has_role(t.relowner, 'USAGE')) as rls_applies,
         exists (select 1 from applying a
                 where a.polrelid = t.oid and a.polpermissive and a.qual = 'true') as open_policy,
         exists (select 1 from applying a
                 where a.polrelid = t.oid and not a.polpermissive) as restrictive
  from tables t
  order by 1`;

interface Row {
  qualified: string;
  can_select: boolean;
  rls_applies: boolean;
  open_policy: boolean;
  restrictive: boolean;
}

/**
 * Which tables the connected login cannot read completely, and which it reads through row
 * security policies. `drctl backup` refuses to start on the first (a dump would lack rows, or
 * pg_dump would fail midway) and passes --enable-row-security for the second; `drctl check`
 * reports both.
 */
export async function tableReadability(client: Client): Promise<TableReadability> {
  const { rows } = await client.query<Row>(READABILITY_SQL);
  const { rows: me } = await client.query<{ login: string }>(
    "select format('%I', current_user) as login",
  );
  const login = me[0].login;
  const unreadable: UnreadableTable[] = [];
  const readThroughPolicy: string[] = [];
  for (const r of rows) {
    if (!r.can_select) {
      unreadable.push({
        table: r.qualified,
        reason: `${login} has no SELECT privilege on it`,
        fix: `GRANT pg_read_all_data TO ${login}`,
      });
    } else if (r.rls_applies && r.restrictive) {
      unreadable.push({
        table: r.qualified,
        reason: `a restrictive row security policy applies to ${login} and can hide rows`,
        fix: `drop or narrow the restrictive policy so it does not apply to ${login}, or ALTER ROLE ${login} BYPASSRLS`,
      });
    } else if (r.rls_applies && !r.open_policy) {
      unreadable.push({
        table: r.qualified,
        reason: `row security is on and no policy lets ${login} read every row`,
        fix: `CREATE POLICY dr_backup_read ON ${r.qualified} FOR SELECT TO ${login} USING (true)`,
      });
    } else if (r.rls_applies) {
      readThroughPolicy.push(r.qualified);
    }
  }
  return { checked: rows.length, unreadable, readThroughPolicy };
}

/** One line naming the unreadable tables and what to run, for `backup`'s refusal and `check`. */
export function unreadableMessage(tables: readonly UnreadableTable[]): string {
  return tables.map((t) => `${t.table}: ${t.reason}; run ${t.fix}`).join("; ");
}
