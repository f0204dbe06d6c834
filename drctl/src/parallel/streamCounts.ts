import { DrctlError } from "../errors";
import type { TableCount } from "../manifest";
import type { TocEntry } from "./archiveRows";
import type { RowsResult } from "./hashPool";

/** Row counts the dump stream gave, by tableKey; null where the stream could not say. */
export type StreamTableRows = ReadonlyMap<string, number | null>;

/** A table's key in StreamTableRows: its schema and name as the catalog spells them. */
export function tableKey(schema: string | null, name: string | null): string {
  return `${schema ?? ""}\u0000${name ?? ""}`;
}

/** A custom archive's counts, from the worker's result; undefined if it could not count. */
export function rowsFromArchive(rows: RowsResult | undefined): StreamTableRows | undefined {
  if (!rows?.entries) return undefined;
  return new Map(rows.entries.map((e) => [tableKey(e.namespace, e.tag), e.rows]));
}

/**
 * A directory dump's counts: each TABLE DATA entry of its toc.dat, by the dumpId its data file is
 * named after (`<dumpId>.dat`, pg_backup_directory.c), with the rows the worker counted there.
 */
export function rowsFromDirectory(
  files: readonly { readonly name: string; readonly rows?: RowsResult }[],
  toc: readonly TocEntry[],
): StreamTableRows {
  const byId = new Map<number, number | null>();
  for (const f of files) {
    const id = /^(\d+)\.dat/.exec(f.name);
    if (id && f.rows) byId.set(Number(id[1]), f.rows.error ? null : (f.rows.rows ?? null));
  }
  return new Map(
    toc
      .filter((e) => e.desc === "TABLE DATA" && e.copyStmt)
      .map((e) => [tableKey(e.namespace, e.tag), byId.get(e.dumpId) ?? null]),
  );
}

type TableRef = Omit<TableCount, "rows" | "rowsFrom">;

/**
 * Each table's rows from the stream where it gave them, and from `count(*)` in the dump's
 * snapshot (`snapshotCounts`, run while that snapshot is still open) for the rest: a table the
 * archive holds no COPY data for (a member table of an extension, which pg_dump leaves to the
 * extension's script), or whose data this Node cannot decompress. With `verify`, every table is
 * counted both ways and any difference fails the backup.
 */
export async function resolveCounts(
  tables: readonly TableRef[],
  stream: StreamTableRows | undefined,
  snapshotCounts: (tables: readonly TableRef[]) => Promise<TableCount[]>,
  verify: boolean,
): Promise<TableCount[]> {
  const fromStream = (t: TableRef): number | null | undefined =>
    stream?.get(tableKey(t.schema, t.name));
  const need = verify ? tables : tables.filter((t) => typeof fromStream(t) !== "number");
  const counted = need.length > 0 ? await snapshotCounts(need) : [];
  const snapshot = new Map(counted.map((c) => [c.qualified, c.rows]));
  const differ: string[] = [];
  const out = tables.map((t): TableCount => {
    const s = fromStream(t);
    const c = snapshot.get(t.qualified);
    if (typeof s !== "number") return { ...t, rows: c!, rowsFrom: "snapshot" };
    if (c === undefined) return { ...t, rows: s, rowsFrom: "stream" };
    if (c !== s) differ.push(`${t.qualified} ${s} in the dump, ${c} by count(*)`);
    return { ...t, rows: s, rowsFrom: "both" };
  });
  if (differ.length > 0) {
    throw new DrctlError(
      `--verify-counts: the dump's row counts differ from count(*) in its snapshot for ` +
        `${differ.length} table(s): ${differ.slice(0, 5).join("; ")}; no manifest was written. ` +
        `The dump is not trusted: report this with the tables' definitions, and back up without ` +
        `--verify-counts only once it is explained`,
    );
  }
  return out;
}
