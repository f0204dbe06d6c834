import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { buildHandler, HANDLERS } from "../../components/regionSwitch/bundle";
import { ROOT } from "../harness";

/**
 * The functions' code is built at program time. Pulumi compares an archive by the hash of its
 * contents, so the same sources must give the same bytes on every run and every machine, or every
 * `pulumi up` would update both functions of both stacks.
 * https://www.pulumi.com/docs/iac/concepts/assets-archives/
 */
describe("the functions' bundles", { timeout: 120_000 }, () => {
  it.each(Object.entries(HANDLERS))(
    "%s: the same bytes on every build, no path of this checkout",
    (_, entry) => {
      const a = buildHandler(entry);
      const b = buildHandler(entry);
      expect(a).toBe(b);
      expect(a.includes(ROOT)).toBe(false);
      // The SQL comes from drctl's failover module, bundled in.
      expect(a).toContain("default_transaction_read_only");
    },
  );

  it.each(Object.entries(HANDLERS))(
    "%s: loads on its own and exports the handler Lambda calls",
    (_, entry) => {
      const dir = mkdtempSync(join(tmpdir(), "rs-bundle-"));
      try {
        const file = join(dir, "index.js");
        writeFileSync(file, buildHandler(entry));
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const mod = require(file) as { handler?: unknown };
        expect(typeof mod.handler).toBe("function");
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
