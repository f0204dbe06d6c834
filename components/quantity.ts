/**
 * Kubernetes resource quantities (`8Gi`, `500M`, `1.5Ti`, `12e9`) read exactly, as the API server
 * reads them, for storage sizes that drctl must know in bytes (parallel jobs and scratch: docs/architecture.md §5: DRCTL_SCRATCH_BYTES).
 *
 * The grammar is apimachinery's (`k8s.io/apimachinery/pkg/api/resource`, Quantity):
 *   <quantity> ::= <signedNumber><suffix>; <number> ::= <digits> | <digits>.<digits> | <digits>. | .<digits>
 *   <suffix> ::= <binarySI> (Ki Mi Gi Ti Pi Ei) | <decimalExponent> (e<signedNumber>, E<signedNumber>)
 *              | <decimalSI> (n u m "" k M G T P E)
 * and no quantity may exceed 2^63-1 in magnitude (the API server caps larger ones rather than
 * keeping them). https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/quantity/
 * A claim's `resources.requests.storage` must moreover be greater than zero (the API server's
 * PersistentVolumeClaim validation, ValidatePositiveQuantityValue):
 * https://github.com/kubernetes/kubernetes/blob/master/pkg/apis/core/validation/validation.go
 */

const BINARY_SI: Record<string, bigint> = {
  Ki: 1n << 10n,
  Mi: 1n << 20n,
  Gi: 1n << 30n,
  Ti: 1n << 40n,
  Pi: 1n << 50n,
  Ei: 1n << 60n,
};
const DECIMAL_SI: Record<string, number> = {
  n: -9,
  u: -6,
  m: -3,
  "": 0,
  k: 3,
  M: 6,
  G: 9,
  T: 12,
  P: 15,
  E: 18,
};
const MAX_QUANTITY = (1n << 63n) - 1n;
const QUANTITY = /^([+-]?)(\d+\.?\d*|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?\d+|[numkMGTPE]?)$/;

/**
 * The bytes a storage quantity stands for, or why a claim of that size is refused: malformed,
 * not positive, beyond 2^63-1, or not a whole number of bytes (`0.5`, `100m`: the API server
 * would round such a request up, but a byte count drctl compares against is then a guess).
 */
export function storageBytes(q: string): { bytes: bigint } | { problem: string } {
  const m = QUANTITY.exec(q);
  if (!m) {
    return {
      problem:
        `"${q}" is not a Kubernetes quantity: a number with an optional suffix Ki/Mi/Gi/Ti/Pi/Ei, ` +
        `k/M/G/T/P/E or an exponent (e.g. 8Gi, 500G, 1.5Ti)`,
    };
  }
  const [, sign, number, suffix] = m;
  const [whole, fraction = ""] = number.split(".");
  let numerator = BigInt(`${whole}${fraction}` || "0");
  let denominator = 10n ** BigInt(fraction.length);
  if (suffix in BINARY_SI) {
    numerator *= BINARY_SI[suffix];
  } else {
    const exponent = suffix in DECIMAL_SI ? DECIMAL_SI[suffix] : Number(suffix.slice(1));
    if (exponent >= 0) numerator *= 10n ** BigInt(exponent);
    else denominator *= 10n ** BigInt(-exponent);
  }
  if (sign === "-" || numerator === 0n) {
    return { problem: `"${q}" must be greater than zero, as the API server requires of a claim` };
  }
  if (numerator > MAX_QUANTITY * denominator) {
    return { problem: `"${q}" exceeds 2^63-1 bytes, the largest quantity Kubernetes holds` };
  }
  if (numerator % denominator !== 0n) {
    return { problem: `"${q}" is not a whole number of bytes; use a suffix such as Mi or Gi` };
  }
  return { bytes: numerator / denominator };
}
