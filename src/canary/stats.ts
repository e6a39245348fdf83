// Exact and small-sample statistics for the canary's judge. Pure numbers in,
// numbers out; no dependency. Reference values for each function are in
// test/unit/canary-stats.test.ts (computed with SciPy 1.10).

const EPS = 1e-15;
const TINY = 1e-300;

/** ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9; relative error about 1e-15). */
export function logGamma(x: number): number {
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  const z = x - 1;
  let a = c[0]!;
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += c[i]! / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Continued fraction of the incomplete beta function (modified Lentz). */
function betaCf(a: number, b: number, x: number): number {
  const qab = a + b;
  const qap = a + 1;
  const qam = a - 1;
  let c = 1;
  let d = 1 - (qab * x) / qap;
  if (Math.abs(d) < TINY) d = TINY;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 100_000; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (qab + m) * x) / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + aa / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < EPS) return h;
  }
  return h;
}

/** Regularized incomplete beta I_x(a, b), a, b > 0, 0 <= x <= 1. */
export function betaInc(a: number, b: number, x: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const lnFront = logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log1p(-x);
  if (x < (a + 1) / (a + b + 2)) return (Math.exp(lnFront) * betaCf(a, b, x)) / a;
  return 1 - (Math.exp(lnFront) * betaCf(b, a, 1 - x)) / b;
}

/** P(X >= k) for X ~ Binomial(n, p). */
export function binomUpperTail(n: number, k: number, p: number): number {
  if (k <= 0) return 1;
  if (k > n) return 0;
  if (p <= 0) return 0;
  if (p >= 1) return 1;
  return betaInc(k, n - k + 1, p);
}

/** P(X <= k) for X ~ Binomial(n, p). */
export function binomCdf(n: number, k: number, p: number): number {
  if (k < 0) return 0;
  if (k >= n) return 1;
  return 1 - binomUpperTail(n, k + 1, p);
}

/** Solves f(p) = target for an f increasing in p on [0, 1] (bisection to 1e-12). */
function bisect(f: (p: number) => number, target: number): number {
  let lo = 0;
  let hi = 1;
  for (let i = 0; i < 60 && hi - lo > 1e-12; i++) {
    const mid = (lo + hi) / 2;
    if (f(mid) < target) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/**
 * Clopper-Pearson (exact) one-sided bounds for a binomial proportion, each
 * at error `beta`: P(true p > upper) <= beta, P(true p < lower) <= beta.
 */
export function clopperPearson(x: number, n: number, beta: number): { lower: number; upper: number } {
  if (n === 0) return { lower: 0, upper: 1 };
  const upper = x >= n ? 1 : bisect((p) => binomUpperTail(n, x + 1, p), 1 - beta);
  const lower = x <= 0 ? 0 : bisect((p) => binomUpperTail(n, x, p), beta);
  return { lower, upper };
}

/**
 * Fisher's exact test, one-sided (canary's rate greater): P(X >= xc) for X
 * hypergeometric with the margins fixed (nc + nl requests, xc + xl errors,
 * nc of the requests canary's). As scipy.stats.fisher_exact(..., alternative="greater").
 */
export function fisherGreater(xc: number, nc: number, xl: number, nl: number): number {
  const K = xc + xl;
  const N = nc + nl;
  if (xc <= 0 || K === 0) return 1;
  const hi = Math.min(K, nc);
  const lo = Math.max(0, K - nl);
  if (xc <= lo) return 1;
  const lnC = (a: number, b: number) => logGamma(a + 1) - logGamma(b + 1) - logGamma(a - b + 1);
  const lnTotal = lnC(N, nc);
  let term = Math.exp(lnC(K, xc) + lnC(N - K, nc - xc) - lnTotal);
  let sum = 0;
  for (let x = xc; x <= hi; x++) {
    sum += term;
    // pmf(x + 1) / pmf(x)
    term *= ((K - x) * (nc - x)) / ((x + 1) * (N - K - nc + x + 1));
    if (term < sum * 1e-17) break;
  }
  return Math.min(1, sum);
}

/** P(Z > z) for a standard normal Z, to about 1e-14 relative (erfc through the incomplete gamma function). */
export function normalUpperTail(z: number): number {
  if (Number.isNaN(z)) return NaN;
  if (z < 0) return 1 - normalUpperTail(-z);
  return 0.5 * gammaQHalf((z * z) / 2);
}

/** Q(1/2, x) = erfc(sqrt(x)), the regularized upper incomplete gamma function at a = 1/2. */
function gammaQHalf(x: number): number {
  const a = 0.5;
  if (x === 0) return 1;
  if (x === Infinity) return 0;
  const gln = logGamma(a);
  if (x < a + 1) {
    let sum = 1 / a;
    let del = sum;
    let ap = a;
    for (let n = 0; n < 1000; n++) {
      ap++;
      del *= x / ap;
      sum += del;
      if (Math.abs(del) < Math.abs(sum) * EPS) break;
    }
    return 1 - sum * Math.exp(-x + a * Math.log(x) - gln);
  }
  let b = x + 1 - a;
  let c = 1 / TINY;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 10_000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < TINY) d = TINY;
    c = b + an / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < EPS) break;
  }
  return Math.exp(-x + a * Math.log(x) - gln) * h;
}

/** z with P(Z > z) = p, 0 < p < 1 (Acklam's rational approximation, one Newton step). */
export function normalUpperQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`normalUpperQuantile: p must be in (0, 1), got ${p}`);
  const q = 1 - p; // lower-tail probability
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const tailOf = (t: number) => {
    const r = Math.sqrt(-2 * Math.log(t));
    return (((((c[0]! * r + c[1]!) * r + c[2]!) * r + c[3]!) * r + c[4]!) * r + c[5]!) / ((((d[0]! * r + d[1]!) * r + d[2]!) * r + d[3]!) * r + 1);
  };
  let x: number;
  if (q < 0.02425) x = tailOf(q);
  else if (p < 0.02425) x = -tailOf(p);
  else {
    const s = q - 0.5;
    const r = s * s;
    x = ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * s) / (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1);
  }
  // One Newton step on P(Z > x) = p.
  const e = normalUpperTail(x) - p;
  const dens = Math.exp((-x * x) / 2) / Math.sqrt(2 * Math.PI);
  return x + e / dens;
}

/** Wilson score interval for x of n at normal quantile z. */
export function wilson(x: number, n: number, z: number): [number, number] {
  if (n === 0) return [0, 1];
  const p = x / n;
  const z2 = z * z;
  const centre = p + z2 / (2 * n);
  const half = z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  const den = 1 + z2 / n;
  return [Math.max(0, (centre - half) / den), Math.min(1, (centre + half) / den)];
}

/**
 * Newcombe's hybrid score interval (1998, method 10) for p1 - p2, two-sided,
 * each bound at normal quantile z (z = 2.326 gives a 98% interval).
 */
export function newcombeDifference(x1: number, n1: number, x2: number, n2: number, z: number): [number, number] {
  const p1 = n1 ? x1 / n1 : 0;
  const p2 = n2 ? x2 / n2 : 0;
  const [l1, u1] = wilson(x1, n1, z);
  const [l2, u2] = wilson(x2, n2, z);
  const d = p1 - p2;
  const lower = d - Math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2);
  const upper = d + Math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2);
  return [Math.max(-1, lower), Math.min(1, upper)];
}

/** Distinct ascending values with their counts: a sample as the rank tests and quantiles read it. */
export interface Runs {
  values: Float64Array;
  counts: Float64Array;
  /** cum[i]: how many values are <= values[i]. */
  cum: Float64Array;
  n: number;
}

function runsFrom(values: Float64Array, counts: Float64Array): Runs {
  const cum = new Float64Array(values.length);
  let t = 0;
  for (let i = 0; i < values.length; i++) cum[i] = t += counts[i]!;
  return { values, counts, cum, n: t };
}

/** Runs of an ascending array. */
export function runsOfSorted(sorted: ArrayLike<number>): Runs {
  const v: number[] = [];
  const c: number[] = [];
  for (let i = 0; i < sorted.length; i++) {
    if (v.length && v[v.length - 1] === sorted[i]) c[c.length - 1]!++;
    else {
      v.push(sorted[i]!);
      c.push(1);
    }
  }
  return runsFrom(Float64Array.from(v), Float64Array.from(c));
}

/**
 * Runs of any values; NaN, infinite and negative ones are left out (and
 * counted). Whole milliseconds, as nginx logs them, are counted into
 * buckets without a sort (O(n)); other values are sorted.
 */
export function runsOf(values: readonly number[]): { runs: Runs; dropped: number } {
  let dropped = 0;
  let buckets = new Uint32Array(4096);
  let max = -1;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!(v >= 0 && v !== Infinity)) {
      dropped++;
      continue;
    }
    const r = Math.round(v * 1000);
    if (r / 1000 !== v || r > 10_000_000) return runsBySort(values);
    if (r >= buckets.length) {
      const grown = new Uint32Array(Math.max(r + 1, buckets.length * 2));
      grown.set(buckets);
      buckets = grown;
    }
    buckets[r]!++;
    if (r > max) max = r;
  }
  let distinct = 0;
  for (let i = 0; i <= max; i++) if (buckets[i]) distinct++;
  const vals = new Float64Array(distinct);
  const counts = new Float64Array(distinct);
  for (let i = 0, k = 0; i <= max; i++)
    if (buckets[i]) {
      vals[k] = i / 1000;
      counts[k++] = buckets[i]!;
    }
  return { runs: runsFrom(vals, counts), dropped };
}

function runsBySort(values: readonly number[]): { runs: Runs; dropped: number } {
  const kept = new Float64Array(values.length);
  let k = 0;
  for (const v of values) if (Number.isFinite(v) && v >= 0) kept[k++] = v;
  return { runs: runsOfSorted(kept.subarray(0, k).sort()), dropped: values.length - k };
}

/** The k-th smallest value (1-based) of runs. */
export function kth(r: Runs, k: number): number {
  let lo = 0;
  let hi = r.values.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (r.cum[mid]! >= k) hi = mid;
    else lo = mid + 1;
  }
  return r.values[lo]!;
}

/** How many values of runs are above x. */
export function countAbove(r: Runs, x: number): number {
  let lo = 0;
  let hi = r.values.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (r.values[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo === 0 ? r.n : r.n - r.cum[lo - 1]!;
}

/** Nearest-rank q-quantile of runs (0 when empty). */
export function runsQuantile(r: Runs, q: number): number {
  return r.n === 0 ? 0 : kth(r, Math.max(1, Math.ceil(q * r.n)));
}

/**
 * One-sided Mann-Whitney U test that canary values tend to be larger than
 * `scale` * live + `shift` (normal approximation with tie correction and
 * continuity correction, as scipy.stats.mannwhitneyu(...,
 * alternative="greater", method="asymptotic")). The transform keeps live's
 * order, so the two runs merge in O(distinct values).
 */
export function mannWhitneyGreaterRuns(canary: Runs, live: Runs, scale = 1, shift = 0): { u: number; z: number; pValue: number } {
  const n1 = canary.n;
  const n2 = live.n;
  if (n1 === 0 || n2 === 0) return { u: NaN, z: NaN, pValue: 1 };
  const k1 = canary.values.length;
  const k2 = live.values.length;
  let i = 0;
  let j = 0;
  let pos = 0;
  let rankSum = 0;
  let tieTerm = 0;
  while (i < k1 || j < k2) {
    const cv = i < k1 ? canary.values[i]! : Infinity;
    const lv = j < k2 ? live.values[j]! * scale + shift : Infinity;
    const v = Math.min(cv, lv);
    const a = cv === v ? canary.counts[i++]! : 0;
    const b = lv === v ? live.counts[j++]! : 0;
    const t = a + b;
    rankSum += a * (pos + (t + 1) / 2);
    tieTerm += t * t * t - t;
    pos += t;
  }
  const u = rankSum - (n1 * (n1 + 1)) / 2;
  const n = n1 + n2;
  const variance = ((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1)));
  if (!(variance > 0)) return { u, z: 0, pValue: 1 };
  const z = (u - (n1 * n2) / 2 - 0.5) / Math.sqrt(variance);
  return { u, z, pValue: normalUpperTail(z) };
}

/** The same on ascending arrays. */
export function mannWhitneyGreaterSorted(canary: ArrayLike<number>, live: ArrayLike<number>, scale = 1, shift = 0): { u: number; z: number; pValue: number } {
  return mannWhitneyGreaterRuns(runsOfSorted(canary), runsOfSorted(live), scale, shift);
}

/**
 * Index (1-based) of the order statistic that is an upper confidence bound
 * for the q-quantile: the smallest j with P(X_(j) < quantile) <= beta, i.e.
 * P(Binomial(n, q) >= j) <= beta. null when even the largest is not enough.
 */
export function quantileUpperIndex(n: number, q: number, beta: number): number | null {
  if (n === 0 || binomUpperTail(n, n, q) > beta) return null;
  let lo = 1;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (binomUpperTail(n, mid, q) <= beta) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** The lower counterpart: the largest i with P(X_(i) > quantile) <= beta, i.e. P(Binomial(n, q) <= i - 1) <= beta. */
export function quantileLowerIndex(n: number, q: number, beta: number): number | null {
  if (n === 0 || binomCdf(n, 0, q) > beta) return null;
  let lo = 1;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (binomCdf(n, mid - 1, q) <= beta) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

