import { PolicyPack } from "@pulumi/policy";
import { policies } from "./rules";

// Only the pack: its constructor starts the gRPC server the Pulumi CLI talks to, so nothing
// (tests, the offline check) may import this file. Rules live in ./rules, one per file.
new PolicyPack("dr-stack-guard", {
  policies,
  enforcementLevel: "mandatory",
  description:
    "dr-stack guard: encryption, immutable backups, least privilege, retention, replication and DNS failover rules.",
  displayName: "dr-stack guard",
  provider: "aws",
  tags: ["aws", "disaster-recovery", "backup"],
});
