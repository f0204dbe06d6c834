import { describe, expect, it } from "vitest";
import { errorLine } from "../../drctl/src/postgres/tools";

/**
 * The one line drctl keeps of a failed PostgreSQL program's stderr. The interleaved case is what
 * `pg_dump --jobs 2` printed when both workers hit a full disk at once (parallelFailures.test.ts).
 */
describe("errorLine", () => {
  it("keeps the error line, not the failing command after it", () => {
    expect(
      errorLine(
        "pg_dump: error: query failed: ERROR:  permission denied for table users\npg_dump: detail: Query was: LOCK TABLE public.users IN ACCESS SHARE MODE\n",
      ),
    ).toBe("pg_dump: error: query failed: ERROR:  permission denied for table users");
  });

  it("writes the prefixes once when two workers interleaved them", () => {
    expect(
      errorLine(
        "pg_dump:pg_dump: error: could not write to output file: No space left on device\n",
      ),
    ).toBe("pg_dump: error: could not write to output file: No space left on device");
    expect(
      errorLine(
        "pg_dump: pg_dump: error: error: could not write to output file: No space left on device\n",
      ),
    ).toBe("pg_dump: error: could not write to output file: No space left on device");
  });

  it("leaves an error: inside the message alone", () => {
    expect(errorLine("psql: error: server said: error: disk full\n")).toBe(
      "psql: error: server said: error: disk full",
    );
  });

  it("takes the last line when none says error", () => {
    expect(errorLine("zstd: warning: something\nzstd: /dev/stdin: unexpected end of file\n")).toBe(
      "zstd: /dev/stdin: unexpected end of file",
    );
    expect(errorLine("")).toBe("");
  });
});
