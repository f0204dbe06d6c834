import type {
  ChangeRecordSetsInput,
  ListRecordSetsInput,
  ListRecordSetsOutput,
  Route53Api,
} from "./route53Dns";

/**
 * Route53Api over `@aws-sdk/client-route-53`.
 *
 * The package is not a dependency yet (`npm install @aws-sdk/client-route-53` adds it). It is
 * loaded on first use, not imported, so that drctl and its type check work without it: only the
 * DNS release step of a failover whose fencing was skipped needs it, and without it that step
 * fails saying what to install (the run resumes there once it is). With the package installed
 * nothing here has to change; the module is typed by the few members used below.
 */
export const ROUTE53_SDK_PACKAGE = "@aws-sdk/client-route-53";

/** Route 53 calls give up after this long: a hung control plane must fail the step, not hang it. */
const CALL_TIMEOUT_MS = 30_000;

interface Route53Client {
  send(command: object, options?: { abortSignal?: AbortSignal }): Promise<unknown>;
}

/** The members of `@aws-sdk/client-route-53` this adapter uses. */
export interface Route53SdkModule {
  readonly Route53Client: new (config: { region: string }) => Route53Client;
  readonly ListResourceRecordSetsCommand: new (input: ListRecordSetsInput) => object;
  readonly ChangeResourceRecordSetsCommand: new (input: ChangeRecordSetsInput) => object;
}

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

const loadSdk = async (): Promise<Route53SdkModule> =>
  // A variable specifier keeps the compiler from resolving the (optional) package.
  (await import(ROUTE53_SDK_PACKAGE)) as Route53SdkModule;

export class SdkRoute53Api implements Route53Api {
  private client: Promise<{ sdk: Route53SdkModule; client: Route53Client }> | undefined;

  constructor(
    private readonly partition: string,
    private readonly load: () => Promise<Route53SdkModule> = loadSdk,
  ) {}

  private connect(): Promise<{ sdk: Route53SdkModule; client: Route53Client }> {
    this.client ??= this.load().then(
      (sdk) => ({
        sdk,
        client: new sdk.Route53Client({ region: route53SigningRegion(this.partition) }),
      }),
      (err: unknown) => {
        this.client = undefined;
        throw new Error(
          `cannot load ${ROUTE53_SDK_PACKAGE} (${err instanceof Error ? err.message : String(err)}); ` +
            `drctl needs it to delete a DNS record in Route 53: npm install ${ROUTE53_SDK_PACKAGE}`,
        );
      },
    );
    return this.client;
  }

  async listResourceRecordSets(input: ListRecordSetsInput): Promise<ListRecordSetsOutput> {
    const { sdk, client } = await this.connect();
    return (await client.send(new sdk.ListResourceRecordSetsCommand(input), {
      abortSignal: AbortSignal.timeout(CALL_TIMEOUT_MS),
    })) as ListRecordSetsOutput;
  }

  async changeResourceRecordSets(input: ChangeRecordSetsInput): Promise<unknown> {
    const { sdk, client } = await this.connect();
    return client.send(new sdk.ChangeResourceRecordSetsCommand(input), {
      abortSignal: AbortSignal.timeout(CALL_TIMEOUT_MS),
    });
  }
}
