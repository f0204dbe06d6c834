import { formatIpv4, parseCidr } from "../validation";

/** The subnet layout of one site's VPC. */
export interface SubnetPlan {
  /** One per AZ, for nodes and the database: an eighth of the VPC each. */
  readonly private: string[];
  /** One per AZ, for load balancers and NAT gateways: a 64th of the VPC each, in its last quarter. */
  readonly public: string[];
}

/**
 * Splits a VPC range into per-AZ subnets. A /16 gives private /19s at 10.x.0.0, 10.x.32.0,
 * 10.x.64.0 and public /22s at 10.x.192.0, 10.x.196.0, 10.x.200.0, leaving room to add AZs.
 */
export function planSubnets(vpcCidr: string, azCount: number): SubnetPlan {
  const vpc = parseCidr(vpcCidr);
  if (!vpc)
    throw new Error(`[vpcCidr] must be an IPv4 CIDR such as 10.10.0.0/16, got "${vpcCidr}"`);
  if (vpc.prefix < 16 || vpc.prefix > 20) {
    throw new Error(`[vpcCidr] prefix must be between /16 and /20, got /${vpc.prefix}`);
  }
  if (azCount < 2 || azCount > 3) throw new Error(`[azCount] must be 2 or 3, got ${azCount}`);
  const size = vpc.last - vpc.first + 1;
  const privateSize = size / 8;
  const publicSize = size / 64;
  const publicBase = vpc.first + (size / 4) * 3;
  const range = [...Array(azCount).keys()];
  return {
    private: range.map((i) => `${formatIpv4(vpc.first + i * privateSize)}/${vpc.prefix + 3}`),
    public: range.map((i) => `${formatIpv4(publicBase + i * publicSize)}/${vpc.prefix + 6}`),
  };
}
