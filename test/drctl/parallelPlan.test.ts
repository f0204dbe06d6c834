import { describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { Manifest } from "../../drctl/src/manifestSchema";
import { chooseFormat, parseSize, type FormatInputs } from "../../drctl/src/parallel/choose";
import { listingDigest } from "../../drctl/src/parallel/layout";

const base: FormatInputs = {
  requested: "auto",
  jobs: 2,
  compression: "none",
  pgDumpMajor: 17,
  databaseBytes: 5e9,
  minBytes: 1e9,
};

describe("choosing the dump format", () => {
  it("auto dumps in parallel only with --jobs above 1 and a database above the threshold", () => {
    expect(chooseFormat(base).format).toBe("directory");
    expect(chooseFormat({ ...base, jobs: 1 })).toEqual({ format: "custom", reason: "--jobs 1" });
    expect(chooseFormat({ ...base, databaseBytes: 999_999_999 })).toEqual({
      format: "custom",
      reason: "database 999999999 bytes, below the parallel threshold of 1000000000",
    });
  });

  it("zstd in a directory dump needs pg_dump 16: auto falls back, an explicit request fails", () => {
    expect(chooseFormat({ ...base, compression: "zstd", pgDumpMajor: 15 })).toEqual({
      format: "custom",
      reason: "pg_dump 15 has no zstd for -Fd",
    });
    expect(chooseFormat({ ...base, compression: "zstd", pgDumpMajor: 16 }).format).toBe(
      "directory",
    );
    expect(() =>
      chooseFormat({ ...base, requested: "directory", compression: "zstd", pgDumpMajor: 15 }),
    ).toThrow(
      "pg_dump 15 cannot compress a directory-format dump with zstd (pg_dump 16+ can); pass --compress none or gzip, or use a PostgreSQL 16+ client (PG_BIN)",
    );
  });

  it("an explicit format wins over size and jobs", () => {
    expect(chooseFormat({ ...base, requested: "custom" }).format).toBe("custom");
    expect(
      chooseFormat({ ...base, requested: "directory", jobs: 1, databaseBytes: 0 }).format,
    ).toBe("directory");
  });

  it("parses DRCTL_PARALLEL_MIN_SIZE in SI and binary units", () => {
    expect(parseSize("500MB", "x")).toBe(500e6);
    expect(parseSize("2GiB", "x")).toBe(2 * 2 ** 30);
    expect(parseSize("0", "x")).toBe(0);
    expect(parseSize("1.5gb", "x")).toBe(1.5e9);
    expect(() => parseSize("lots", "DRCTL_PARALLEL_MIN_SIZE")).toThrow(
      'DRCTL_PARALLEL_MIN_SIZE must be a size like 500MB, 1GB or 2GiB, got "lots"',
    );
  });
});

describe("a directory dump's manifest", () => {
  const hex = (s: string): string => createHash("sha256").update(s).digest("hex");
  const files = [
    { name: "toc.dat", size: 10, sha256: hex("toc") },
    { name: "3350.dat.gz", size: 90, sha256: hex("data") },
  ];
  const manifest = {
    formatVersion: 1,
    id: "20261202T020000Z-abcdef",
    tier: "daily",
    startedAt: "2026-12-02T02:00:00.000Z",
    finishedAt: "2026-12-02T02:10:00.000Z",
    source: { host: "db", port: 5432, database: "app", user: "backup" },
    serverVersion: "16.4",
    serverVersionNum: 160004,
    pgDumpVersion: "17.2",
    drctlVersion: "0.1.0",
    format: "directory",
    compression: "gzip",
    envelope: "none",
    dump: { key: "dump", size: 100, sha256: listingDigest(files) },
    files,
    tables: [],
    snapshot: "00000003-00000002-1",
  };

  it("parses when the listing adds up", () => {
    expect(Manifest.safeParse(manifest).success).toBe(true);
  });

  it.each([
    [
      "a digest that is not the listing's",
      { dump: { ...manifest.dump, sha256: hex("other") } },
      "dump.sha256 is not the SHA-256 of the files' listing",
    ],
    [
      "a size that is not the sum",
      { dump: { ...manifest.dump, size: 99 } },
      "dump.size is not the sum of the files' sizes",
    ],
    ["no toc.dat", { files: files.slice(1) }, "a directory dump needs its toc.dat"],
    [
      "a path instead of a name",
      { files: [files[0], { ...files[1], name: "../../etc/passwd" }] },
      "expected a file name pg_dump -Fd writes",
    ],
    ["files on a custom dump", { format: "custom" }, "a custom-format dump has no files"],
  ])("rejects %s", (_what, change, message) => {
    const r = Manifest.safeParse({ ...manifest, ...change });
    expect(r.success).toBe(false);
    expect(r.error?.issues.map((i) => i.message)).toContain(message);
  });
});
