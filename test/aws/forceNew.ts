/** Inputs that replace the resource when they change (terraform-provider-aws schemas, ForceNew). */
export const FORCE_NEW: Record<string, string[]> = {
  "aws:rds/instanceAutomatedBackupsReplication:InstanceAutomatedBackupsReplication": [
    "kmsKeyId",
    "sourceDbInstanceArn",
    "retentionPeriod",
    "preSignedUrl",
  ],
  "aws:rds/instance:Instance": ["identifier", "kmsKeyId", "storageEncrypted", "dbName", "username"],
  "aws:kms/alias:Alias": ["name"],
  "aws:secretsmanager/secret:Secret": ["name"],
  // internal/service/rds/parameter_group.go: family, name and description are ForceNew.
  "aws:rds/parameterGroup:ParameterGroup": ["name", "family", "description"],
  "aws:eks/cluster:Cluster": ["name"],
  // internal/service/eks/node_group.go: ami_type, disk_size, instance_types, node_role_arn,
  // subnet_ids are ForceNew; version, release_version and launch_template.version update in place.
  "aws:eks/nodeGroup:NodeGroup": [
    "amiType",
    "diskSize",
    "instanceTypes",
    "nodeRoleArn",
    "subnetIds",
  ],
};
