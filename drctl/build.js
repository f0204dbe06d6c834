"use strict";
// Builds drctl/dist from drctl/src for a checkout: `npm ci` runs it (package.json "prepare") and
// drctl/bin/drctl re-runs it when a source is newer than the build. It transpiles each file with
// TypeScript's own transpileModule, the transform ts-node --transpile-only applies at every start:
// about a second for the whole CLI, where `tsc -p` type-checks the program first (13 s here, and a
// type error in a file being edited would fail `npm ci`). Types are checked by `npm run
// typecheck` and CI. The container image keeps its own type-checked build (drctl/Dockerfile runs
// tsc -p drctl/tsconfig.build.json), which leaves the failover orchestrator out; this one compiles
// every file under drctl/src and what they import from the repository (the orchestrator reads
// components/config), so `drctl failover` also starts compiled from a checkout.
// Layout as tsc's with rootDir "..": drctl/dist/drctl/src/main.js.
const fs = require("node:fs");
const path = require("node:path");

const ROOT = path.join(__dirname, "..");
const SRC = path.join(__dirname, "src");
const OUT = path.join(__dirname, "dist");
/** Written last: the build's start time and the sources it compiled. */
const STAMP = path.join(OUT, "checkout-build.json");

function sourcesUnder(dir) {
  const out = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...sourcesUnder(p));
    else if (e.name.endsWith(".ts") && !e.name.endsWith(".d.ts")) out.push(p);
  }
  return out;
}

/** A relative import's file: x.ts or x/index.ts; undefined for anything else (e.g. JSON). */
function resolveImport(from, spec) {
  const base = path.resolve(path.dirname(from), spec);
  for (const candidate of [`${base}.ts`, path.join(base, "index.ts")]) {
    if (fs.existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** Writes through a temporary file and a rename, so a drctl starting meanwhile never reads half a file. */
function writeAtomic(file, text) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

/** Transpiles drctl/src and its relative imports into drctl/dist; returns the sources compiled. */
function build() {
  const ts = require("typescript");
  const startedAt = Date.now();
  const tsconfig = ts.readConfigFile(path.join(ROOT, "tsconfig.json"), ts.sys.readFile).config;
  const { options } = ts.convertCompilerOptionsFromJson(tsconfig.compilerOptions, ROOT);
  const compilerOptions = { ...options, sourceMap: false, declaration: false };
  const todo = sourcesUnder(SRC);
  const seen = new Set(todo);
  while (todo.length > 0) {
    const file = todo.pop();
    const text = fs.readFileSync(file, "utf8");
    const js = ts.transpileModule(text, { compilerOptions, fileName: file }).outputText;
    const rel = path.relative(ROOT, file);
    writeAtomic(path.join(OUT, rel.replace(/\.ts$/, ".js")), js);
    for (const { fileName } of ts.preProcessFile(text, true, true).importedFiles) {
      if (!fileName.startsWith(".")) continue;
      const dep = resolveImport(file, fileName);
      if (dep !== undefined && !seen.has(dep)) {
        seen.add(dep);
        todo.push(dep);
      }
    }
  }
  const sources = [...seen].map((f) => path.relative(ROOT, f)).sort();
  writeAtomic(STAMP, `${JSON.stringify({ startedAt, sources }, null, 2)}\n`);
  return sources;
}

/**
 * Why the checkout's build cannot be run as it is, or undefined when it is current: missing, or a
 * source (any file under drctl/src, or one it imports from elsewhere) changed after the build
 * started. Stats about a hundred files: a millisecond or two, not a compile.
 */
function staleReason() {
  let stamp;
  try {
    stamp = JSON.parse(fs.readFileSync(STAMP, "utf8"));
  } catch {
    return "drctl/dist has no checkout build yet";
  }
  const files = new Set([...sourcesUnder(SRC), ...stamp.sources.map((s) => path.join(ROOT, s))]);
  for (const file of files) {
    let mtime;
    try {
      mtime = fs.statSync(file).mtimeMs;
    } catch {
      return `${path.relative(ROOT, file)} was removed after the build`;
    }
    if (mtime > stamp.startedAt) return `${path.relative(ROOT, file)} changed after the build`;
  }
  return undefined;
}

module.exports = { build, staleReason, STAMP };

if (require.main === module) {
  const t = Date.now();
  const sources = build();
  process.stdout.write(
    `drctl: built ${sources.length} files into drctl/dist in ${((Date.now() - t) / 1000).toFixed(1)} s\n`,
  );
}
