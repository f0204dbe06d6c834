import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  awsRegionOf,
  readStateLocations,
  stateLocationProblems,
} from "../../drctl/src/failover/stateLocation";
import { harness, type Harness } from "./fakes";

let h: Harness;
afterEach(() => h?.restore());

describe("where the Pulumi state and secrets live", () => {
  // https://www.pulumi.com/docs/iac/concepts/state-and-backends/#aws-s3 and
  // https://www.pulumi.com/docs/iac/concepts/secrets/#aws-key-management-service-kms
  it("reads the region an s3:// backend or an awskms:// provider pins", () => {
    expect(awsRegionOf("s3://acme-state?region=eu-west-1")).toBe("eu-west-1");
    expect(awsRegionOf("s3://acme-state")).toBe("unknown");
    expect(awsRegionOf("awskms://alias/pulumi?region=us-east-1")).toBe("us-east-1");
    expect(
      awsRegionOf(
        "awskms:///arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
      ),
    ).toBe("us-west-2");
    expect(awsRegionOf("https://api.pulumi.com")).toBeUndefined();
    expect(awsRegionOf("passphrase")).toBeUndefined();
  });

  it("names each location in a region of the pair, or pinned to none", () => {
    expect(
      stateLocationProblems(
        {
          backend: { url: "s3://acme-state?region=us-east-1", from: "Pulumi.yaml backend.url" },
          secretsProviders: {
            primary: "awskms://alias/p",
            dr: "awskms://alias/p?region=eu-west-1",
          },
        },
        ["us-east-1", "us-west-2"],
      ),
    ).toEqual([
      "the Pulumi state backend (Pulumi.yaml backend.url) s3://acme-state?region=us-east-1 is in us-east-1, " +
        "a region of this pair: if us-east-1 is lost, so is the reconcile after the failover; move it to a " +
        "region outside us-east-1 and us-west-2 (docs/failover.md)",
      "the secrets provider of stack primary awskms://alias/p names no region, so it follows AWS_REGION and " +
        "may be in us-east-1 or us-west-2; pin it to a third region (?region=<region>, or a key ARN) outside both sites",
    ]);
  });

  it("finds the backend in PULUMI_BACKEND_URL first, and each stack's secretsprovider in its file", () => {
    const dir = mkdtempSync(join(tmpdir(), "drctl-state-"));
    writeFileSync(join(dir, "Pulumi.yaml"), "name: dr-stack\nbackend:\n  url: s3://from-project\n");
    writeFileSync(
      join(dir, "Pulumi.dr.yaml"),
      "secretsprovider: awskms://alias/k?region=eu-west-1\n",
    );
    expect(
      readStateLocations(dir, { PULUMI_BACKEND_URL: "s3://from-env?region=eu-west-1", HOME: dir }, [
        "primary",
        "dr",
      ]),
    ).toEqual({
      backend: { url: "s3://from-env?region=eu-west-1", from: "PULUMI_BACKEND_URL" },
      secretsProviders: { primary: undefined, dr: "awskms://alias/k?region=eu-west-1" },
    });
    expect(readStateLocations(dir, { HOME: dir }, ["dr"]).backend).toEqual({
      url: "s3://from-project",
      from: "Pulumi.yaml backend.url",
    });
  });
});

describe("preflight of drctl failover", () => {
  it("refuses to start the plan when the master secrets would not let anyone log in, and says why", async () => {
    h = harness();
    h.sites.secrets.usw2 = { ...h.sites.secrets.usw2, host: undefined, port: 5433 };
    h.sites.secrets.use1 = { ...h.sites.secrets.use1, username: "postgres" };

    const r = await h.run("failover", "--to", "usw2");

    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      "the master secrets would not let the applications log in after the switch:\n" +
        "  - usw2's master secret (read in us-west-2) has no \"host\"; it must hold AWS's RDS secret JSON fields\n" +
        "  - the master secrets disagree on port: usw2 5433, use1 5432\n" +
        "  - the master secrets disagree on username: usw2 dradmin, use1 postgres (a replica's logins are its source's)\n",
    );
    expect(h.regionSwitch.calls).toEqual([]);
  });

  it("refuses a host that is not the site's own RDS endpoint", async () => {
    h = harness();
    h.sites.secrets.usw2 = {
      ...h.sites.secrets.usw2,
      host: "acme-dr-use1-pg.c1a2b3c4d5e6.us-east-1.rds.amazonaws.com",
    };
    const r = await h.run("failover", "--to", "usw2");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      "usw2's master secret (read in us-west-2) has host acme-dr-use1-pg.c1a2b3c4d5e6.us-east-1.rds.amazonaws.com, " +
        "not usw2's own endpoint (acme-dr-usw2-pg.….us-west-2.rds.amazonaws.com)",
    );
  });

  it("refuses with exit 2 when the RPO bound is over --max-data-loss, before any Region switch call", async () => {
    h = harness();
    const r = await h.run("failover", "--to", "usw2", "--max-data-loss", "2s");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      "RPO bound of usw2 is 4s (last replayed commit 2025-03-01T11:59:56.000Z), over --max-data-loss 2s",
    );
    expect(h.regionSwitch.calls).toEqual([]);
  });
});
