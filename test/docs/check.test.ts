import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runChecks, type Facts } from "../../scripts/docs/checks";
import { parseUsage, readFacts, schemaPaths } from "../../scripts/docs/facts";
import { Repo } from "../../scripts/docs/sources";
import { configSchema } from "../../components/config";

const root = join(__dirname, "..", "..");
let facts: Facts;

beforeAll(async () => {
  facts = await readFacts(new Repo(root));
}, 120_000);

/** The findings of a run with `files` planted over the repository, as "file:line: message". */
function findingsWith(files: Record<string, string | null>, f: Facts = facts): string[] {
  return runChecks(new Repo(root, new Map(Object.entries(files))), f).map(
    (x) => `${x.file}:${x.line}: ${x.message}`,
  );
}

const readme = (): string => new Repo(root).read("README.md");

describe("the docs check", () => {
  it("passes on the repository as it is", () => {
    expect(findingsWith({})).toEqual([]);
  });

  it("fails on a planted dead link, naming the file, the line and the target", () => {
    const text = `${readme()}\nSee [the old guide](docs/no-such-guide.md).\n`;
    const line = text.split("\n").length - 1;
    expect(findingsWith({ "README.md": text })).toEqual([
      `README.md:${line}: dead link: docs/no-such-guide.md (no docs/no-such-guide.md)`,
    ]);
  });

  it("fails when a config key a doc names is removed from the schema", () => {
    const without = new Set([...facts.configPaths].filter((p) => !/^jobs\.image(\.|$)/.test(p)));
    const found = findingsWith({}, { ...facts, configPaths: without });
    expect(found.length).toBeGreaterThan(0);
    expect(found.every((f) => f.endsWith("no config key dr-stack:jobs.image"))).toBe(true);
    expect(found.some((f) => f.startsWith("README.md:"))).toBe(true);
  });

  it("fails on a stale count of policy rules and of stack outputs", () => {
    const m = facts.policyCounts.mandatory;
    const text = readme()
      .replace(`${m} mandatory rules`, `${m - 1} mandatory rules`)
      .replace(
        `${facts.stackOutputs.length} stack outputs`,
        `${facts.stackOutputs.length + 2} stack outputs`,
      );
    const found = findingsWith({ "README.md": text });
    expect(found).toHaveLength(2);
    expect(found[0]).toMatch(
      new RegExp(`^README\\.md:\\d+: says ${m - 1} mandatory policy rules; the code has ${m}$`),
    );
    expect(found[1]).toMatch(
      new RegExp(
        `^README\\.md:\\d+: says ${facts.stackOutputs.length + 2} stack outputs; the code has ${facts.stackOutputs.length}$`,
      ),
    );
  });

  it("fails when an output is missing from the README's table", () => {
    const name = facts.stackOutputs[0];
    const text = readme()
      .split("\n")
      .filter((l) => !l.startsWith(`| \`${name}\``))
      .join("\n");
    expect(findingsWith({ "README.md": text })).toEqual([
      `README.md:1: stack outputs table lacks ${name}`,
    ]);
  });

  it("fails on a path, an npm script, a drctl command or flag and a variable that do not exist", () => {
    const doc = [
      "# planted",
      "Run `npm run no-such-script`, read `components/config.ts`.",
      "```sh",
      "drctl restore latest --no-such-flag",
      "drctl teleport",
      "```",
      "Set `DRCTL_NO_SUCH_VARIABLE`.",
    ].join("\n");
    expect(findingsWith({ "docs/planted.md": doc })).toEqual([
      "docs/planted.md:2: no such path in the repository: components/config.ts",
      'docs/planted.md:2: no npm script "no-such-script" in package.json',
      "docs/planted.md:4: drctl restore: no flag --no-such-flag",
      'docs/planted.md:5: drctl has no command "teleport"',
      "docs/planted.md:7: no code reads DRCTL_NO_SUCH_VARIABLE",
    ]);
  });

  it("fails on a citation of a design file the repository does not hold", () => {
    const cite = ["DESIGN", "§3"].join(" ");
    const doc = `# planted\n\nWhy: ${cite}.\n`;
    expect(findingsWith({ "docs/planted.md": doc })).toEqual([
      "docs/planted.md:3: cites a design file this repository does not contain (docs/architecture.md is the design)",
    ]);
  });
});

describe("the facts it reads from the code", () => {
  it("reads nested and record config paths from the zod schema", () => {
    const paths = schemaPaths(configSchema);
    expect(paths.has("jobs.image")).toBe(true);
    expect(paths.has("sites.*.region")).toBe(true);
    expect(paths.has("sites.*.dns.healthCheckFqdn")).toBe(true);
    expect(paths.has("database.nope")).toBe(false);
  });

  it("reads commands and flags from usage lines", () => {
    const u = parseUsage(
      "usage: drctl failover --to <site>\n       drctl failover reconnect --plan\n",
    );
    expect([...u.drctlCommands].sort()).toEqual(["failover", "reconnect"]);
    expect(u.drctlFlags.has("--to")).toBe(true);
    expect(u.drctlFlags.has("--plan")).toBe(true);
  });
});
