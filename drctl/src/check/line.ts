/** One line of `drctl check`: what was checked, whether it holds, and what to do when not. */
export interface CheckLine {
  readonly name: string;
  /** "skip": not checked, because what it needs failed (that line says why) or does not apply. */
  readonly status: "ok" | "fail" | "skip";
  readonly detail: string;
  /** What to do; set on every "fail". */
  readonly fix?: string;
}

export const ok = (name: string, detail: string): CheckLine => ({ name, status: "ok", detail });

export const fail = (name: string, detail: string, fix: string): CheckLine => ({
  name,
  status: "fail",
  detail,
  fix,
});

export const skip = (name: string, detail: string): CheckLine => ({ name, status: "skip", detail });

/** The error's one-line message (drctl's own errors are written to be read as they are). */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
