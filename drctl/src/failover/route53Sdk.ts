import {
  ChangeResourceRecordSetsCommand,
  ListResourceRecordSetsCommand,
  Route53Client,
  type ResourceRecordSet,
  type RRType,
} from "@aws-sdk/client-route-53";
import type {
  ChangeRecordSetsInput,
  ListRecordSetsInput,
  ListRecordSetsOutput,
  Route53Api,
  Route53RecordSet,
} from "./route53Dns";

/** Route 53 calls give up after this long: a hung control plane must fail the step, not hang it. */
const CALL_TIMEOUT_MS = 30_000;

/**
 * Route 53 is global; its control plane (record changes) is signed for one region per partition.
 * https://docs.aws.amazon.com/general/latest/gr/r53.html
 */
export function route53SigningRegion(partition: string): string {
  switch (partition) {
    case "aws-cn":
      return "cn-northwest-1";
    case "aws-us-gov":
      return "us-gov-west-1";
    default:
      return "us-east-1";
  }
}

/** Route53Api over `@aws-sdk/client-route-53`; the SDK signs, retries throttling and parses. */
export class SdkRoute53Api implements Route53Api {
  private readonly client: Route53Client;

  constructor(partition: string) {
    this.client = new Route53Client({ region: route53SigningRegion(partition) });
  }

  async listResourceRecordSets(input: ListRecordSetsInput): Promise<ListRecordSetsOutput> {
    const out = await this.client.send(
      new ListResourceRecordSetsCommand({
        ...input,
        // Types come from dr-stack:dns.recordType (A | CNAME) or from Route 53's own NextRecordType.
        StartRecordType: input.StartRecordType as RRType,
      }),
      { abortSignal: AbortSignal.timeout(CALL_TIMEOUT_MS) },
    );
    return {
      // Kept whole: a DELETE must send every field back as listed.
      ResourceRecordSets: (out.ResourceRecordSets ?? []).map((rs): Route53RecordSet => ({ ...rs })),
      IsTruncated: out.IsTruncated,
      NextRecordName: out.NextRecordName,
      NextRecordType: out.NextRecordType,
      NextRecordIdentifier: out.NextRecordIdentifier,
    };
  }

  async changeResourceRecordSets(input: ChangeRecordSetsInput): Promise<unknown> {
    return this.client.send(
      new ChangeResourceRecordSetsCommand({
        HostedZoneId: input.HostedZoneId,
        ChangeBatch: {
          Comment: input.ChangeBatch.Comment,
          Changes: input.ChangeBatch.Changes.map((c) => ({
            Action: c.Action,
            // Route53DnsOps only deletes record sets this API listed, unchanged.
            ResourceRecordSet: c.ResourceRecordSet as unknown as ResourceRecordSet,
          })),
        },
      }),
      { abortSignal: AbortSignal.timeout(CALL_TIMEOUT_MS) },
    );
  }
}
