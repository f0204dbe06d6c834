import { dirname, join, normalize } from "node:path";
import { codeSpans, docFiles, eachLine, type Finding, type Repo } from "./sources";

/**
 * The facts the docs are checked against, each read from the code that owns it, so a doc can only
 * name what exists. Built once per run by `facts.ts`.
 */
export interface Facts {
  /** `npm run` script names in package.json. */
  readonly npmScripts: ReadonlySet<string>;
  /** drctl's commands and subcommands, as its usage text names them. */
  readonly drctlCommands: ReadonlySet<string>;
  /** Every `--flag` drctl's usage text names. */
  readonly drctlFlags: ReadonlySet<string>;
  /** Every config path the schema accepts (`jobs.image`, `sites.*.dns.records`, …). */
  readonly configPaths: ReadonlySet<string>;
  /** How many policies the pack enforces as mandatory, and how many as advisory. */
  readonly policyCounts: { readonly mandatory: number; readonly advisory: number };
  /** The stack's outputs: the names index.ts exports. */
  readonly stackOutputs: readonly string[];
}

const TOP_DIRS =
  "components|policies|drctl|docs|test|bench|rehearsal|scripts|\\.github|\\.ci|examples";
// Only paths from a top folder are checked: a bare file name (`manifest.json`, `dr_report.json`)
// usually names something drctl or the rehearsal writes, not a file of the repository.
const REPO_PATH = new RegExp(`^(?:\\./)?(?:${TOP_DIRS})/[A-Za-z0-9_.\\-/]*$`);
const SKIP_PATH = /[<>*{}…$]|\.\.\./;

/** A token names a repository path when it starts at a top folder or is a top-level file. */
function isPathToken(token: string): boolean {
  return REPO_PATH.test(token) && !SKIP_PATH.test(token) && !token.startsWith("s3/");
}

function pathExists(repo: Repo, doc: string, path: string): boolean {
  const clean = path.replace(/^\.\//, "").replace(/[.,:;)]+$/, "");
  return (
    repo.has(clean) || repo.has(normalize(join(dirname(doc), clean))) || repo.isGenerated(clean)
  );
}

/** Relative Markdown links and images resolve to a file or folder of the repository. */
export function checkLinks(repo: Repo, doc: string, text: string, out: Finding[]): void {
  eachLine(text, (line, lineNo, inFence) => {
    if (inFence) return;
    const re = /!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g;
    for (let m = re.exec(line); m !== null; m = re.exec(line)) {
      const target = m[1];
      if (/^(https?:|mailto:|#)/.test(target)) continue;
      const path = target.split("#")[0];
      const resolved = normalize(join(dirname(doc), path));
      if (!repo.has(resolved)) {
        out.push({ file: doc, line: lineNo, message: `dead link: ${target} (no ${resolved})` });
      }
    }
  });
}

/** Repository paths named in code spans and code blocks exist. */
export function checkPaths(repo: Repo, doc: string, text: string, out: Finding[]): void {
  eachLine(text, (line, lineNo, inFence) => {
    const tokens = inFence
      ? line.split(/[\s"'=()[\]]+/)
      : codeSpans(line).flatMap((s) => s.split(/\s+/));
    for (const raw of tokens) {
      const token = raw.replace(/[.,:;)]+$/, "").replace(/:\d+(-\d+)?$/, "");
      if (!isPathToken(token)) continue;
      if (!pathExists(repo, doc, token)) {
        out.push({ file: doc, line: lineNo, message: `no such path in the repository: ${token}` });
      }
    }
  });
}

/** `npm run <script>` names a script of package.json. */
export function checkNpmScripts(doc: string, text: string, facts: Facts, out: Finding[]): void {
  eachLine(text, (line, lineNo) => {
    const re = /npm run (?:--silent |-s )?([a-z][a-z0-9:.-]*)/g;
    for (let m = re.exec(line); m !== null; m = re.exec(line)) {
      if (!facts.npmScripts.has(m[1])) {
        out.push({ file: doc, line: lineNo, message: `no npm script "${m[1]}" in package.json` });
      }
    }
  });
}

/** `drctl <command> --flag …` names a command and flags drctl's usage knows. */
export function checkDrctl(doc: string, text: string, facts: Facts, out: Finding[]): void {
  eachLine(text, (line, lineNo, inFence) => {
    const pieces = inFence ? [line.replace(/#.*$/, "")] : codeSpans(line);
    for (const piece of pieces) {
      // drctl as the command run: at the start, or after a shell operator (not `eslint drctl`).
      const m = /(?:^|[;&|(]\s*)(?:npx\s+)?(?:[\w./-]*\/bin\/)?drctl\s+([a-z][a-z-]*)\b(.*)$/.exec(
        piece.trim().replace(/^\$\s+/, ""),
      );
      if (!m) continue;
      const [, command, rest] = m;
      if (!facts.drctlCommands.has(command)) {
        out.push({ file: doc, line: lineNo, message: `drctl has no command "${command}"` });
        continue;
      }
      for (const f of rest.match(/(?<![\w-])--[a-z][a-z0-9-]*/g) ?? []) {
        if (!facts.drctlFlags.has(f)) {
          out.push({ file: doc, line: lineNo, message: `drctl ${command}: no flag ${f}` });
        }
      }
    }
  });
}

/** `dr-stack:<key>` names a key the config schema accepts. */
export function checkConfigKeys(doc: string, text: string, facts: Facts, out: Finding[]): void {
  eachLine(text, (line, lineNo) => {
    // `dr-stack:purpose=pitr-test` is a tag, not a key.
    const re = /dr-stack:([A-Za-z][A-Za-z0-9]*(?:\.[A-Za-z][A-Za-z0-9]*)*)(?![=\w])/g;
    for (let m = re.exec(line); m !== null; m = re.exec(line)) {
      if (!configPathKnown(m[1], facts.configPaths)) {
        out.push({ file: doc, line: lineNo, message: `no config key dr-stack:${m[1]}` });
      }
    }
  });
}

/** A dotted key is known when the schema has it, a record's entry standing for any name. */
export function configPathKnown(key: string, paths: ReadonlySet<string>): boolean {
  if (paths.has(key)) return true;
  const parts = key.split(".");
  // sites.use1.region: try each part as a record entry.
  for (let i = 0; i < parts.length; i++) {
    const candidate = [...parts.slice(0, i), "*", ...parts.slice(i + 1)].join(".");
    if (paths.has(candidate)) return true;
  }
  return false;
}

const ENV_NAME = /\b((?:DRCTL|DRSTACK)_[A-Z0-9_]*[A-Z0-9]|PG_[A-Z][A-Z_]*[A-Z])\b/g;

/** The code the environment names are looked up in: everything that is not prose. */
function codeText(repo: Repo): string {
  return repo
    .files()
    .filter(
      (f) => !f.endsWith(".md") && !f.startsWith("scripts/docs/") && !f.startsWith("test/docs/"),
    )
    .filter((f) => /\.(ts|js|mjs|mts|sh|ya?ml|json)$|Dockerfile$|^\.ci\/run$|bin\/drctl$/.test(f))
    .filter((f) => !f.startsWith("test/fixtures/") && f !== "package-lock.json")
    .map((f) => repo.read(f))
    .join("\n");
}

/** `DRCTL_DB_URL_USW2` is read where the code builds `DRCTL_DB_URL_${site}`. */
function codeReads(code: string, name: string): boolean {
  if (code.includes(name)) return true;
  for (let i = name.indexOf("_"); i > 0; i = name.indexOf("_", i + 1)) {
    if (code.includes(`${name.slice(0, i + 1)}\${`)) return true;
  }
  return false;
}

/**
 * Environment variables a doc names are read somewhere in the code, and every variable drctl
 * reads is in drctl/README.md's reference.
 */
export function checkEnv(repo: Repo, docs: readonly string[], out: Finding[]): void {
  const code = codeText(repo);
  for (const doc of docs) {
    eachLine(repo.read(doc), (line, lineNo) => {
      for (const m of line.matchAll(ENV_NAME)) {
        if (!codeReads(code, m[1])) {
          out.push({ file: doc, line: lineNo, message: `no code reads ${m[1]}` });
        }
      }
    });
  }
  const readme = repo.read("drctl/README.md");
  const read = new Set<string>();
  for (const f of repo.files()) {
    if (!f.startsWith("drctl/src/") || !f.endsWith(".ts")) continue;
    // Read from the environment: `env.X`, `env["X"]`, or a string naming it (not a constant).
    const text = repo.read(f);
    for (const m of text.matchAll(/(?:env\.|["'`])(DRCTL_[A-Z0-9_]+|PG_OS_USER)/g)) read.add(m[1]);
  }
  for (const name of [...read].sort()) {
    if (!readme.includes(name)) {
      out.push({
        file: "drctl/README.md",
        line: 1,
        message: `drctl reads ${name}, which the environment reference does not name`,
      });
    }
  }
}

const NUMBER_WORDS: Record<string, number> = {
  no: 0,
  one: 1,
  two: 2,
  three: 3,
  four: 4,
  five: 5,
  six: 6,
  seven: 7,
  eight: 8,
  nine: 9,
  ten: 10,
};

function countOf(word: string): number {
  return /^\d+$/.test(word) ? Number(word) : (NUMBER_WORDS[word.toLowerCase()] ?? NaN);
}

/** The counts the README states (policies, outputs) are the counts of the code. */
export function checkCounts(repo: Repo, facts: Facts, out: Finding[]): void {
  const readme = repo.read("README.md");
  const stated: Array<[RegExp, number, string]> = [
    [/\b(\w+) mandatory rules\b/g, facts.policyCounts.mandatory, "mandatory policy rules"],
    [/\b(\w+) advisory\b/g, facts.policyCounts.advisory, "advisory policy rules"],
    [/\b(\w+) stack outputs\b/g, facts.stackOutputs.length, "stack outputs"],
  ];
  for (const [re, actual, what] of stated) {
    let seen = false;
    eachLine(readme, (line, lineNo) => {
      for (const m of line.matchAll(re)) {
        const n = countOf(m[1]);
        if (Number.isNaN(n)) continue;
        seen = true;
        if (n !== actual) {
          out.push({
            file: "README.md",
            line: lineNo,
            message: `says ${m[1]} ${what}; the code has ${actual}`,
          });
        }
      }
    });
    if (!seen) {
      out.push({
        file: "README.md",
        line: 1,
        message: `does not state how many ${what} (${actual})`,
      });
    }
  }
  checkOutputsTable(readme, facts, out);
}

/** README's stack-outputs table lists exactly the outputs index.ts exports. */
function checkOutputsTable(readme: string, facts: Facts, out: Finding[]): void {
  const start = readme.indexOf("## Stack outputs");
  if (start < 0) {
    out.push({ file: "README.md", line: 1, message: `has no "## Stack outputs" section` });
    return;
  }
  const section = readme.slice(start).split(/\n## /)[0];
  const listed = new Set([...section.matchAll(/^\|\s*`([A-Za-z0-9]+)`\s*\|/gm)].map((m) => m[1]));
  for (const name of facts.stackOutputs) {
    if (!listed.has(name)) {
      out.push({ file: "README.md", line: 1, message: `stack outputs table lacks ${name}` });
    }
  }
  for (const name of listed) {
    if (!facts.stackOutputs.includes(name)) {
      out.push({
        file: "README.md",
        line: 1,
        message: `stack outputs table lists ${name}, which index.ts does not export`,
      });
    }
  }
}

/**
 * The repository explains itself: no text cites a design file it does not contain or uses a
 * private shorthand for a rule instead of saying what the rule is.
 */
export function checkSelfContained(repo: Repo, out: Finding[]): void {
  const foreign = [
    {
      re: new RegExp(["DESIGN", "(?:\\.md|\\s*§|\\s*$)"].join("")),
      what: "a design file this repository does not contain (docs/architecture.md is the design)",
    },
    {
      re: new RegExp(["contract", "C\\d"].join(" ")),
      what: 'a private shorthand ("contract Cn"): say what the rule is',
    },
    { re: /\.\.\/shared\b/, what: "a folder outside the repository" },
  ];
  for (const f of repo.files()) {
    if (f.startsWith("scripts/docs/") || f.startsWith("test/fixtures/")) continue;
    if (!/\.(ts|js|mjs|mts|md|sh|ya?ml|json)$|Dockerfile$|^\.ci\/run$/.test(f)) continue;
    if (f === "package-lock.json") continue;
    eachLine(repo.read(f), (line, lineNo) => {
      for (const { re, what } of foreign) {
        if (re.test(line)) out.push({ file: f, line: lineNo, message: `cites ${what}` });
      }
    });
  }
}

/** Every check over every doc. */
export function runChecks(repo: Repo, facts: Facts): Finding[] {
  const out: Finding[] = [];
  const docs = docFiles(repo);
  for (const doc of docs) {
    const text = repo.read(doc);
    checkLinks(repo, doc, text, out);
    checkPaths(repo, doc, text, out);
    checkNpmScripts(doc, text, facts, out);
    checkDrctl(doc, text, facts, out);
    checkConfigKeys(doc, text, facts, out);
  }
  checkEnv(repo, docs, out);
  checkCounts(repo, facts, out);
  checkSelfContained(repo, out);
  return out;
}
