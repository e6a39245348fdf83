import { describe, expect, it } from "vitest";
import {
  binomCdf,
  binomUpperTail,
  clopperPearson,
  countAbove,
  fisherGreater,
  kth,
  mannWhitneyGreaterRuns,
  mannWhitneyGreaterSorted,
  newcombeDifference,
  normalUpperQuantile,
  normalUpperTail,
  quantileLowerIndex,
  quantileUpperIndex,
  runsOf,
  runsOfSorted,
  runsQuantile,
} from "../../src/canary/stats.js";

// Reference values: SciPy 1.10.1 (Debian 12's python3-scipy), computed on this
// machine with the calls named beside each case.
const close = (got: number, want: number, rel = 1e-9) => expect(Math.abs(got - want)).toBeLessThanOrEqual(Math.abs(want) * rel + 1e-300);

describe("binomial tails (scipy.stats.binom.sf(k - 1, n, p), binom.cdf(k, n, p))", () => {
  it.each([
    [200, 6, 0.01, 0.01602290690917754],
    [5000, 1, 0.0001, 0.3934845043752552],
    [600, 12, 0.01, 0.019529678239026526],
    [54000, 650, 0.01, 2.149761189748022e-6],
    [10, 10, 0.5, 0.0009765625],
    [1000, 80, 0.02, 7.234575543867819e-25],
    [300, 30, 0.05, 0.0002817940323091695],
    [300, 15, 0.05, 0.536983409254929],
  ])("P(Bin(%i, p) >= %i) at p=%f", (n, k, p, want) => close(binomUpperTail(n, k, p), want));

  it("cdf and the edges", () => {
    close(binomCdf(200, 0, 0.01), 0.13397967485796192);
    close(binomCdf(1000, 950, 0.95), 0.5202589429126812);
    expect(binomUpperTail(10, 0, 0.3)).toBe(1);
    expect(binomUpperTail(10, 11, 0.3)).toBe(0);
    expect(binomUpperTail(10, 1, 0)).toBe(0);
    expect(binomUpperTail(10, 10, 1)).toBe(1);
  });
});

describe("Fisher's exact test, one-sided (scipy.stats.fisher_exact([[xc, nc - xc], [xl, nl - xl]], alternative='greater'))", () => {
  it.each([
    [6, 200, 0, 200, 0.015042029075494588],
    [1, 1, 0, 200, 0.004975124378109453],
    [1, 5000, 0, 50000, 0.09090909090909091],
    [80, 1000, 20, 10000, 2.3843897881112076e-65],
    [12, 600, 54, 5400, 0.02870147893330029],
    [3, 1000, 30, 10000, 0.587837059692523],
  ])("%i/%i vs %i/%i", (xc, nc, xl, nl, want) => close(fisherGreater(xc, nc, xl, nl), want, 1e-8));

  it("no canary errors, or none at all: 1", () => {
    expect(fisherGreater(0, 100, 5, 100)).toBe(1);
    expect(fisherGreater(0, 0, 0, 0)).toBe(1);
  });
});

describe("normal distribution (scipy.stats.norm.sf, norm.isf)", () => {
  it.each([
    [0, 0.5],
    [1.6449, 0.04999521746834631],
    [-1.6449, 0.9500047825316537],
    [3, 0.0013498980316300933],
    [5, 2.866515718791933e-7],
    [8, 6.22096057427174e-16],
    [12, 1.776482112077653e-33],
  ])("P(Z > %f)", (z, want) => close(normalUpperTail(z), want, 1e-12));

  it.each([
    [0.5, 0],
    [0.01, 2.3263478740408408],
    [1e-5, 4.264890793922825],
    [1e-9, 5.9978070150076865],
    [0.99, -2.3263478740408408],
    [0.3, 0.5244005127080409],
  ])("z for an upper tail of %f", (p, want) => expect(normalUpperQuantile(p)).toBeCloseTo(want, 12));

  it("refuses a probability outside (0, 1)", () => {
    expect(() => normalUpperQuantile(0)).toThrow(/p must be in \(0, 1\), got 0/);
    expect(() => normalUpperQuantile(NaN)).toThrow(/got NaN/);
    expect(normalUpperTail(NaN)).toBeNaN();
  });
});

describe("Clopper-Pearson bounds (scipy.stats.beta.ppf(b, x, n - x + 1), beta.ppf(1 - b, x + 1, n - x))", () => {
  it.each([
    [0, 200, 0.01, 0, 0.022762779044189316],
    [6, 200, 0.01, 0.008999102802133433, 0.07130349964348473],
    [54, 5400, 1e-5, 0.005230878869557129, 0.017071283471742745],
    [200, 200, 0.05, 0.9851329607687279, 1],
  ])("%i of %i at %f", (x, n, b, lower, upper) => {
    const r = clopperPearson(x, n, b);
    expect(r.lower).toBeCloseTo(lower, 10);
    expect(r.upper).toBeCloseTo(upper, 10);
  });
  it("no requests: no bound", () => expect(clopperPearson(0, 0, 0.01)).toEqual({ lower: 0, upper: 1 }));
});

describe("Newcombe's difference interval (method 10 from scipy.stats.binomtest(x, n).proportion_ci(0.98, method='wilson'))", () => {
  it("6/200 vs 54/5400 and 0/200 vs 3/1000 at 98%", () => {
    const z = normalUpperQuantile(0.01);
    const [a, b] = newcombeDifference(6, 200, 54, 5400, z);
    expect(a).toBeCloseTo(0.0016783019240291797, 10);
    expect(b).toBeCloseTo(0.06279969157119047, 10);
    const [c, d] = newcombeDifference(0, 200, 3, 1000, z);
    expect(c).toBeCloseTo(-0.010497755571142929, 10);
    expect(d).toBeCloseTo(0.023433907475523055, 10);
  });
});

describe("Mann-Whitney U, one-sided (scipy.stats.mannwhitneyu(c, l, alternative='greater', method='asymptotic', use_continuity=True))", () => {
  const c = [0.012, 0.015, 0.013, 0.02, 0.011, 0.018, 0.016, 0.014, 0.022, 0.019, 0.013, 0.017].sort((a, b) => a - b);
  const l = [0.01, 0.012, 0.011, 0.013, 0.009, 0.015, 0.012, 0.011, 0.014, 0.01, 0.013, 0.012, 0.011, 0.016].sort((a, b) => a - b);
  it("U and p with ties between the sides", () => {
    const r = mannWhitneyGreaterSorted(c, l);
    expect(r.u).toBe(139.5);
    close(r.pValue, 0.0022172207495315677, 1e-10);
  });
  it("against live x1.1 + 1 ms (scipy on l * 1.1 + 0.001)", () => {
    const r = mannWhitneyGreaterSorted(c, l, 1.1, 0.001);
    expect(r.u).toBe(102);
    close(r.pValue, 0.1834581281378162, 1e-10);
  });
  it("many ties within and across the sides", () => {
    const r = mannWhitneyGreaterSorted([1, 1, 2, 2, 3, 3, 3, 4], [1, 1, 1, 2, 2, 2, 3]);
    expect(r.u).toBe(38.5);
    close(r.pValue, 0.11262645318032655, 1e-10);
  });
  it("runs read in milliseconds and by sorting give the same test", () => {
    const ms = runsOf(c).runs;
    const sorted = runsOfSorted(c);
    expect(Array.from(ms.values)).toEqual(Array.from(sorted.values));
    expect(mannWhitneyGreaterRuns(ms, runsOf(l).runs).pValue).toBe(mannWhitneyGreaterSorted(c, l).pValue);
    // Not whole milliseconds: the sorted path.
    const odd = runsOf([0.0125, 0.0105, 0.0125]).runs;
    expect(Array.from(odd.values)).toEqual([0.0105, 0.0125]);
    expect(Array.from(odd.counts)).toEqual([1, 2]);
  });
  it("an empty side gives p = 1, all ties give p = 1", () => {
    expect(mannWhitneyGreaterSorted([], [1]).pValue).toBe(1);
    expect(mannWhitneyGreaterSorted([1, 1], [1, 1]).pValue).toBe(1);
  });
});

describe("quantile order statistics (smallest j with scipy.stats.binom.sf(j - 1, n, q) <= b; largest i with binom.cdf(i - 1, n, q) <= b)", () => {
  it("upper and lower confidence indexes", () => {
    expect(quantileUpperIndex(200, 0.95, 0.005)).toBe(198);
    expect(quantileUpperIndex(1000, 0.5, 0.005)).toBe(542);
    expect(quantileUpperIndex(20, 0.95, 0.01)).toBeNull();
    expect(quantileLowerIndex(200, 0.95, 0.005)).toBe(181);
    expect(quantileLowerIndex(1000, 0.5, 0.005)).toBe(459);
    expect(quantileLowerIndex(20, 0.5, 0.01)).toBe(5);
    expect(quantileUpperIndex(0, 0.5, 0.01)).toBeNull();
  });
  it("runs: k-th value, count above, nearest-rank quantile", () => {
    const r = runsOf([0.003, 0.001, 0.002, 0.002, 0.005]).runs;
    expect([1, 2, 3, 4, 5].map((k) => kth(r, k))).toEqual([0.001, 0.002, 0.002, 0.003, 0.005]);
    expect(countAbove(r, 0.002)).toBe(2);
    expect(countAbove(r, 0)).toBe(5);
    expect(countAbove(r, 0.005)).toBe(0);
    expect(runsQuantile(r, 0.95)).toBe(0.005);
    expect(runsQuantile(runsOf([]).runs, 0.5)).toBe(0);
  });
  it("NaN, infinite and negative latencies are left out and counted", () => {
    const { runs, dropped } = runsOf([0.01, NaN, Infinity, -Infinity, -0.001, 0.02]);
    expect(dropped).toBe(4);
    expect(Array.from(runs.values)).toEqual([0.01, 0.02]);
    expect(runsOf([0.0101, NaN]).dropped).toBe(1);
  });
});
