/**
 * An application's database as the drill meets it (STYLE.md rule 17): an owner role, a reader and
 * a writer with grants, default privileges, row-level security, foreign keys, indexes, defaults,
 * a sequence owned by a column, an identity column, a trigger, a materialized view, comments and
 * a contrib extension (citext). The roles exist on the source only; the target lacks them.
 */
export const APP_SCHEMA = `
  create role app_owner nologin;
  create role app_reader nologin;
  create role app_writer login password 'writer-secret';
  create extension citext;
  create schema app authorization app_owner;
  comment on schema app is 'the application';
  set role app_owner;
  alter default privileges in schema app grant select on tables to app_reader;
  create table app.users (
    id serial primary key,
    email citext not null unique,
    name text default 'anonymous',
    created timestamptz not null default now()
  );
  create index users_name_idx on app.users (name);
  create table app.orders (
    id bigint generated always as identity primary key,
    user_id int not null references app.users (id),
    total numeric(10, 2) not null check (total >= 0),
    status text not null default 'new',
    note text
  );
  create index orders_user_idx on app.orders (user_id);
  comment on table app.users is 'people who order';
  comment on column app.users.email is 'login, case-insensitive';
  comment on index app.users_name_idx is 'by name';
  create function app.fill_note() returns trigger language plpgsql as $$
    begin new.note := coalesce(new.note, 'order of ' || new.user_id); return new; end $$;
  create trigger orders_fill_note before insert on app.orders
    for each row execute function app.fill_note();
  comment on trigger orders_fill_note on app.orders is 'fills the note';
  alter table app.orders enable row level security;
  create policy orders_visible on app.orders for select to app_reader using (total > 5);
  comment on policy orders_visible on app.orders is 'readers see orders above 5';
  create materialized view app.user_totals as
    select u.id, coalesce(sum(o.total), 0) as total
    from app.users u left join app.orders o on o.user_id = u.id group by u.id;
  grant select on app.users to app_reader;
  grant insert (note) on app.orders to app_writer;
  grant usage on schema app to app_reader, app_writer;
  reset role;
  insert into app.users (email, name) select 'u' || g || '@example.com', 'user ' || g
    from generate_series(1, 10) g;
  insert into app.orders (user_id, total) select 1 + g % 10, g from generate_series(1, 20) g;
  refresh materialized view app.user_totals;
`;
