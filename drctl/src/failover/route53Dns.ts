import type { DnsOps, FailoverRecordRef } from "./ports";

/**
 * The part of Route 53's API that releasing a failover record needs, in the shapes of
 * `@aws-sdk/client-route-53` (ListResourceRecordSets, ChangeResourceRecordSets). Route53DnsOps is
 * written against this, not the SDK: route53Sdk.ts adapts the SDK to it, tests use a fake.
 */
export interface Route53RecordSet {
  readonly Name?: string;
  readonly Type?: string;
  readonly SetIdentifier?: string;
  readonly Failover?: string;
  /** Every other field (TTL, ResourceRecords, AliasTarget, HealthCheckId) passes through untouched. */
  readonly [field: string]: unknown;
}

export interface ListRecordSetsInput {
  readonly HostedZoneId: string;
  readonly StartRecordName: string;
  readonly StartRecordType: string;
  readonly StartRecordIdentifier?: string;
}

export interface ListRecordSetsOutput {
  readonly ResourceRecordSets?: readonly Route53RecordSet[];
  readonly IsTruncated?: boolean;
  readonly NextRecordName?: string;
  readonly NextRecordType?: string;
  readonly NextRecordIdentifier?: string;
}

export interface ChangeRecordSetsInput {
  readonly HostedZoneId: string;
  readonly ChangeBatch: {
    readonly Comment?: string;
    readonly Changes: readonly {
      readonly Action: "DELETE";
      readonly ResourceRecordSet: Route53RecordSet;
    }[];
  };
}

export interface Route53Api {
  listResourceRecordSets(input: ListRecordSetsInput): Promise<ListRecordSetsOutput>;
  changeResourceRecordSets(input: ChangeRecordSetsInput): Promise<unknown>;
}

/** Route 53 lists names lower-case with a trailing dot; config names have none. */
const normalize = (name: string): string => name.trim().toLowerCase().replace(/\.$/, "");

/** Attempts at list-then-delete: a DELETE whose values went stale in between is listed again. */
const DELETE_ATTEMPTS = 3;

/** InvalidChangeBatch: the record set changed or vanished between the list and the DELETE. */
const isInvalidChangeBatch = (err: unknown): boolean =>
  (err as { name?: unknown } | undefined)?.name === "InvalidChangeBatch";

/**
 * DnsOps over Route 53. A DELETE must carry the record set exactly as Route 53 holds it (TTL,
 * values, health check), so the record is listed first and sent back unchanged: nothing is rebuilt
 * from config, which may differ from what the failed site last deployed.
 */
export class Route53DnsOps implements DnsOps {
  constructor(private readonly api: Route53Api) {}

  async deleteFailoverRecord(ref: FailoverRecordRef): Promise<"deleted" | "absent"> {
    for (let attempt = 1; ; attempt++) {
      const record = await this.findPrimary(ref);
      if (!record) return "absent";
      try {
        await this.api.changeResourceRecordSets({
          HostedZoneId: ref.zoneId,
          ChangeBatch: {
            Comment:
              `drctl failover: release ${ref.setIdentifier}'s PRIMARY slot; its site was not fenced ` +
              `(region unreachable)`,
            Changes: [{ Action: "DELETE", ResourceRecordSet: record }],
          },
        });
        return "deleted";
      } catch (err) {
        // Someone else changed or deleted it since the list: look again (gone counts as done).
        if (!isInvalidChangeBatch(err) || attempt >= DELETE_ATTEMPTS) throw err;
      }
    }
  }

  /**
   * The PRIMARY record of `ref.setIdentifier`, if there is one. The listing starts at the name and
   * type and is in that order, so it ends at the first record of another name or type. A record of
   * that identifier that is not PRIMARY blocks nothing and is left alone.
   */
  private async findPrimary(ref: FailoverRecordRef): Promise<Route53RecordSet | undefined> {
    const name = normalize(ref.recordName);
    let input: ListRecordSetsInput = {
      HostedZoneId: ref.zoneId,
      StartRecordName: ref.recordName,
      StartRecordType: ref.recordType,
    };
    for (;;) {
      const page = await this.api.listResourceRecordSets(input);
      for (const rs of page.ResourceRecordSets ?? []) {
        if (normalize(rs.Name ?? "") !== name || rs.Type !== ref.recordType) return undefined;
        if (rs.SetIdentifier === ref.setIdentifier && rs.Failover === "PRIMARY") return rs;
      }
      if (!page.IsTruncated || !page.NextRecordName || !page.NextRecordType) return undefined;
      input = {
        HostedZoneId: ref.zoneId,
        StartRecordName: page.NextRecordName,
        StartRecordType: page.NextRecordType,
        ...(page.NextRecordIdentifier ? { StartRecordIdentifier: page.NextRecordIdentifier } : {}),
      };
    }
  }
}
