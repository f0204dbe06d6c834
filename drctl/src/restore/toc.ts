import type { TableCount } from "../manifest";

/**
 * Reading and selecting entries of an archive's table of contents, as `pg_restore -l` prints it
 * and `pg_restore -L` reads it back (https://www.postgresql.org/docs/current/app-pgrestore.html,
 * -l and -L): one entry per line, `dumpId; tableoid oid TYPE SCHEMA TAG OWNER`; lines starting
 * with `;` are comments, and an entry left out (or commented out) of the list is not restored.
 */

/** Types in a `pg_restore -l` listing that are more than one word. */
const MULTI_WORD_TYPES = [
  "SEQUENCE OWNED BY",
  "SEQUENCE SET",
  "TABLE DATA",
  "FK CONSTRAINT",
  "DEFAULT ACL",
  "MATERIALIZED VIEW DATA",
  "MATERIALIZED VIEW",
  "ROW SECURITY",
  "BLOB METADATA",
  "LARGE OBJECT",
  "TEXT SEARCH CONFIGURATION",
  "TEXT SEARCH DICTIONARY",
  "FOREIGN TABLE",
  "EVENT TRIGGER",
  "INDEX ATTACH",
  "TABLE ATTACH",
  "USER MAPPING",
  "SECURITY LABEL",
  "SERVER",
];

export interface TocEntry {
  readonly line: string;
  readonly type: string;
  /** Everything after the type: `SCHEMA TAG OWNER`. */
  readonly rest: string;
}

export function parseToc(listing: string): TocEntry[] {
  const out: TocEntry[] = [];
  for (const line of listing.split("\n")) {
    const m = /^\d+;\s+\d+\s+\d+\s+(.*)$/.exec(line);
    if (!m) continue;
    const body = m[1];
    const type =
      MULTI_WORD_TYPES.find((t) => body.startsWith(`${t} `)) ?? body.split(" ")[0] ?? "?";
    out.push({ line, type, rest: body.slice(type.length + 1) });
  }
  return out;
}

/** Counts `pg_restore -l` entries by object type. */
export function summarizeToc(listing: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const e of parseToc(listing)) counts[e.type] = (counts[e.type] ?? 0) + 1;
  return counts;
}

/**
 * The tag of an entry in `schema`, with the owner (the last word) removed, or undefined when the
 * entry is in another schema. Owners and schemas containing spaces are not told apart.
 */
function tagIn(e: TocEntry, schema: string): string | undefined {
  if (!e.rest.startsWith(`${schema} `)) return undefined;
  const tagOwner = e.rest.slice(schema.length + 1);
  const cut = tagOwner.lastIndexOf(" ");
  return cut === -1 ? tagOwner : tagOwner.slice(0, cut);
}

/** Types whose tag is `<table> <object>`. */
const TABLE_PREFIXED = new Set([
  "CONSTRAINT",
  "FK CONSTRAINT",
  "TRIGGER",
  "POLICY",
  "DEFAULT",
  "RULE",
]);
/** Types whose tag is the table's own name (TABLE ATTACH: a partition's, attaching it). */
const TABLE_ITSELF = new Set(["TABLE", "TABLE DATA", "ROW SECURITY", "TABLE ATTACH"]);
const SEQUENCE_TYPES = new Set(["SEQUENCE", "SEQUENCE OWNED BY", "SEQUENCE SET"]);
/** Types whose tag names the object they describe: `TABLE t`, `COLUMN t.c`, `INDEX i`, … */
const DESCRIBING = new Set(["COMMENT", "ACL", "SECURITY LABEL"]);

export interface TableSelection {
  /** The `-L` list: the selected entries, one per line. */
  readonly list: string;
  /** Entries taken, by type, for the result. */
  readonly counts: Record<string, number>;
  /** Foreign keys of a selected table whose referenced table is neither selected nor in the target. */
  readonly unresolvable: string[];
}

/**
 * The entries that bring each of `tables` back whole, and only the rows (TABLE DATA) and owned
 * sequences' values (SEQUENCE SET) of each of `rowsOnly` (tables the target still has, whose
 * rows are replaced: ./replaceRows.ts). The list keeps the archive's order, which is the order
 * pg_restore runs it in.
 *
 * Whole: the table and its data, its
 * constraints, defaults, triggers, policies and row-level security, its indexes and owned
 * sequences (named in the manifest, since the TOC does not tie them to the table), and the
 * comments, ACLs and security labels of all of these. A foreign key is taken when the table it
 * references is selected too or already in the target (`present`), else it is listed as
 * unresolvable.
 */
export function selectTables(
  entries: readonly TocEntry[],
  tables: readonly TableCount[],
  present: ReadonlySet<string>,
  missingSchemas: ReadonlySet<string> = new Set(),
  rowsOnly: readonly TableCount[] = [],
): TableSelection {
  const chosen = new Set<TocEntry>();
  for (const t of rowsOnly) {
    const sequences = new Set(t.sequences ?? []);
    for (const e of entries) {
      const tag = tagIn(e, t.schema);
      if (e.type === "TABLE DATA" && tag === t.name) chosen.add(e);
      if (e.type === "SEQUENCE SET" && tag !== undefined && sequences.has(tag)) chosen.add(e);
    }
  }
  // A schema the target lacks comes back with its owner, comment and privileges.
  for (const e of entries) {
    const tag = tagIn(e, "-");
    if (tag === undefined) continue;
    if (e.type === "SCHEMA" && missingSchemas.has(tag)) chosen.add(e);
    if (DESCRIBING.has(e.type) && tag.startsWith("SCHEMA ") && missingSchemas.has(tag.slice(7))) {
      chosen.add(e);
    }
  }
  const unresolvable: string[] = [];
  const selected = new Set([...tables, ...rowsOnly].map((t) => t.qualified));
  for (const t of tables) {
    const indexes = new Set(t.indexes ?? []);
    const sequences = new Set(t.sequences ?? []);
    const fks = new Map((t.foreignKeys ?? []).map((f) => [f.name, f.references]));
    // A partition's indexes, those of its constraints too, are attached to its parent's.
    const constraintIndexes = new Set(
      entries
        .filter((e) => e.type === "CONSTRAINT" && tagIn(e, t.schema)?.startsWith(`${t.name} `))
        .map((e) => tagIn(e, t.schema)!.slice(t.name.length + 1)),
    );
    const described = (tag: string): boolean =>
      tag === `TABLE ${t.name}` ||
      tag.startsWith(`COLUMN ${t.name}.`) ||
      (/^(CONSTRAINT|TRIGGER|POLICY|RULE) /.test(tag) && tag.endsWith(` ON ${t.name}`)) ||
      (tag.startsWith("INDEX ") && indexes.has(tag.slice("INDEX ".length))) ||
      (tag.startsWith("SEQUENCE ") && sequences.has(tag.slice("SEQUENCE ".length)));
    for (const e of entries) {
      const tag = tagIn(e, t.schema);
      if (tag === undefined) continue;
      let take = false;
      if (TABLE_ITSELF.has(e.type)) take = tag === t.name;
      else if (TABLE_PREFIXED.has(e.type)) take = tag.startsWith(`${t.name} `);
      else if (e.type === "INDEX") take = indexes.has(tag);
      else if (e.type === "INDEX ATTACH") take = indexes.has(tag) || constraintIndexes.has(tag);
      else if (SEQUENCE_TYPES.has(e.type)) take = sequences.has(tag);
      else if (DESCRIBING.has(e.type)) take = described(tag);
      if (take && e.type === "FK CONSTRAINT") {
        const name = tag.slice(t.name.length + 1);
        const ref = fks.get(name);
        if (ref !== undefined && !selected.has(ref) && !present.has(ref)) {
          unresolvable.push(`${t.qualified} ${name} → ${ref}`);
          continue;
        }
      }
      if (take) chosen.add(e);
    }
  }
  const picked = entries.filter((e) => chosen.has(e));
  const counts: Record<string, number> = {};
  for (const e of picked) counts[e.type] = (counts[e.type] ?? 0) + 1;
  return { list: `${picked.map((e) => e.line).join("\n")}\n`, counts, unresolvable };
}
