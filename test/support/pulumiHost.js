// Loads a Pulumi program the way `pulumi up` does (@pulumi/pulumi/cmd/run/run.js): ts-node
// registered with the project's tsconfig.json, type-checking on, CommonJS because package.json has
// no "type": "module". Then runs it under mocks and prints what it registered as one JSON line.
// Usage: node test/support/pulumiHost.js <program.ts> <config.json> <stack>
"use strict";
const path = require("node:path");
const fs = require("node:fs");

async function main() {
  const [programArg, configFile, stack] = process.argv.slice(2);
  const root = path.join(__dirname, "..", "..");
  process.chdir(root);
  // The same calls run.js makes; tsutils is the module it uses for them.
  const tsutils = require("@pulumi/pulumi/tsutils");
  const compilerOptions = tsutils.loadTypeScriptCompilerOptions("tsconfig.json");
  const { tsnodeRequire, typescriptRequire } = tsutils.typeScriptRequireStrings();
  const pkg = JSON.parse(fs.readFileSync("package.json", "utf8"));
  if (pkg.type === "module")
    throw new Error("package.json says type: module; this host mimics the CommonJS path");
  require(tsnodeRequire).register({
    compiler: typescriptRequire,
    transpileOnly:
      process.env.PULUMI_NODEJS_TRANSPILE_ONLY === "true" ? true : compilerOptions.noCheck,
    project: "tsconfig.json",
    skipProject: false,
    compilerOptions: {
      target: "ES2020",
      module: "nodenext",
      moduleResolution: "nodenext",
      sourceMap: "true",
      ...compilerOptions,
    },
  });

  const pulumi = require("@pulumi/pulumi");
  const { computedState, mockCall } = require("./mocks.ts");
  const config = JSON.parse(fs.readFileSync(configFile, "utf8"));
  const region = config["aws:region"] || "us-east-1";
  pulumi.runtime.setAllConfig(config);
  const types = [];
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        types.push(args.type);
        return computedState(args.type, args.name, args.inputs, region);
      },
      call: (args) => mockCall(args, region),
    },
    "dr-stack",
    stack,
  );
  const program = require(path.resolve(root, programArg));
  const outputs = {};
  for (const [k, v] of Object.entries(program)) {
    outputs[k] = pulumi.Output.isInstance(v) ? await new Promise((r) => v.apply(r)) : v;
  }
  await pulumi.runtime.disconnect();
  process.stdout.write(JSON.stringify({ types, outputs: Object.keys(outputs).sort() }) + "\n");
}

main().catch((err) => {
  process.stderr.write(String((err && err.message) || err) + "\n");
  process.exit(1);
});
