import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import {
  parseConfig,
  rawStackConfig,
  type ResolvedConfig,
  type Role,
} from "../../../components/config";

/** The two stacks of the program (Pulumi.primary.yaml, Pulumi.dr.yaml); a site is found by their config. */
export const STACK_NAMES = ["primary", "dr"] as const;

export interface SiteState {
  readonly site: string;
  readonly stack: string;
  readonly region: string;
  /** Undefined when the stack could not be read (its state or secrets provider did not answer). */
  readonly role: Role | undefined;
  /**
   * `dr-stack:database.previousRole` when set: a move declared by a run whose update failed, so
   * `role` is where the site was going and this is the role still deployed.
   */
  readonly previousRole?: Role;
  /** Why the stack could not be read, when it could not. */
  readonly unreadable?: string;
}

export interface Topology {
  readonly sites: readonly [SiteState, SiteState];
  /** Validated config of a readable stack: names, regions, alarm thresholds and DNS are shared by both. */
  readonly config: ResolvedConfig;
}

export class TopologyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TopologyError";
  }
}

export function findSite(t: Topology, site: string): SiteState | undefined {
  return t.sites.find((s) => s.site === site);
}

export function peerOf(t: Topology, site: string): SiteState {
  return t.sites[0].site === site ? t.sites[1] : t.sites[0];
}

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

interface StackRead {
  readonly stack: string;
  readonly config?: ResolvedConfig;
  readonly error?: string;
}

/**
 * Reads `dr-stack:*` config of both stacks. One stack may be unreadable (its region is down, docs/architecture.md §2):
 * its site is then the one the other stack's `sites` map names besides itself, its role unknown.
 */
export async function readTopology(
  getAllConfig: (stack: string) => Promise<Record<string, string>>,
): Promise<Topology> {
  const reads: StackRead[] = [];
  for (const stack of STACK_NAMES) {
    try {
      reads.push({ stack, config: parseConfig(rawStackConfig(await getAllConfig(stack))) });
    } catch (err) {
      reads.push({ stack, error: message(err) });
    }
  }
  const readable = reads.filter((r): r is StackRead & { config: ResolvedConfig } => !!r.config);
  if (readable.length === 0) {
    throw new TopologyError(
      `could not read the config of either stack:\n` +
        reads.map((r) => `  - ${r.stack}: ${r.error ?? ""}`).join("\n") +
        `\nRun drctl from the Pulumi project directory (or pass --work-dir) and check \`pulumi whoami\`.`,
    );
  }
  const [a, b] = reads.map((r): SiteState => {
    if (r.config) {
      return {
        site: r.config.site,
        stack: r.stack,
        region: r.config.self.region,
        role: r.config.role,
        previousRole: r.config.database.previousRole,
      };
    }
    const other = readable[0].config;
    return {
      site: other.peer.site,
      stack: r.stack,
      region: other.peer.region,
      role: undefined,
      unreadable: r.error,
    };
  });
  if (a.site === b.site) {
    throw new TopologyError(
      `stacks ${a.stack} and ${b.stack} both declare dr-stack:site ${a.site}; ` +
        `each stack must deploy a different site (fix dr-stack:site in Pulumi.${b.stack}.yaml)`,
    );
  }
  return { sites: [a, b], config: readable[0].config };
}

/**
 * A stack's config as its Pulumi.<stack>.yaml in `workDir` holds it, in the shape getAllConfig
 * returns (structured values as JSON text): `pulumi config set` writes this file, so reading it
 * needs neither the Pulumi CLI nor the state backend.
 */
export function readStackFile(workDir: string, stack: string): Record<string, string> {
  const path = join(workDir, `Pulumi.${stack}.yaml`);
  let doc: { config?: Record<string, unknown> } | null;
  try {
    doc = parse(readFileSync(path, "utf8")) as { config?: Record<string, unknown> } | null;
  } catch (err) {
    throw new TopologyError(
      `cannot read ${path}: ${message(err)}; run drctl from the Pulumi project directory (or pass --work-dir)`,
    );
  }
  const flat: Record<string, string> = {};
  for (const [k, v] of Object.entries(doc?.config ?? {})) {
    flat[k] = typeof v === "string" ? v : JSON.stringify(v);
  }
  return flat;
}
