/** Small pure checks that config validation needs and zod does not ship. */

/** Parses an IPv4 CIDR into its first and last address as numbers, or undefined when malformed. */
export function parseCidr(
  cidr: string,
): { first: number; last: number; prefix: number } | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
  if (!m) return undefined;
  const octets = m.slice(1, 5).map(Number);
  const prefix = Number(m[5]);
  if (octets.some((o) => o > 255) || prefix > 32) return undefined;
  const addr = octets.reduce((acc, o) => acc * 256 + o, 0);
  const size = 2 ** (32 - prefix);
  const first = addr - (addr % size);
  if (first !== addr) return undefined; // host bits set: "10.0.0.1/16" is a typo, not a network
  return { first, last: first + size - 1, prefix };
}

export function cidrsOverlap(a: string, b: string): boolean {
  const x = parseCidr(a);
  const y = parseCidr(b);
  if (!x || !y) return false;
  return x.first <= y.last && y.first <= x.last;
}

/** Formats a number as a dotted IPv4 address. */
export function formatIpv4(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join(".");
}

const CRON_FIELDS: ReadonlyArray<{ name: string; min: number; max: number }> = [
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day of month", min: 1, max: 31 },
  { name: "month", min: 1, max: 12 },
  { name: "day of week", min: 0, max: 7 },
];

function cronFieldError(field: string, min: number, max: number): string | undefined {
  for (const part of field.split(",")) {
    const m = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(part);
    if (!m) return `"${part}" is not a number, range, list or step`;
    const nums = [m[2], m[3]].filter((v): v is string => v !== undefined).map(Number);
    if (nums.some((v) => v < min || v > max)) return `"${part}" is outside ${min}-${max}`;
    if (nums.length === 2 && nums[0] > nums[1]) return `range "${part}" runs backwards`;
    if (m[4] !== undefined && Number(m[4]) === 0) return `step "${part}" is zero`;
  }
  return undefined;
}

/**
 * Validates a five-field Kubernetes CronJob schedule ("0 2 * * *"). Returns a reason when it is
 * malformed, undefined when it is fine.
 */
export function cronError(expr: string): string | undefined {
  const fields = expr.trim().split(/\s+/);
  if (fields.length !== 5) {
    return `has ${fields.length} fields; expected 5 (minute hour day-of-month month day-of-week)`;
  }
  for (let i = 0; i < 5; i++) {
    const { name, min, max } = CRON_FIELDS[i];
    const err = cronFieldError(fields[i], min, max);
    if (err) return `${name} ${err}`;
  }
  return undefined;
}

/**
 * Validates an AWS Backup schedule, `cron(min hour day-of-month month day-of-week year)`,
 * where one of the two day fields must be `?`.
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/events/ScheduledEvents.html#CronExpressions
 */
export function awsCronError(expr: string): string | undefined {
  const m = /^cron\((.*)\)$/.exec(expr.trim());
  if (!m) return `must look like cron(0 2 * * ? *)`;
  const fields = m[1].trim().split(/\s+/);
  if (fields.length !== 6) return `has ${fields.length} fields inside cron(); expected 6`;
  const [min, hour, dom, month, dow, year] = fields;
  if ((dom === "?") === (dow === "?"))
    return `exactly one of day-of-month and day-of-week must be ?`;
  const checks: Array<[string, string, RegExp]> = [
    ["minute", min, /^[\d,\-*/]+$/],
    ["hour", hour, /^[\d,\-*/]+$/],
    ["day of month", dom, /^([\d,\-*/LW]+|\?)$/],
    ["month", month, /^([\d,\-*/]+|[A-Z]{3}(-[A-Z]{3})?)$/],
    ["day of week", dow, /^([\d,\-*/L#]+|\?|[A-Z]{3}([-,][A-Z]{3})*)$/],
    ["year", year, /^[\d,\-*/]+$/],
  ];
  for (const [name, value, re] of checks) {
    if (!re.test(value)) return `${name} "${value}" is not valid`;
  }
  return undefined;
}

/**
 * True for a time zone name the runtime's IANA database knows ("Etc/UTC", "Europe/Berlin").
 * Kubernetes resolves CronJob `timeZone` against the same database (Go's tzdata), and rejects
 * an unknown zone only when the API server receives the object, mid-update.
 */
export function isIanaTimeZone(zone: string): boolean {
  if (zone.trim() !== zone || zone === "") return false;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/**
 * Why `name` cannot be an IAM role name (1-64 characters of letters, digits and +=,.@_-), or
 * undefined. https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html
 */
export function iamRoleNameProblem(name: string): string | undefined {
  return /^[\w+=,.@-]{1,64}$/.test(name)
    ? undefined
    : `must be 1-64 characters of letters, digits and +=,.@_-, got "${name}" (${name.length})`;
}
