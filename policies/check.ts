/**
 * `npm run policy:check`: runs every stack file in every role under Pulumi mocks and evaluates the
 * dr-stack-guard rules over what each registered — the policy pack's verdict without a cloud
 * account or the Pulumi CLI. Prints violations as `pulumi preview` does and exits 1 if any is
 * mandatory (2 if a stack fails to run at all).
 *
 *   npm run policy:check
 *   npm run policy:check -- --stack dr --role promoting
 *   npm run policy:check -- --policy-config policy-config.json   # thresholds / levels, as the CLI takes them
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { resetRequireCache, runProgramWith } from "../test/support/mockRun";
import { stackConfig } from "../test/support/stackFiles";
import { formatViolations, type PackConfig } from "./evaluate";
import { checkCase, isMandatory, ROLES, STACKS, type Role, type Stack } from "./offline";

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      stack: { type: "string", multiple: true },
      role: { type: "string", multiple: true },
      "policy-config": { type: "string" },
    },
  });
  const stacks = (values.stack ?? [...STACKS]) as Stack[];
  const roles = (values.role ?? [...ROLES]) as Role[];
  for (const s of stacks)
    if (!STACKS.includes(s)) throw new Error(`unknown stack ${s}; expected ${STACKS.join(", ")}`);
  for (const r of roles)
    if (!ROLES.includes(r)) throw new Error(`unknown role ${r}; expected ${ROLES.join(", ")}`);
  const config = values["policy-config"]
    ? (JSON.parse(readFileSync(values["policy-config"], "utf8")) as PackConfig)
    : undefined;

  let mandatory = 0;
  let broken = 0;
  for (const stack of stacks) {
    for (const role of roles) {
      const result = await checkCase(
        (s, overrides) => runProgramWith(stackConfig(s, overrides), s, resetRequireCache),
        stack,
        role,
        config,
      );
      const title = `== Pulumi.${stack}.yaml as ${role}`;
      if (result.error) {
        broken++;
        console.log(`${title}: the stack did not run\n${result.error}\n`);
        continue;
      }
      const count = result.violations.filter(isMandatory).length;
      mandatory += count;
      console.log(`${title}: ${result.violations.length} violation(s), ${count} mandatory`);
      console.log(formatViolations(result.violations));
    }
  }
  if (broken) return 2;
  return mandatory > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(2);
  },
);
