import {
  ChangeResourceRecordSetsCommand,
  InvalidChangeBatch,
  ListResourceRecordSetsCommand,
  ResourceRecordSetFailover,
  Route53Client,
  RRType,
} from "@aws-sdk/client-route-53";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import type { FailoverRecordRef } from "../../drctl/src/failover/ports";
import {
  Route53DnsOps,
  type ChangeRecordSetsInput,
  type ListRecordSetsInput,
  type ListRecordSetsOutput,
  type Route53Api,
  type Route53RecordSet,
} from "../../drctl/src/failover/route53Dns";
import { route53SigningRegion, SdkRoute53Api } from "../../drctl/src/failover/route53Sdk";

const REF: FailoverRecordRef = {
  zoneId: "Z0123456789ABCDEFGHIJ",
  recordName: "app.acme-dr.example.com",
  recordType: "A",
  setIdentifier: "acme-dr-use1",
};

/** As Route 53 lists them: lower-case names with a trailing dot, every field of the record. */
const record = (
  setIdentifier: string,
  failover: string,
  extra: Partial<Route53RecordSet> = {},
): Route53RecordSet => ({
  Name: "app.acme-dr.example.com.",
  Type: "A",
  SetIdentifier: setIdentifier,
  Failover: failover,
  TTL: 60,
  ResourceRecords: [{ Value: "198.51.100.10" }, { Value: "198.51.100.11" }],
  HealthCheckId: `hc-${setIdentifier}`,
  ...extra,
});

/** Route 53 over a list of record sets in listing order, paging `pageSize` at a time. */
class FakeRoute53 implements Route53Api {
  readonly lists: ListRecordSetsInput[] = [];
  readonly changes: ChangeRecordSetsInput[] = [];
  /** Errors thrown by the next change calls, in turn; `onChange` runs before each. */
  changeErrors: Error[] = [];
  onChange: (() => void) | undefined;

  constructor(
    public sets: Route53RecordSet[],
    private readonly pageSize = 100,
  ) {}

  private key(rs: { Name?: string; Type?: string; SetIdentifier?: string }): string {
    return `${rs.Name}|${rs.Type}|${rs.SetIdentifier ?? ""}`;
  }

  listResourceRecordSets(input: ListRecordSetsInput): Promise<ListRecordSetsOutput> {
    this.lists.push(input);
    // Route 53 compares names case-insensitively and lists them lower-case.
    const name = input.StartRecordName.toLowerCase().replace(/\.?$/, ".");
    let start = this.sets.findIndex(
      (rs) =>
        rs.Name === name &&
        rs.Type === input.StartRecordType &&
        (input.StartRecordIdentifier === undefined ||
          rs.SetIdentifier === input.StartRecordIdentifier),
    );
    if (start === -1) start = this.sets.length;
    const page = this.sets.slice(start, start + this.pageSize);
    const next = this.sets[start + this.pageSize];
    return Promise.resolve({
      ResourceRecordSets: page,
      IsTruncated: next !== undefined,
      ...(next
        ? {
            NextRecordName: next.Name,
            NextRecordType: next.Type,
            NextRecordIdentifier: next.SetIdentifier,
          }
        : {}),
    });
  }

  changeResourceRecordSets(input: ChangeRecordSetsInput): Promise<unknown> {
    this.changes.push(input);
    this.onChange?.();
    const err = this.changeErrors.shift();
    if (err) return Promise.reject(err);
    for (const c of input.ChangeBatch.Changes) {
      const i = this.sets.findIndex((rs) => this.key(rs) === this.key(c.ResourceRecordSet));
      // DELETE needs the current values exactly.
      if (i === -1 || JSON.stringify(this.sets[i]) !== JSON.stringify(c.ResourceRecordSet)) {
        return Promise.reject(invalidChangeBatch("values do not match"));
      }
      this.sets.splice(i, 1);
    }
    return Promise.resolve({ ChangeInfo: { Id: "/change/C1", Status: "PENDING" } });
  }
}

const invalidChangeBatch = (message: string): Error =>
  Object.assign(new Error(`[Tried to delete resource record set ... but ${message}]`), {
    name: "InvalidChangeBatch",
  });

describe("Route53DnsOps.deleteFailoverRecord", () => {
  it("lists from the name and type and deletes use1's PRIMARY record exactly as listed", async () => {
    const use1 = record("acme-dr-use1", "PRIMARY");
    const usw2 = record("acme-dr-usw2", "SECONDARY", {
      ResourceRecords: [{ Value: "192.0.2.10" }],
    });
    const api = new FakeRoute53([usw2, use1]);

    expect(await new Route53DnsOps(api).deleteFailoverRecord(REF)).toBe("deleted");
    expect(api.lists).toEqual([
      {
        HostedZoneId: "Z0123456789ABCDEFGHIJ",
        StartRecordName: "app.acme-dr.example.com",
        StartRecordType: "A",
      },
    ]);
    expect(api.changes).toHaveLength(1);
    expect(api.changes[0].HostedZoneId).toBe("Z0123456789ABCDEFGHIJ");
    expect(api.changes[0].ChangeBatch.Changes).toEqual([
      { Action: "DELETE", ResourceRecordSet: use1 },
    ]);
    expect(api.sets).toEqual([usw2]);
  });

  it("deletes an alias record as listed too (AliasTarget, no TTL)", async () => {
    const alias = record("acme-dr-use1", "PRIMARY", {
      TTL: undefined,
      ResourceRecords: undefined,
      AliasTarget: {
        HostedZoneId: "Z35SXDOTRQ7X7K",
        DNSName: "k8s-app.us-east-1.elb.amazonaws.com.",
        EvaluateTargetHealth: true,
      },
    });
    const api = new FakeRoute53([alias]);
    expect(await new Route53DnsOps(api).deleteFailoverRecord(REF)).toBe("deleted");
    expect(api.changes[0].ChangeBatch.Changes[0].ResourceRecordSet).toBe(alias);
  });

  it('is "absent", changing nothing, when use1 has no record', async () => {
    const api = new FakeRoute53([record("acme-dr-usw2", "SECONDARY")]);
    expect(await new Route53DnsOps(api).deleteFailoverRecord(REF)).toBe("absent");
    expect(api.changes).toEqual([]);
  });

  it("never touches another name, another type or another site's record", async () => {
    const sets = [
      record("acme-dr-use1", "PRIMARY", { Name: "api.acme-dr.example.com." }),
      record("acme-dr-usw2", "PRIMARY"),
      record("acme-dr-use1", "PRIMARY", { Type: "AAAA" }),
    ];
    const api = new FakeRoute53(sets);
    expect(await new Route53DnsOps(api).deleteFailoverRecord(REF)).toBe("absent");
    expect(api.changes).toEqual([]);
  });

  it("leaves a record of use1 that is not PRIMARY alone: it blocks nothing", async () => {
    const api = new FakeRoute53([record("acme-dr-use1", "SECONDARY")]);
    expect(await new Route53DnsOps(api).deleteFailoverRecord(REF)).toBe("absent");
    expect(api.changes).toEqual([]);
  });

  it("matches names case-insensitively, with or without the trailing dot", async () => {
    const api = new FakeRoute53([record("acme-dr-use1", "PRIMARY")]);
    const ref = { ...REF, recordName: "App.Acme-DR.example.com." };
    expect(await new Route53DnsOps(api).deleteFailoverRecord(ref)).toBe("deleted");
  });

  it("follows truncated pages of the same name and type", async () => {
    const sets = [
      record("acme-dr-aaa", "SECONDARY"),
      record("acme-dr-bbb", "SECONDARY"),
      record("acme-dr-use1", "PRIMARY"),
    ];
    const api = new FakeRoute53(sets, 1);
    expect(await new Route53DnsOps(api).deleteFailoverRecord(REF)).toBe("deleted");
    expect(api.lists.map((l) => l.StartRecordIdentifier)).toEqual([
      undefined,
      "acme-dr-bbb",
      "acme-dr-use1",
    ]);
  });

  it('lists again when the record changed before the DELETE, and is "absent" if it is gone', async () => {
    const api = new FakeRoute53([record("acme-dr-use1", "PRIMARY")]);
    // An operator deletes it by hand between drctl's list and its DELETE.
    api.onChange = () => {
      api.sets = [];
      api.onChange = undefined;
    };
    expect(await new Route53DnsOps(api).deleteFailoverRecord(REF)).toBe("absent");
    expect(api.lists).toHaveLength(2);
    expect(api.changes).toHaveLength(1);
  });

  it("deletes the changed values when the record was updated before the DELETE", async () => {
    const api = new FakeRoute53([record("acme-dr-use1", "PRIMARY")]);
    api.onChange = () => {
      api.sets = [record("acme-dr-use1", "PRIMARY", { TTL: 30 })];
      api.onChange = undefined;
    };
    expect(await new Route53DnsOps(api).deleteFailoverRecord(REF)).toBe("deleted");
    expect(api.changes.map((c) => c.ChangeBatch.Changes[0].ResourceRecordSet.TTL)).toEqual([
      60, 30,
    ]);
    expect(api.sets).toEqual([]);
  });

  it("throws any other error, and gives up on InvalidChangeBatch after three attempts", async () => {
    const api = new FakeRoute53([record("acme-dr-use1", "PRIMARY")]);
    api.changeErrors = [Object.assign(new Error("Rate exceeded"), { name: "Throttling" })];
    await expect(new Route53DnsOps(api).deleteFailoverRecord(REF)).rejects.toThrow("Rate exceeded");

    api.changeErrors = [1, 2, 3].map(() => invalidChangeBatch("conflict"));
    await expect(new Route53DnsOps(api).deleteFailoverRecord(REF)).rejects.toThrow("conflict");
    expect(api.changes).toHaveLength(4);
  });
});

describe("SdkRoute53Api", () => {
  // The SDK's own command stream (aws-sdk-client-mock, which stubs every Route53Client): what
  // drctl sends Route 53, not a fake of it.
  const r53 = mockClient(Route53Client);
  beforeEach(() => r53.reset());

  it("lists and deletes through the SDK, sending the listed record set back whole", async () => {
    const use1 = {
      Name: "app.acme-dr.example.com.",
      Type: RRType.A,
      SetIdentifier: "acme-dr-use1",
      Failover: ResourceRecordSetFailover.PRIMARY,
      TTL: 60,
      ResourceRecords: [{ Value: "198.51.100.10" }],
      HealthCheckId: "hc-use1",
    };
    r53.on(ListResourceRecordSetsCommand).resolves({
      ResourceRecordSets: [use1],
      IsTruncated: false,
      MaxItems: 100,
    });
    r53.on(ChangeResourceRecordSetsCommand).resolves({
      ChangeInfo: { Id: "/change/C1", Status: "PENDING", SubmittedAt: new Date() },
    });

    const api = new SdkRoute53Api("aws");
    expect(await new Route53DnsOps(api).deleteFailoverRecord(REF)).toBe("deleted");
    expect(r53.commandCalls(ListResourceRecordSetsCommand).map((c) => c.args[0].input)).toEqual([
      {
        HostedZoneId: "Z0123456789ABCDEFGHIJ",
        StartRecordName: "app.acme-dr.example.com",
        StartRecordType: "A",
      },
    ]);
    const [change] = r53.commandCalls(ChangeResourceRecordSetsCommand);
    expect(change.args[0].input.HostedZoneId).toBe("Z0123456789ABCDEFGHIJ");
    expect(change.args[0].input.ChangeBatch?.Changes).toEqual([
      { Action: "DELETE", ResourceRecordSet: use1 },
    ]);
  });

  it("surfaces Route 53's InvalidChangeBatch by name, so Route53DnsOps lists again", async () => {
    r53
      .on(ListResourceRecordSetsCommand)
      .resolvesOnce({
        ResourceRecordSets: [record("acme-dr-use1", "PRIMARY") as never],
        IsTruncated: false,
        MaxItems: 100,
      })
      .resolves({ ResourceRecordSets: [], IsTruncated: false, MaxItems: 100 });
    r53
      .on(ChangeResourceRecordSetsCommand)
      .rejects(new InvalidChangeBatch({ message: "it was not found", $metadata: {} }));
    const api = new SdkRoute53Api("aws");
    expect(await new Route53DnsOps(api).deleteFailoverRecord(REF)).toBe("absent");
    expect(r53.commandCalls(ListResourceRecordSetsCommand)).toHaveLength(2);
  });

  it("signs for the partition's Route 53 region", async () => {
    expect(["aws", "aws-us-gov", "aws-cn"].map(route53SigningRegion)).toEqual([
      "us-east-1",
      "us-gov-west-1",
      "cn-northwest-1",
    ]);
    const client = (new SdkRoute53Api("aws") as unknown as { client: Route53Client }).client;
    expect(await client.config.region()).toBe("us-east-1");
  });
});
