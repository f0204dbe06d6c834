import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

/**
 * What the docs check reads: the repository's files, with optional overrides so a test can plant a
 * dead link, a removed key or a stale count without touching the tree. An override of `null`
 * removes the file.
 */
export class Repo {
  private readonly tracked: Set<string>;

  constructor(
    readonly root: string,
    private readonly overrides: ReadonlyMap<string, string | null> = new Map(),
  ) {
    this.tracked = new Set(listFiles(root));
    for (const [path, text] of overrides) {
      if (text === null) this.tracked.delete(path);
      else this.tracked.add(path);
    }
  }

  /** Every file of the repository (git's view, untracked but not ignored included). */
  files(): string[] {
    return [...this.tracked].sort();
  }

  has(path: string): boolean {
    const clean = path.replace(/\/+$/, "");
    if (this.tracked.has(clean)) return true;
    // A folder exists when some file lies below it.
    const prefix = `${clean}/`;
    for (const f of this.tracked) if (f.startsWith(prefix)) return true;
    return false;
  }

  /** A path the build or a run writes (listed in .gitignore, such as `drctl/dist`). */
  isGenerated(path: string): boolean {
    if (!this.tracked.has(".gitignore")) return false;
    const clean = path.replace(/\/+$/, "");
    return this.read(".gitignore")
      .split("\n")
      .map((l) => l.trim().replace(/^\//, "").replace(/\/+$/, ""))
      .filter((l) => l !== "" && !l.startsWith("#") && !l.includes("*"))
      .some((l) =>
        // A pattern without an inner slash matches a name at any depth, as git reads it.
        l.includes("/") ? clean === l || clean.startsWith(`${l}/`) : clean.split("/").includes(l),
      );
  }

  read(path: string): string {
    const o = this.overrides.get(path);
    if (o !== undefined) {
      if (o === null) throw new Error(`${path} was removed`);
      return o;
    }
    return readFileSync(join(this.root, path), "utf8");
  }
}

function listFiles(root: string): string[] {
  if (existsSync(join(root, ".git"))) {
    const out = execFileSync(
      "git",
      ["ls-files", "--cached", "--others", "--exclude-standard", "-z"],
      { cwd: root, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 },
    );
    return out
      .split("\0")
      .filter((f) => f !== "")
      .filter((f) => existsSync(join(root, f)));
  }
  throw new Error(`${root} is not a git checkout; the docs check reads git's list of files`);
}

/** The Markdown files the check holds to the repository: the README, docs/ and drctl's README. */
export function docFiles(repo: Repo): string[] {
  return repo
    .files()
    .filter(
      (f) =>
        f === "README.md" ||
        f === "drctl/README.md" ||
        (f.startsWith("docs/") && f.endsWith(".md")),
    );
}

/** One problem the check found, with where it is. */
export interface Finding {
  readonly file: string;
  readonly line: number;
  readonly message: string;
}

/** Calls `visit` with each line of `text` (1-based), telling it whether the line is inside a code fence. */
export function eachLine(
  text: string,
  visit: (line: string, lineNo: number, inFence: boolean) => void,
): void {
  let fence = false;
  text.split("\n").forEach((line, i) => {
    if (/^\s*(```|~~~)/.test(line)) {
      fence = !fence;
      visit(line, i + 1, true);
      return;
    }
    visit(line, i + 1, fence);
  });
}

/** The inline code spans of one line (`like this`). */
export function codeSpans(line: string): string[] {
  const spans: string[] = [];
  const re = /(`+)([^`]+?)\1/g;
  for (let m = re.exec(line); m !== null; m = re.exec(line)) spans.push(m[2].trim());
  return spans;
}
