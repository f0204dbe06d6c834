import { LocalWorkspace, type OpMap, type Stack } from "@pulumi/pulumi/automation";
import type { ChangeSummary, SetConfigOptions, StackOps } from "./ports";

/**
 * StackOps over the Pulumi Automation API: the same `pulumi config set` / `pulumi up` an operator would
 * type, against the program in `workDir`. Needs the Pulumi CLI on PATH and a logged-in backend.
 * refresh, preview and up stop when their signal aborts; the other calls take none, and the
 * machine's deadline stops waiting for them instead.
 */
export class AutomationStackOps implements StackOps {
  private readonly stacks = new Map<string, Stack>();

  constructor(
    private readonly workDir: string,
    /** Receives the engine's progress output of `up`, line by line. */
    private readonly onOutput: (text: string) => void,
  ) {}

  private async stack(name: string): Promise<Stack> {
    const cached = this.stacks.get(name);
    if (cached) return cached;
    let stack: Stack;
    try {
      stack = await LocalWorkspace.selectStack({ stackName: name, workDir: this.workDir });
    } catch (err) {
      // The Automation API shells out to the CLI; its ENOENT error is several lines of noise.
      if (/ENOENT/.test(String(err)) && /pulumi/.test(String(err))) {
        throw new Error(
          "the Pulumi CLI is not on PATH; install it (https://www.pulumi.com/docs/iac/download-install/) and log in to the state backend",
        );
      }
      throw err;
    }
    this.stacks.set(name, stack);
    return stack;
  }

  async select(stack: string): Promise<void> {
    await this.stack(stack);
  }

  async getAllConfig(stack: string): Promise<Record<string, string>> {
    const all = await (await this.stack(stack)).getAllConfig();
    return Object.fromEntries(Object.entries(all).map(([k, v]) => [k, v.value]));
  }

  async setConfig(
    stack: string,
    key: string,
    value: string,
    opts: SetConfigOptions,
  ): Promise<void> {
    await (await this.stack(stack)).setConfig(key, { value }, opts.path);
  }

  async removeConfig(stack: string, key: string, opts: SetConfigOptions): Promise<void> {
    await (await this.stack(stack)).removeConfig(key, opts.path);
  }

  async refresh(
    stack: string,
    targets: readonly string[],
    signal: AbortSignal,
  ): Promise<ChangeSummary> {
    const result = await (
      await this.stack(stack)
    ).refresh({
      target: [...targets],
      onOutput: this.onOutput,
      signal,
    });
    return summary(result.summary.resourceChanges ?? {});
  }

  async preview(stack: string, signal: AbortSignal): Promise<ChangeSummary> {
    const result = await (await this.stack(stack)).preview({ signal });
    return summary(result.changeSummary);
  }

  async up(stack: string, signal: AbortSignal): Promise<ChangeSummary> {
    const result = await (await this.stack(stack)).up({ onOutput: this.onOutput, signal });
    return summary(result.summary.resourceChanges ?? {});
  }
}

function summary(ops: OpMap): ChangeSummary {
  const out: Record<string, number> = {};
  for (const [op, n] of Object.entries(ops)) if (n !== undefined) out[op] = n;
  return out;
}
