/**
 * The docs check: every Markdown link, repository path, `npm run` script, drctl command and flag,
 * config key and environment variable that README.md, docs/ and drctl/README.md name exists; the
 * counts the README states (policy rules, stack outputs) are the code's; and nothing cites a file
 * outside the repository. Prints one line per problem and exits 1 when there is any.
 *
 *   npm run docs:check
 */
import { join } from "node:path";
import { runChecks } from "./docs/checks";
import { readFacts } from "./docs/facts";
import { Repo } from "./docs/sources";

async function main(): Promise<number> {
  const repo = new Repo(join(__dirname, ".."));
  const findings = runChecks(repo, await readFacts(repo));
  for (const f of findings) process.stderr.write(`${f.file}:${f.line}: ${f.message}\n`);
  if (findings.length > 0) {
    process.stderr.write(`docs check: ${findings.length} problem(s)\n`);
    return 1;
  }
  process.stdout.write("docs check: every link, path, script, command, key and count holds\n");
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`docs check could not run: ${(err as Error).message}\n`);
    process.exitCode = 2;
  },
);
