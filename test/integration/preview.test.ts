import { LocalWorkspace } from "@pulumi/pulumi/automation";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../support/stackFiles";

/**
 * Opt-in: needs the Pulumi CLI, a logged-in backend, and AWS credentials for a sandbox account.
 *   DRSTACK_AWS_INTEGRATION=1 npx vitest run test/integration
 * Previews only; never runs `pulumi up`.
 */
const enabled = process.env.DRSTACK_AWS_INTEGRATION === "1";

describe.skipIf(!enabled)("preview against real AWS", () => {
  for (const stackName of ["primary", "dr"]) {
    it(
      `previews ${stackName} with the policy pack and no errors`,
      { timeout: 900_000 },
      async () => {
        const stack = await LocalWorkspace.selectStack({ stackName, workDir: ROOT });
        let output = "";
        const result = await stack.preview({
          policyPacks: [join(ROOT, "policies")],
          onOutput: (line) => (output += line),
        });
        expect(output).not.toMatch(/mandatory/i);
        expect(Object.keys(result.changeSummary).length).toBeGreaterThan(0);
      },
    );
  }
});
