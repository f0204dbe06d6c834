import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";

/**
 * Where the Pulumi state backend and each stack's secrets provider live. The reconcile after a
 * failover needs both, so neither may sit in a region the failover leaves: a state bucket or a
 * KMS key in us-east-1 leaves the stacks unmanageable exactly when us-east-1 is down.
 */
export interface StateLocations {
  /** The backend URL the Pulumi CLI would use, and where that came from. */
  readonly backend?: { readonly url: string; readonly from: string };
  /** `secretsprovider` of each stack's Pulumi.<stack>.yaml (undefined: the backend's default). */
  readonly secretsProviders: Readonly<Record<string, string | undefined>>;
}

/** The AWS region a backend or secrets-provider URL pins, `"unknown"` when it pins none, undefined when not AWS. */
export function awsRegionOf(url: string): string | undefined {
  const query = /[?&]region=([a-z0-9-]+)/.exec(url)?.[1];
  // https://www.pulumi.com/docs/iac/concepts/state-and-backends/#aws-s3
  if (url.startsWith("s3://")) return query ?? "unknown";
  // https://www.pulumi.com/docs/iac/concepts/secrets/#aws-key-management-service-kms
  if (url.startsWith("awskms://")) {
    const arnRegion = /arn:aws[a-z-]*:kms:([a-z0-9-]+):/.exec(url)?.[1];
    return arnRegion ?? query ?? "unknown";
  }
  return undefined;
}

/** Every reason the backend or a secrets provider could be lost with one of `regions`. */
export function stateLocationProblems(loc: StateLocations, regions: readonly string[]): string[] {
  const problems: string[] = [];
  const check = (what: string, url: string) => {
    const region = awsRegionOf(url);
    if (region === "unknown") {
      problems.push(
        `${what} ${url} names no region, so it follows AWS_REGION and may be in ${regions.join(" or ")}; ` +
          `pin it to a third region (?region=<region>, or a key ARN) outside both sites`,
      );
    } else if (region !== undefined && regions.includes(region)) {
      problems.push(
        `${what} ${url} is in ${region}, a region of this pair: if ${region} is lost, so is the ` +
          `reconcile after the failover; move it to a region outside ${regions.join(" and ")} (docs/failover.md)`,
      );
    }
  };
  if (loc.backend) check(`the Pulumi state backend (${loc.backend.from})`, loc.backend.url);
  for (const [stack, provider] of Object.entries(loc.secretsProviders)) {
    if (provider) check(`the secrets provider of stack ${stack}`, provider);
  }
  return problems;
}

function readYaml(path: string): Record<string, unknown> | undefined {
  try {
    return (parse(readFileSync(path, "utf8")) as Record<string, unknown> | null) ?? {};
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

/**
 * The backend as the CLI picks it: PULUMI_BACKEND_URL, else Pulumi.yaml's `backend.url`, else the
 * login in ~/.pulumi/credentials.json (`current`).
 * https://www.pulumi.com/docs/iac/cli/environment-variables/ ; https://www.pulumi.com/docs/iac/concepts/projects/project-file/
 */
export function readStateLocations(
  workDir: string,
  env: NodeJS.ProcessEnv,
  stacks: readonly string[],
): StateLocations {
  let backend: StateLocations["backend"];
  const project = readYaml(join(workDir, "Pulumi.yaml"));
  const projectUrl = (project?.backend as { url?: string } | undefined)?.url;
  if (env.PULUMI_BACKEND_URL) backend = { url: env.PULUMI_BACKEND_URL, from: "PULUMI_BACKEND_URL" };
  else if (projectUrl) backend = { url: projectUrl, from: "Pulumi.yaml backend.url" };
  else {
    const home = env.PULUMI_HOME ?? join(env.HOME ?? homedir(), ".pulumi");
    try {
      const creds = JSON.parse(readFileSync(join(home, "credentials.json"), "utf8")) as {
        current?: string;
      };
      if (creds.current) backend = { url: creds.current, from: `${home}/credentials.json` };
    } catch {
      backend = undefined;
    }
  }
  const secretsProviders: Record<string, string | undefined> = {};
  for (const stack of stacks) {
    const doc = readYaml(join(workDir, `Pulumi.${stack}.yaml`));
    secretsProviders[stack] = doc?.secretsprovider as string | undefined;
  }
  return { backend, secretsProviders };
}
