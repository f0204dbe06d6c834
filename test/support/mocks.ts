import type * as pulumi from "@pulumi/pulumi";

/**
 * Realistic computed fields for the resource types the program registers, so that wiring
 * (an ARN into a policy, an OIDC issuer into a provider) can be asserted with real shapes.
 */

export const MOCK_ACCOUNT = "111122223333";

type State = Record<string, unknown>;

function hex(seed: string, length: number): string {
  let h = 2166136261;
  let out = "";
  while (out.length < length) {
    for (const ch of seed + out.length) h = Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0;
    out += h.toString(16).padStart(8, "0");
  }
  return out.slice(0, length).toUpperCase();
}

/** The key id the mocked KMS gives the key with logical name `name` (a UUID, as KMS does). */
export function mockKeyId(name: string): string {
  return `${hex(name, 8)}-${hex(name + "k", 4)}-4${hex(name + "a", 3)}-8${hex(name + "b", 3)}-${hex(name + "c", 12)}`.toLowerCase();
}

/** The key ARN KMS resolves an alias ARN to (mocked key ids), or the value unchanged. */
export function aliasToKeyArn(value: string | undefined): string | undefined {
  const m = /^arn:([^:]+):kms:([^:]+):(\d{12}):alias\/(.+)$/.exec(value ?? "");
  if (!m) return value;
  return `arn:${m[1]}:kms:${m[2]}:${m[3]}:key/${mockKeyId(`${m[4]}-key`)}`;
}

/** Computed outputs per type token; everything else gets id and a generic ARN. */
export function computedState(
  type: string,
  name: string,
  inputs: State,
  defaultRegion: string,
): { id: string; state: State } {
  const region = (inputs.region as string | undefined) ?? defaultRegion;
  const [pkg, mod] = type.split(":");
  const service = (mod ?? "").split("/")[0];
  const id = `${name}-id`;
  const state: State = { ...inputs };
  if (pkg === "aws") state.arn = `arn:aws:${service}:${region}:${MOCK_ACCOUNT}:${name}`;
  switch (type) {
    case "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication": {
      // RDS stores the key's ARN whatever names it (an alias ARN included), and the provider
      // reads that back into the ForceNew kmsKeyId (terraform-aws-modules/terraform-aws-rds#454).
      const kmsKeyId = aliasToKeyArn(inputs.kmsKeyId as string | undefined);
      return { id, state: { ...state, kmsKeyId } };
    }
    case "aws:kms/key:Key": {
      const keyId = mockKeyId(name);
      return {
        id: keyId,
        state: { ...state, keyId, arn: `arn:aws:kms:${region}:${MOCK_ACCOUNT}:key/${keyId}` },
      };
    }
    case "aws:s3/bucket:Bucket": {
      const bucket =
        (inputs.bucket as string | undefined) ?? `${name}-${hex(name, 7).toLowerCase()}`;
      return { id: bucket, state: { ...state, bucket, arn: `arn:aws:s3:::${bucket}` } };
    }
    case "aws:iam/role:Role": {
      const roleName =
        (inputs.name as string | undefined) ?? `${name}-${hex(name, 7).toLowerCase()}`;
      return {
        id: roleName,
        state: { ...state, name: roleName, arn: `arn:aws:iam::${MOCK_ACCOUNT}:role/${roleName}` },
      };
    }
    case "aws:iam/policy:Policy":
      return { id, state: { ...state, arn: `arn:aws:iam::${MOCK_ACCOUNT}:policy/${name}` } };
    case "aws:eks/cluster:Cluster": {
      const clusterName = (inputs.name as string | undefined) ?? name;
      const oidc = `https://oidc.eks.${region}.amazonaws.com/id/${hex(clusterName, 32)}`;
      return {
        id: clusterName,
        state: {
          ...state,
          name: clusterName,
          arn: `arn:aws:eks:${region}:${MOCK_ACCOUNT}:cluster/${clusterName}`,
          endpoint: `https://${hex(clusterName, 32)}.gr7.${region}.eks.amazonaws.com`,
          certificateAuthority: { data: Buffer.from(`ca-of-${clusterName}`).toString("base64") },
          identities: [{ oidcs: [{ issuer: oidc }] }],
          vpcConfig: {
            ...(inputs.vpcConfig as State),
            clusterSecurityGroupId: `sg-${hex(name, 17).toLowerCase()}`,
          },
        },
      };
    }
    case "aws:iam/openIdConnectProvider:OpenIdConnectProvider": {
      const host = (typeof inputs.url === "string" ? inputs.url : "").replace(/^https:\/\//, "");
      return { id, state: { ...state, arn: `arn:aws:iam::${MOCK_ACCOUNT}:oidc-provider/${host}` } };
    }
    case "aws:rds/instance:Instance": {
      // RDS stores identifiers lowercase (CreateDBInstance, DBInstanceIdentifier).
      const ident = ((inputs.identifier as string | undefined) ?? name).toLowerCase();
      return {
        id: ident,
        state: {
          ...state,
          identifier: ident,
          arn: `arn:aws:rds:${region}:${MOCK_ACCOUNT}:db:${ident}`,
          address: `${ident}.${hex(ident, 12).toLowerCase()}.${region}.rds.amazonaws.com`,
          endpoint: `${ident}.${hex(ident, 12).toLowerCase()}.${region}.rds.amazonaws.com:5432`,
          port: 5432,
          // RDS creates the master secret only for an instance that manages its password.
          masterUserSecrets: inputs.manageMasterUserPassword
            ? [
                {
                  secretArn: `arn:aws:secretsmanager:${region}:${MOCK_ACCOUNT}:secret:rds!db-${hex(ident, 8).toLowerCase()}`,
                },
              ]
            : [],
        },
      };
    }
    case "aws:rds/parameterGroup:ParameterGroup":
    case "aws:rds/subnetGroup:SubnetGroup": {
      // Auto-named like Pulumi does: logical name plus a random suffix (lowercase for RDS).
      const groupName =
        (inputs.name as string | undefined) ?? `${name}-${hex(name, 7).toLowerCase()}`;
      return { id: groupName, state: { ...state, name: groupName } };
    }
    case "aws:ec2/vpc:Vpc":
    case "aws:ec2/subnet:Subnet":
    case "aws:ec2/securityGroup:SecurityGroup":
    case "aws:ec2/natGateway:NatGateway":
    case "aws:ec2/internetGateway:InternetGateway":
    case "aws:ec2/routeTable:RouteTable":
    case "aws:ec2/eip:Eip":
    case "aws:ec2/vpcEndpoint:VpcEndpoint": {
      const prefix = {
        vpc: "vpc",
        subnet: "subnet",
        securityGroup: "sg",
        natGateway: "nat",
        internetGateway: "igw",
        routeTable: "rtb",
        eip: "eipalloc",
        vpcEndpoint: "vpce",
      }[type.split("/")[1].split(":")[0]];
      return { id: `${prefix}-${hex(name, 17).toLowerCase()}`, state };
    }
    case "aws:sns/topic:Topic":
      return {
        id,
        state: {
          ...state,
          arn: `arn:aws:sns:${region}:${MOCK_ACCOUNT}:${(inputs.name as string) ?? name}`,
        },
      };
    case "aws:cloudwatch/logGroup:LogGroup":
      return {
        id,
        state: {
          ...state,
          arn: `arn:aws:logs:${region}:${MOCK_ACCOUNT}:log-group:${(inputs.name as string) ?? name}`,
        },
      };
    case "aws:secretsmanager/secret:Secret":
      return {
        id,
        state: {
          ...state,
          arn: `arn:aws:secretsmanager:${region}:${MOCK_ACCOUNT}:secret:${(inputs.name as string) ?? name}-AbCdEf`,
        },
      };
    case "aws:backup/vault:Vault":
      return {
        id: (inputs.name as string) ?? name,
        state: {
          ...state,
          arn: `arn:aws:backup:${region}:${MOCK_ACCOUNT}:backup-vault:${(inputs.name as string) ?? name}`,
        },
      };
    case "aws:backup/restoreTestingPlan:RestoreTestingPlan": {
      // arn:${Partition}:backup:${Region}:${Account}:restore-testing-plan:${Name}-${Id}
      // https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsbackup.html
      const planName = (inputs.name as string | undefined) ?? name;
      const planId = `${hex(planName, 8)}-${hex(planName + "p", 4)}`.toLowerCase();
      return {
        id: planName,
        state: {
          ...state,
          arn: `arn:aws:backup:${region}:${MOCK_ACCOUNT}:restore-testing-plan:${planName}-${planId}`,
        },
      };
    }
    case "aws:route53/healthCheck:HealthCheck":
      return {
        id: `${hex(name, 8).toLowerCase()}-0000-4000-8000-${hex(name, 12).toLowerCase()}`,
        state,
      };
    case "aws:arcregionswitch/plan:Plan": {
      // Plans have no region in their ARN; Region switch appends six characters to the name
      // (API_Plan's arn pattern). https://docs.aws.amazon.com/arc-region-switch/latest/api/API_Plan.html
      const arn = `arn:aws:arc-region-switch::${MOCK_ACCOUNT}:plan/${inputs.name as string}:${hex(name, 6).toLowerCase()}`;
      return { id: arn, state: { ...state, arn } };
    }
    case "aws:lambda/function:Function": {
      const fn = (inputs.name as string | undefined) ?? name;
      const arn = `arn:aws:lambda:${region}:${MOCK_ACCOUNT}:function:${fn}`;
      return { id: fn, state: { ...state, arn } };
    }
    default:
      return { id, state };
  }
}

/** Provider functions the program may call; anything else fails the run. */
export function mockCall(
  args: pulumi.runtime.MockCallArgs,
  defaultRegion: string,
): Record<string, unknown> {
  const region = (args.inputs.region as string | undefined) ?? defaultRegion;
  switch (args.token) {
    case "aws:index/getAvailabilityZones:getAvailabilityZones": {
      // Zone names map to zone IDs differently in every account: here `a` is az2 and `b` is
      // az3 (EKS's unsupported use1-az3 in us-east-1), as an account might see them.
      // https://docs.aws.amazon.com/ram/latest/userguide/working-with-az-ids.html
      const [area, direction, n] = region.split("-");
      const prefix = `${area}${direction[0]}${n}`;
      return {
        names: ["a", "b", "c", "d"].map((z) => `${region}${z}`),
        zoneIds: [2, 3, 1, 4].map((k) => `${prefix}-az${k}`),
        id: region,
      };
    }
    case "aws:kms/getAlias:getAlias": {
      // KMS answers with the key the alias points to: its ARN, never the alias's. The site key's
      // logical name is `<stem>-key` for alias `alias/<stem>` (index.ts), so the mock answers
      // with the same key ARN the peer's mocked run registers.
      const aliasName = String(args.inputs.name);
      const keyId = mockKeyId(`${aliasName.replace(/^alias\//, "")}-key`);
      return {
        id: aliasName,
        name: aliasName,
        arn: `arn:aws:kms:${region}:${MOCK_ACCOUNT}:${aliasName}`,
        targetKeyId: keyId,
        targetKeyArn: `arn:aws:kms:${region}:${MOCK_ACCOUNT}:key/${keyId}`,
        region,
      };
    }
    case "aws:secretsmanager/getSecretVersion:getSecretVersion": {
      // A DbCredential's shape: JSON with username and password.
      const secretId = String(args.inputs.secretId);
      return {
        id: `${secretId}|AWSCURRENT`,
        arn: secretId,
        secretId,
        region,
        versionId: "00000000-0000-4000-8000-000000000001",
        versionStages: ["AWSCURRENT"],
        secretString: JSON.stringify({
          username: "dradmin",
          password: `mock-password-${hex(secretId, 8)}`,
        }),
      };
    }
    default:
      throw new Error(
        `unmocked invoke ${args.token}(${JSON.stringify(args.inputs)}): add it to test/support/mocks.ts ` +
          `or avoid the invoke (the failover path must not depend on reads)`,
      );
  }
}
