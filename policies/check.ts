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
import type { PackConfig } from "./evaluate";
import { ROLES, runCheck, STACKS, type Role, type Stack } from "./offline";

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

  return runCheck(
    (s, overrides) => runProgramWith(stackConfig(s, overrides), s, resetRequireCache),
    { stacks, roles, config },
  );
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(2);
  },
);
