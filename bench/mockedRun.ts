/**
 * How long a mocked run of one stack takes once modules are loaded (goal: under 3 s).
 *   npm run bench:program [-- --stack dr --runs 5]
 * Module load (the provider SDKs) is measured separately: it is paid once per process. The
 * program is transpiled to JavaScript once up front (into bench/out, inside the repository so it
 * resolves node_modules), so each run measures the program, not TypeScript's transpiler.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import * as ts from "typescript";
import { parseArgs } from "node:util";
import { computedState, mockCall } from "../test/support/mocks";
import { stackFileConfig, toAllConfig } from "../test/support/stackFiles";

const ROOT = join(__dirname, "..");

/** Transpiles index.ts and components/ into `outDir`, keeping the layout; returns index.js. */
function transpileProgram(outDir: string): string {
  const sources = [
    "index.ts",
    ...readdirSync(join(ROOT, "components"), { recursive: true, encoding: "utf8" }).map(
      (f) => `components/${f}`,
    ),
  ];
  for (const rel of sources.filter((f) => f.endsWith(".ts"))) {
    const { outputText } = ts.transpileModule(readFileSync(join(ROOT, rel), "utf8"), {
      compilerOptions: {
        module: ts.ModuleKind.CommonJS,
        target: ts.ScriptTarget.ES2022,
        esModuleInterop: true,
      },
    });
    const out = join(outDir, rel.replace(/\.ts$/, ".js"));
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, outputText);
  }
  return join(outDir, "index.js");
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      stack: { type: "string", default: "primary" },
      runs: { type: "string", default: "5" },
    },
  });
  const stack = values.stack === "dr" ? "dr" : "primary";
  const runs = Number(values.runs);
  const config = toAllConfig(stackFileConfig(stack));
  const region = config["aws:region"];

  const loadStart = performance.now();
  const pulumi = await import("@pulumi/pulumi");
  await import("@pulumi/aws");
  await import("@pulumi/kubernetes");
  const loadMs = performance.now() - loadStart;

  const outDir = join(ROOT, "bench", "out", "program");
  rmSync(outDir, { recursive: true, force: true });
  const entry = transpileProgram(outDir);

  const timings: number[] = [];
  let resources = 0;
  for (let i = 0; i < runs; i++) {
    for (const id of Object.keys(require.cache)) {
      if (id.startsWith(outDir)) delete require.cache[id];
    }
    let count = 0;
    pulumi.runtime.setAllConfig(config);
    await pulumi.runtime.setMocks(
      {
        newResource: (args) => {
          count++;
          return computedState(
            args.type,
            args.name,
            args.inputs as Record<string, unknown>,
            region,
          );
        },
        call: (args) => mockCall(args, region),
      },
      "dr-stack",
      stack,
    );
    const start = performance.now();
    const program = (await import(entry)) as Record<string, unknown>;
    for (const v of Object.values(program)) {
      if (pulumi.Output.isInstance(v)) await new Promise((r) => v.apply(r));
    }
    await pulumi.runtime.disconnect();
    timings.push(performance.now() - start);
    resources = count;
  }
  timings.sort((a, b) => a - b);
  const median = timings[Math.floor(timings.length / 2)];
  console.log(`stack: ${stack}  resources registered: ${resources}`);
  console.log(`module load (once per process): ${loadMs.toFixed(0)} ms`);
  console.log(
    `mocked run after module load: median ${median.toFixed(0)} ms, min ${timings[0].toFixed(0)} ms, max ${timings[timings.length - 1].toFixed(0)} ms over ${runs} runs (goal < 3000 ms)`,
  );
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
