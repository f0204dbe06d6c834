import { describe, expect, it } from "vitest";
import * as naming from "../components/naming";

const names = { name: "acme-dr", accountId: "111122223333" };
const use1 = { site: "use1", region: "us-east-1" };
const usw2 = { site: "usw2", region: "us-west-2" };

describe("naming", () => {
  it("derives the peer's database identifier and ARN", () => {
    expect(naming.dbInstanceIdentifier(names, use1)).toBe("acme-dr-use1-pg");
    expect(naming.dbInstanceArn(names, use1)).toBe(
      "arn:aws:rds:us-east-1:111122223333:db:acme-dr-use1-pg",
    );
  });

  it("derives globally unique bucket names and their ARNs", () => {
    expect(naming.backupBucketName(names, usw2)).toBe("acme-dr-usw2-backups-111122223333");
    expect(naming.backupBucketArn(names, usw2)).toBe(
      "arn:aws:s3:::acme-dr-usw2-backups-111122223333",
    );
  });

  it("derives KMS alias names, alias ARNs and the key pattern IAM matches", () => {
    expect(naming.kmsAliasName(names, usw2)).toBe("alias/acme-dr-usw2");
    expect(naming.kmsAliasArn(names, usw2)).toBe(
      "arn:aws:kms:us-west-2:111122223333:alias/acme-dr-usw2",
    );
    expect(naming.kmsKeyArnPattern(names, usw2)).toBe("arn:aws:kms:us-west-2:111122223333:key/*");
  });

  it("derives backup vault names and ARNs", () => {
    expect(naming.backupVaultArn(names, usw2)).toBe(
      "arn:aws:backup:us-west-2:111122223333:backup-vault:acme-dr-usw2-vault",
    );
  });

  it("honours another partition", () => {
    expect(
      naming.dbInstanceArn(
        { ...names, partition: "aws-us-gov" },
        { site: "gw1", region: "us-gov-west-1" },
      ),
    ).toBe("arn:aws-us-gov:rds:us-gov-west-1:111122223333:db:acme-dr-gw1-pg");
  });

  it("gives both stacks the same peer names: the longest allowed names still fit S3's 63 characters", () => {
    const longest = { name: "a".repeat(20), accountId: "111122223333" };
    expect(
      naming.backupBucketName(longest, { site: "b".repeat(10), region: "us-east-1" }).length,
    ).toBeLessThanOrEqual(63);
  });

  it("names the master secret both stacks and drctl agree on", () => {
    expect(naming.dbMasterSecretName(names, usw2)).toBe("acme-dr-usw2/db/master");
  });
});
