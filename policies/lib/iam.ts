/**
 * Reading IAM policy documents (identity, key, bucket and trust policies) the way IAM evaluates
 * them, for the rules and for the CI role lint (test/workflows.test.ts).
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements.html
 */

export interface Statement {
  Sid?: string;
  Effect?: string;
  Principal?: unknown;
  NotPrincipal?: unknown;
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: string | string[];
  NotResource?: string | string[];
  Condition?: Record<string, Record<string, unknown>>;
}

export const list = <T>(v: T | T[] | undefined): T[] =>
  v === undefined ? [] : Array.isArray(v) ? v : [v];

/** A policy document (JSON text or object) parsed; undefined when it is not JSON. */
export function parseDocument(policy: unknown): { Statement?: unknown } | undefined {
  if (typeof policy !== "string") return policy as { Statement?: unknown } | undefined;
  try {
    return JSON.parse(policy) as { Statement?: unknown };
  } catch {
    return undefined;
  }
}

/** Every statement of a policy document (JSON text or object); none when it is not JSON. */
export function statements(policy: unknown): Statement[] {
  return list(parseDocument(policy)?.Statement as Statement | Statement[] | undefined);
}

/** Whether a principal is everyone: `"*"` or `{"AWS": "*"}`. */
export function isEveryone(p: unknown): boolean {
  return p === "*" || list((p as { AWS?: string | string[] } | undefined)?.AWS).includes("*");
}

/**
 * Whether two IAM wildcard patterns (`*` any run of characters, `?` one) can match a common
 * action name, case-insensitively as IAM compares actions. `s3:*` and `s3:Delete*` intersect,
 * `s3:Get*` and `s3:DeleteObject` do not, and neither do `s3:Put*` and `kms:Put*`.
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html
 */
export function patternsIntersect(a: string, b: string): boolean {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  const seen = new Map<number, boolean>();
  const go = (i: number, j: number): boolean => {
    const key = i * (y.length + 1) + j;
    const hit = seen.get(key);
    if (hit !== undefined) return hit;
    let r: boolean;
    if (i === x.length && j === y.length) r = true;
    else if (i < x.length && x[i] === "*") r = go(i + 1, j) || (j < y.length && go(i, j + 1));
    else if (j < y.length && y[j] === "*") r = go(i, j + 1) || (i < x.length && go(i + 1, j));
    else if (i < x.length && j < y.length && (x[i] === y[j] || x[i] === "?" || y[j] === "?"))
      r = go(i + 1, j + 1);
    else r = false;
    seen.set(key, r);
    return r;
  };
  return go(0, 0);
}

/**
 * Whether the wildcard pattern `pattern` matches everything `target` stands for, where `target`
 * is literal text with at most a trailing `*` ("arn:aws:s3:::b/daily/*": every key under daily/).
 * Matching the target's `*` as a character is sound for that shape: only a `*` in the pattern
 * (never a `?`, nor a literal) can consume it, and a `*` there covers any rest. Case-sensitive,
 * as resource ARNs (object keys) are.
 */
export function patternCovers(pattern: string, target: string): boolean {
  const re = new RegExp(
    "^" +
      pattern
        .replace(/[.+^${}()|[\]\\]/g, "\\$&")
        .replace(/\*/g, ".*")
        .replace(/\?/g, "[^*]") +
      "$",
  );
  return re.test(target);
}

/** The actions of an Allow statement that may grant one of `forbidden` (wildcards included). */
export function grantedForbidden(s: Statement, forbidden: readonly string[]): string[] {
  if (s.Effect !== "Allow") return [];
  return list(s.Action).filter((a) => forbidden.some((f) => patternsIntersect(a, f)));
}

/** A condition block's value for `key` under `operator`, comparing names case-insensitively. */
export function conditionValues(
  s: Statement,
  operator: string,
  key: string,
): unknown[] | undefined {
  const block = Object.entries(s.Condition ?? {}).find(
    ([op]) => op.toLowerCase() === operator.toLowerCase(),
  )?.[1];
  if (!block) return undefined;
  const hit = Object.entries(block).find(([k]) => k.toLowerCase() === key.toLowerCase());
  return hit ? list(hit[1]) : undefined;
}

/** `"true"`/`true` as IAM reads a Bool or Null condition value. */
export const isTrue = (v: unknown): boolean => v === true || v === "true";
