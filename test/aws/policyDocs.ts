/** Reading IAM and key policy documents the way IAM evaluates the parts the rules need. */

export interface Statement {
  readonly Sid?: string;
  readonly Effect: "Allow" | "Deny";
  readonly Principal?: unknown;
  readonly Action?: string | string[];
  readonly Resource?: string | string[];
  readonly Condition?: Record<string, Record<string, string | string[]>>;
}

export function statements(doc: unknown): Statement[] {
  const parsed = typeof doc === "string" ? (JSON.parse(doc) as unknown) : doc;
  const s = (parsed as { Statement?: Statement | Statement[] } | undefined)?.Statement;
  return s === undefined ? [] : Array.isArray(s) ? s : [s];
}

const list = (v: string | string[] | undefined): string[] =>
  v === undefined ? [] : Array.isArray(v) ? v : [v];

/** IAM wildcard match (`*` and `?`), case-insensitive for actions as IAM treats them. */
export function wildcardMatch(pattern: string, value: string, caseInsensitive = false): boolean {
  const re = new RegExp(
    "^" +
      pattern
        .split("")
        .map((c) => (c === "*" ? ".*" : c === "?" ? "." : c.replace(/[.+^${}()|[\]\\/]/g, "\\$&")))
        .join("") +
      "$",
    caseInsensitive ? "i" : "",
  );
  return re.test(value);
}

export function actionsOf(s: Statement): string[] {
  return list(s.Action);
}

export function allowsAction(s: Statement, action: string): boolean {
  return actionsOf(s).some((a) => a === "*" || wildcardMatch(a, action, true));
}

export function coversResource(s: Statement, arn: string): boolean {
  return list(s.Resource).some((r) => wildcardMatch(r, arn));
}

/** AWS principals a statement names (`Principal.AWS`), `*` included. */
export function awsPrincipals(s: Statement): string[] {
  const p = s.Principal as { AWS?: string | string[] } | string | undefined;
  if (p === "*") return ["*"];
  return typeof p === "object" && p !== null ? list(p.AWS) : [];
}

export function servicePrincipals(s: Statement): string[] {
  const p = s.Principal as { Service?: string | string[] } | undefined;
  return typeof p === "object" && p !== null ? list(p.Service) : [];
}

/** The values a condition operator (e.g. ArnEquals) gives a key, if the statement has it. */
export function conditionValues(s: Statement, operator: string, key: string): string[] {
  return list(s.Condition?.[operator]?.[key]);
}
