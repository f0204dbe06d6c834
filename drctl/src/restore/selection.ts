import type { Client } from "pg";
import { DrctlError, UsageError } from "../errors";
import type { TableCount } from "../manifest";
import { targetTables } from "./targetState";
import { parseToc, selectTables } from "./toc";

/** What --tables names, resolved against the manifest and the target's partitioned tables. */
export interface Selection {
  /** The tables whose rows the archive holds: plain tables and the leaf partitions named. */
  readonly tables: TableCount[];
  /** Partitioned tables named (not in the manifest: they hold no rows of their own). */
  readonly parents: string[];
  /** For a person: a partition named on its own. */
  readonly warnings: string[];
}

export interface Partitions {
  /** Partitioned table → its leaf partitions, in the target. */
  readonly leaves: ReadonlyMap<string, readonly string[]>;
  /** Partition → the partitioned table at the top of its tree, in the target. */
  readonly rootOf: ReadonlyMap<string, string>;
}

const NO_PARTITIONS: Partitions = { leaves: new Map(), rootOf: new Map() };

function matching<T>(
  w: string,
  items: readonly T[],
  q: (t: T) => string,
  name: (t: T) => string,
): T[] {
  const exact = items.filter((t) => q(t) === w || q(t).replace(/"/g, "") === w);
  return exact.length > 0 ? exact : items.filter((t) => name(t) === w);
}

/**
 * Resolves --tables items against the manifest's tables (`name`, `schema.name` or the quoted
 * form). A partitioned table is not in the manifest (its rows are in its partitions): naming one
 * the target has selects its leaf partitions that the backup holds. Naming a partition alone
 * selects only it, with a warning. Unknown or ambiguous names are usage errors.
 */
export function resolveTables(
  wanted: readonly string[],
  tables: readonly TableCount[],
  partitions: Partitions = NO_PARTITIONS,
): Selection {
  const out: TableCount[] = [];
  const parents: string[] = [];
  const warnings: string[] = [];
  const parentNames = [...partitions.leaves.keys()];
  for (const raw of wanted) {
    const w = raw.trim();
    if (!w) continue;
    const hits = matching(
      w,
      tables,
      (t) => t.qualified,
      (t) => t.name,
    );
    const parentHits =
      hits.length === 0
        ? matching(
            w,
            parentNames,
            (p) => p,
            (p) => p.slice(p.lastIndexOf(".") + 1),
          )
        : [];
    if (hits.length + parentHits.length === 0) {
      throw new UsageError(
        `--tables: "${w}" is not a table in this backup; expected one of ${tables
          .slice(0, 8)
          .map((t) => t.qualified)
          .join(", ")}${tables.length > 8 ? ", …" : ""} (see the manifest)`,
      );
    }
    if (hits.length + parentHits.length > 1) {
      throw new UsageError(
        `--tables: "${w}" is ambiguous (${[...hits.map((t) => t.qualified), ...parentHits].join(", ")}); qualify it with its schema`,
      );
    }
    if (parentHits.length === 1) {
      const parent = parentHits[0];
      if (!parents.includes(parent)) parents.push(parent);
      const leaves = new Set(partitions.leaves.get(parent) ?? []);
      for (const t of tables) if (leaves.has(t.qualified) && !out.includes(t)) out.push(t);
      continue;
    }
    const t = hits[0];
    const root = partitions.rootOf.get(t.qualified);
    if (root !== undefined) {
      warnings.push(
        `${t.qualified} is a partition of ${root}: only its own rows are restored; name ${root} ` +
          `to restore the whole partitioned table`,
      );
    }
    if (!out.includes(t)) out.push(t);
  }
  return { tables: out, parents, warnings };
}

/**
 * The `-L` list for --tables: tables the target lacks come back whole, tables it has get their
 * rows replaced (./replaceRows.ts). Refuses a foreign key the archive cannot satisfy.
 */
export async function planTables(
  client: Client,
  listing: string,
  tables: readonly TableCount[],
): Promise<{ list: string; counts: Record<string, number>; rowsOnly: string[] }> {
  const present = await targetTables(client);
  const { rows } = await client.query<{ nspname: string }>("select nspname from pg_namespace");
  const schemas = new Set(rows.map((r) => r.nspname));
  const rowsOnly = tables.filter((t) => present.has(t.qualified));
  const whole = tables.filter((t) => !present.has(t.qualified));
  const selection = selectTables(
    parseToc(listing),
    whole,
    present,
    new Set(whole.map((t) => t.schema).filter((s) => !schemas.has(s))),
    rowsOnly,
  );
  if (selection.unresolvable.length > 0) {
    throw new DrctlError(
      `--tables cannot bring back foreign key(s) ${selection.unresolvable.join(", ")}: the ` +
        `referenced table is neither restored nor in the target; add it to --tables`,
    );
  }
  return {
    list: selection.list,
    counts: selection.counts,
    rowsOnly: rowsOnly.map((t) => t.qualified),
  };
}
