/** Medians, ranges and the machine's load, for benchmarks that run on a shared machine. */
import { readFileSync } from "node:fs";

/** `median [min–max]` of `xs`, with `digits` decimals. */
export function spread(xs: readonly number[], digits: number): string {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  return `${mid.toFixed(digits)} [${s[0].toFixed(digits)}–${s[s.length - 1].toFixed(digits)}]`;
}

/** The 1-minute load average, sampled every second until stopped. */
export class LoadSampler {
  private readonly samples: number[] = [];
  private readonly timer = setInterval(() => this.samples.push(this.read()), 1000);

  constructor() {
    this.timer.unref();
  }

  private read(): number {
    return Number(readFileSync("/proc/loadavg", "utf8").split(" ")[0]);
  }

  /** The load average now. */
  now(): string {
    return this.read().toFixed(2);
  }

  /** Median and range of the samples so far, and how many. */
  summary(): string {
    if (this.samples.length === 0) return this.now();
    return `${spread(this.samples, 2)} over ${this.samples.length} samples (2 cores)`;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
