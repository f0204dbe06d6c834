import { spawn, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import { join } from "node:path";
import Ajv from "ajv";
import type { PackConfig, Violation } from "../../policies/evaluate";
import type { RegisteredResource } from "../support/mockRun";

/**
 * Starts a policy pack the way the Pulumi CLI does and speaks the analyzer protocol to it.
 *
 * The CLI (sdk/go/common/resource/plugin/analyzer_plugin.go, NewPolicyAnalyzer) runs the
 * `pulumi-analyzer-policy` shim with the pack's directory as working directory and the arguments
 * `<engine address> .`; the shim resolves `@pulumi/pulumi/cmd/run-policy-pack` from there
 * (sdk/nodejs/dist/pulumi-analyzer-policy) and runs it with node, which registers ts-node with
 * type-checking on and the pack's tsconfig.json, loads the pack, and `new PolicyPack` serves
 * gRPC on 127.0.0.1 and prints the port (@pulumi/policy server.js). The CLI then calls
 * Handshake, ConfigureStack, GetAnalyzerInfo, GetPluginInfo, Configure with the config it
 * reconciled from the policies' schemas (pkg/resource/analyzer/config.go), Analyze per resource
 * (inputs) and AnalyzeStack once (outputs).
 */

// The stubs and the gRPC and protobuf modules they were generated against, resolved from
// @pulumi/pulumi itself: a message class from another copy fails the stubs' instanceof checks.
const fromProto = createRequire(require.resolve("@pulumi/pulumi/proto/analyzer_grpc_pb"));
const grpc = fromProto("@grpc/grpc-js");
const rpc = fromProto("./analyzer_grpc_pb");
const pb = fromProto("./analyzer_pb");
const { Struct } = fromProto("google-protobuf/google/protobuf/struct_pb");
const { Empty } = fromProto("google-protobuf/google/protobuf/empty_pb");

const LEVELS: Record<number, Violation["enforcementLevel"]> = {
  [pb.EnforcementLevel.ADVISORY]: "advisory",
  [pb.EnforcementLevel.MANDATORY]: "mandatory",
  [pb.EnforcementLevel.REMEDIATE]: "remediate",
  [pb.EnforcementLevel.DISABLED]: "disabled",
};
const LEVEL_OF = Object.fromEntries(Object.entries(LEVELS).map(([k, v]) => [v, Number(k)]));
const SEVERITIES: Record<number, string | undefined> = {
  [pb.PolicySeverity.POLICY_SEVERITY_LOW]: "low",
  [pb.PolicySeverity.POLICY_SEVERITY_MEDIUM]: "medium",
  [pb.PolicySeverity.POLICY_SEVERITY_HIGH]: "high",
  [pb.PolicySeverity.POLICY_SEVERITY_CRITICAL]: "critical",
};

export interface PolicyInfo {
  readonly name: string;
  readonly enforcementLevel: Violation["enforcementLevel"];
  readonly severity?: string;
  readonly configSchema?: { properties: Record<string, any>; required: string[] };
}

export interface AnalyzerInfo {
  readonly name: string;
  readonly version: string;
  readonly supportsConfig: boolean;
  readonly policies: PolicyInfo[];
}

/** The violation a diagnostic reports, in the direct evaluation's terms (policies/evaluate.ts). */
export interface Diagnostic extends Violation {
  readonly policyPackName: string;
  readonly policyPackVersion: string;
}

const call = <T>(client: any, method: string, req: unknown): Promise<T> =>
  new Promise((resolve, reject) =>
    client[method](req, (err: Error | null, res: T) => (err ? reject(err) : resolve(res))),
  );

/** Plain JSON of a resource's properties, as the CLI marshals them into a Struct. */
const struct = (props: Record<string, unknown>) =>
  Struct.fromJavaScript(JSON.parse(JSON.stringify(props)) as Record<string, unknown>);

function options(r: RegisteredResource) {
  const o = new pb.AnalyzerResourceOptions();
  o.setProtect(r.protect);
  o.setIgnorechangesList(r.ignoreChanges);
  o.setDeletebeforereplace(r.deleteBeforeReplace);
  o.setDeletebeforereplacedefined(true);
  if (r.parent) o.setParent(r.parent);
  return o;
}

/**
 * The diagnostics of a response. A resource policy reports without a URN (server.js passes the
 * one given to reportViolation, which validateResource callers omit); the CLI files those under
 * the resource it asked about, `urn` here.
 */
function diagnostics(res: any, urn?: string): Diagnostic[] {
  return res.getDiagnosticsList().map((d: any) => ({
    policyName: d.getPolicyname(),
    policyPackName: d.getPolicypackname(),
    policyPackVersion: d.getPolicypackversion(),
    description: d.getDescription(),
    // The server prefixes the policy's description to the rule's message (server.js).
    message: d.getMessage(),
    enforcementLevel: LEVELS[d.getEnforcementlevel()],
    severity: SEVERITIES[d.getSeverity()],
    urn: d.getUrn() || urn,
  }));
}

export class AnalyzerHost {
  private constructor(
    private readonly child: ChildProcess,
    private readonly client: any,
    /** Everything the pack wrote to stderr, for failure messages. */
    readonly stderr: () => string,
  ) {}

  /**
   * Starts the pack in `dir`; resolves once it serves, rejects with its stderr if it exits
   * first (a type error, a module that does not load, an invalid pack).
   */
  static start(dir: string): Promise<AnalyzerHost> {
    const script = require.resolve("@pulumi/pulumi/cmd/run-policy-pack", { paths: [dir] });
    const child = spawn(process.execPath, [script, "127.0.0.1:0", "."], {
      cwd: dir,
      env: { ...process.env, PULUMI_NODEJS_TRANSPILE_ONLY: "" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stderr.on("data", (b: Buffer) => (err += b.toString()));
    return new Promise((resolve, reject) => {
      child.on("exit", (code) =>
        reject(new Error(`policy pack in ${dir} exited with ${code} before serving:\n${err}`)),
      );
      child.stdout.on("data", (b: Buffer) => {
        out += b.toString();
        const port = /^(\d+)\s*$/m.exec(out)?.[1];
        if (!port) return;
        child.removeAllListeners("exit");
        const client = new rpc.AnalyzerClient(
          `127.0.0.1:${port}`,
          grpc.credentials.createInsecure(),
          { "grpc.max_receive_message_length": 400 * 1024 * 1024 },
        );
        resolve(new AnalyzerHost(child, client, () => err));
      });
    });
  }

  /** The CLI's first call; @pulumi/policy 1.21 does not implement it, which the CLI allows. */
  async handshake(dir: string): Promise<"ok" | "unimplemented"> {
    const req = new pb.AnalyzerHandshakeRequest();
    req.setEngineAddress("127.0.0.1:0");
    req.setRootDirectory(dir);
    req.setProgramDirectory(dir);
    try {
      await call(this.client, "handshake", req);
      return "ok";
    } catch (e) {
      if ((e as { code?: number }).code === grpc.status.UNIMPLEMENTED) return "unimplemented";
      throw e;
    }
  }

  async configureStack(stack: string, project: string): Promise<void> {
    const req = new pb.AnalyzerStackConfigureRequest();
    req.setStack(stack);
    req.setProject(project);
    req.setOrganization("organization");
    await call(this.client, "configureStack", req);
  }

  async analyzerInfo(): Promise<AnalyzerInfo> {
    const info: any = await call(this.client, "getAnalyzerInfo", new Empty());
    return {
      name: info.getName(),
      version: info.getVersion(),
      supportsConfig: info.getSupportsconfig(),
      policies: info.getPoliciesList().map((p: any) => {
        const schema = p.getConfigschema();
        return {
          name: p.getName(),
          enforcementLevel: LEVELS[p.getEnforcementlevel()],
          severity: SEVERITIES[p.getSeverity()],
          configSchema: schema
            ? {
                properties: schema.getProperties()?.toJavaScript() ?? {},
                required: schema.getRequiredList(),
              }
            : undefined,
        };
      }),
    };
  }

  async pluginVersion(): Promise<string> {
    const info: any = await call(this.client, "getPluginInfo", new Empty());
    return info.getVersion();
  }

  /** Sends the config the CLI reconciled (every policy: level and properties). */
  async configure(config: ReconciledConfig): Promise<void> {
    const req = new pb.ConfigureAnalyzerRequest();
    const map = req.getPolicyconfigMap();
    for (const [name, c] of Object.entries(config)) {
      const pc = new pb.PolicyConfig();
      pc.setEnforcementlevel(LEVEL_OF[c.enforcementLevel]);
      pc.setProperties(Struct.fromJavaScript(c.properties));
      map.set(name, pc);
    }
    await call(this.client, "configure", req);
  }

  /** Analyze for each resource, with its inputs, as the CLI does before each step. */
  async analyze(resources: RegisteredResource[]): Promise<Diagnostic[]> {
    const out: Diagnostic[] = [];
    for (const r of resources) {
      const req = new pb.AnalyzeRequest();
      req.setUrn(r.urn);
      req.setType(r.type);
      req.setName(r.name);
      req.setProperties(struct(r.inputs));
      req.setOptions(options(r));
      out.push(...diagnostics(await call(this.client, "analyze", req), r.urn));
    }
    return out;
  }

  /** AnalyzeStack once, with every resource's outputs, parent and dependencies. */
  async analyzeStack(resources: RegisteredResource[]): Promise<Diagnostic[]> {
    const req = new pb.AnalyzeStackRequest();
    req.setResourcesList(
      resources.map((r) => {
        const a = new pb.AnalyzerResource();
        a.setUrn(r.urn);
        a.setType(r.type);
        a.setName(r.name);
        a.setProperties(struct(r.state));
        a.setOptions(options(r));
        if (r.parent) a.setParent(r.parent);
        a.setDependenciesList(r.dependsOn);
        const deps = a.getPropertydependenciesMap();
        for (const [k, urns] of Object.entries(r.propertyDependencies)) {
          if (urns.length === 0) continue;
          const d = new pb.AnalyzerPropertyDependencies();
          d.setUrnsList(urns);
          deps.set(k, d);
        }
        return a;
      }),
    );
    return diagnostics(await call(this.client, "analyzeStack", req));
  }

  /** Stops the pack; resolves when it has exited. */
  stop(): Promise<void> {
    this.client.close();
    if (this.child.exitCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      this.child.once("exit", () => resolve());
      this.child.kill("SIGTERM");
    });
  }
}

export type ReconciledConfig = Record<
  string,
  { enforcementLevel: Violation["enforcementLevel"]; properties: Record<string, unknown> }
>;

/**
 * What the CLI does with the pack's config before Configure (pkg/resource/analyzer/config.go,
 * ReconcilePolicyPackConfig): every policy's schema defaults and level, the user's config over
 * them, then each policy's result validated against `{type: "object", properties, required}`
 * (gojsonschema there, Ajv here; both JSON Schema draft 7 without unknown-keyword errors). A schema
 * that does not compile, or a config it rejects, is an error the CLI reports before any preview.
 */
export function reconcileConfig(
  policies: PolicyInfo[],
  config: PackConfig = {},
): { config: ReconciledConfig; errors: string[] } {
  const ajv = new Ajv({ strict: false, allErrors: true });
  const out: ReconciledConfig = {};
  const errors: string[] = [];
  for (const p of policies) {
    const defaults = Object.fromEntries(
      Object.entries(p.configSchema?.properties ?? {})
        .filter(([, s]) => s && typeof s === "object" && "default" in s)
        .map(([k, s]) => [k, (s as { default: unknown }).default]),
    );
    const { enforcementLevel, ...given } = config[p.name] ?? {};
    const properties = { ...defaults, ...given };
    out[p.name] = { enforcementLevel: enforcementLevel ?? p.enforcementLevel, properties };
    if (!p.configSchema) continue;
    let validate;
    try {
      validate = ajv.compile({
        type: "object",
        ...(Object.keys(p.configSchema.properties).length
          ? { properties: p.configSchema.properties }
          : {}),
        ...(p.configSchema.required.length ? { required: p.configSchema.required } : {}),
      });
    } catch (e) {
      errors.push(`${p.name}: unable to validate schema: ${(e as Error).message}`);
      continue;
    }
    if (!validate(properties)) {
      for (const e of validate.errors ?? [])
        errors.push(`${p.name}: ${e.instancePath || "(root)"} ${e.message ?? ""}`.trim());
    }
  }
  return { config: out, errors };
}

export const POLICIES_DIR = join(__dirname, "..", "..", "policies");
