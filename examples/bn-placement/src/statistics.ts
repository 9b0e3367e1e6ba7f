// Statistics over seeds: mean, sample std, Welch's t-test and the Student-t tail it needs.

/** The arithmetic mean; throws on an empty list (a mean of nothing would be NaN). */
export function mean(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError("mean of an empty list");
  let sum = 0;
  for (const value of values) sum += value;
  return sum / values.length;
}

/**
 * The sample standard deviation `sqrt(Σ(x − x̄)² / (n − 1))` (Bessel's correction, as
 * `torch.std` and NumPy's `ddof=1`); 0 for a single value, since one seed shows no spread.
 */
export function sampleStd(values: readonly number[]): number {
  if (values.length < 2) return values.length === 1 ? 0 : Number.NaN;
  const center = mean(values);
  let squares = 0;
  for (const value of values) squares += (value - center) ** 2;
  return Math.sqrt(squares / (values.length - 1));
}

/** Mean, sample std, min, max and count of a list of per-seed values. */
export interface Spread {
  mean: number;
  std: number;
  min: number;
  max: number;
  n: number;
}

/** The {@link Spread} of a non-empty list. */
export function spreadOf(values: readonly number[]): Spread {
  return {
    mean: mean(values),
    std: sampleStd(values),
    min: Math.min(...values),
    max: Math.max(...values),
    n: values.length,
  };
}

/** The result of {@link welchTTest}. */
export interface WelchTest {
  /** `mean(a) − mean(b)`. */
  difference: number;
  /** `difference / sqrt(s_a²/n_a + s_b²/n_b)`. */
  t: number;
  /** Welch–Satterthwaite degrees of freedom. */
  df: number;
  /** Two-sided p-value: the chance of a |t| at least this large if both means were equal. */
  p: number;
}

/**
 * Welch's unequal-variance t-test of `mean(a) = mean(b)`:
 * `t = (x̄a − x̄b) / sqrt(sa²/na + sb²/nb)`,
 * `df = (sa²/na + sb²/nb)² / ((sa²/na)²/(na−1) + (sb²/nb)²/(nb−1))`, p two-sided from Student's t.
 * Needs at least 2 values per group. When neither group varies (zero standard error) the test is
 * degenerate: p is 1 for equal means and 0 otherwise, with t = ±∞ and df = na + nb − 2.
 */
export function welchTTest(a: readonly number[], b: readonly number[]): WelchTest {
  if (a.length < 2 || b.length < 2) {
    throw new RangeError(`welchTTest needs at least 2 values per group, got ${a.length} and ${b.length}`);
  }
  const difference = mean(a) - mean(b);
  const va = sampleStd(a) ** 2 / a.length;
  const vb = sampleStd(b) ** 2 / b.length;
  const standardError = Math.sqrt(va + vb);
  if (standardError === 0) {
    const t = difference === 0 ? 0 : Math.sign(difference) * Number.POSITIVE_INFINITY;
    return { difference, t, df: a.length + b.length - 2, p: difference === 0 ? 1 : 0 };
  }
  const t = difference / standardError;
  const df = (va + vb) ** 2 / (va ** 2 / (a.length - 1) + vb ** 2 / (b.length - 1));
  return { difference, t, df, p: studentTTwoSidedP(t, df) };
}

/**
 * `P(|T| ≥ |t|)` for Student's t with `df` degrees of freedom (df may be fractional):
 * `I_{df/(df+t²)}(df/2, 1/2)`, the regularized incomplete beta function.
 */
export function studentTTwoSidedP(t: number, df: number): number {
  if (!(df > 0)) throw new RangeError(`studentTTwoSidedP needs df > 0, got ${df}`);
  if (Number.isNaN(t)) throw new RangeError("studentTTwoSidedP got t = NaN");
  if (!Number.isFinite(t)) return 0;
  return regularizedIncompleteBeta(df / (df + t * t), df / 2, 0.5);
}

/**
 * `I_x(a, b) = B(x; a, b) / B(a, b)`, by the continued fraction of Numerical Recipes §6.4
 * (modified Lentz), using the symmetry `I_x(a, b) = 1 − I_{1−x}(b, a)` where it converges faster.
 */
export function regularizedIncompleteBeta(x: number, a: number, b: number): number {
  if (!(a > 0 && b > 0)) throw new RangeError(`regularizedIncompleteBeta needs a, b > 0, got a=${a}, b=${b}`);
  if (!(x >= 0 && x <= 1)) throw new RangeError(`regularizedIncompleteBeta needs 0 ≤ x ≤ 1, got ${x}`);
  if (x === 0 || x === 1) return x;
  const logFront = logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x);
  if (x < (a + 1) / (a + b + 2)) return (Math.exp(logFront) * betaContinuedFraction(x, a, b)) / a;
  return 1 - (Math.exp(logFront) * betaContinuedFraction(1 - x, b, a)) / b;
}

function betaContinuedFraction(x: number, a: number, b: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let result = d;
  for (let m = 1; m <= 300; m++) {
    const m2 = 2 * m;
    // Even step: d_{2m} = m(b − m)x / ((a + 2m − 1)(a + 2m)).
    let coefficient = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + coefficient * d;
    d = Math.abs(d) < tiny ? 1 / tiny : 1 / d;
    c = 1 + coefficient / c;
    if (Math.abs(c) < tiny) c = tiny;
    result *= d * c;
    // Odd step: d_{2m+1} = −(a + m)(a + b + m)x / ((a + 2m)(a + 2m + 1)).
    coefficient = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + coefficient * d;
    d = Math.abs(d) < tiny ? 1 / tiny : 1 / d;
    c = 1 + coefficient / c;
    if (Math.abs(c) < tiny) c = tiny;
    const step = d * c;
    result *= step;
    if (Math.abs(step - 1) < 1e-15) return result;
  }
  return result;
}

// Lanczos coefficients (g = 7, n = 9), accurate to ~15 digits for x > 0.
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** `ln Γ(x)` for x > 0, by the Lanczos approximation (reflection for x < 0.5). */
export function logGamma(x: number): number {
  if (!(x > 0)) throw new RangeError(`logGamma needs x > 0, got ${x}`);
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const z = x - 1;
  let series = LANCZOS[0];
  for (let i = 1; i < LANCZOS.length; i++) series += LANCZOS[i] / (z + i);
  const t = z + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(series);
}
