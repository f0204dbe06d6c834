/**
 * Trust for an AWS service acting for this account only: `aws:SourceAccount` keeps another
 * account's use of the same service from assuming the role (confused deputy).
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html
 */
export function serviceTrustPolicy(service: string, accountId: string): object {
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Effect: "Allow",
        Principal: { Service: service },
        Action: "sts:AssumeRole",
        Condition: { StringEquals: { "aws:SourceAccount": accountId } },
      },
    ],
  };
}
