// Mean, std, Welch's t-test and the t tail against SciPy 1.x values (scipy.stats.ttest_ind, t.sf, beta.cdf).
import { describe, expect, it } from "vitest";
import {
  logGamma,
  mean,
  regularizedIncompleteBeta,
  sampleStd,
  spreadOf,
  studentTTwoSidedP,
  welchTTest,
} from "../src/statistics.ts";

describe("mean and sampleStd", () => {
  it("use Bessel's correction like torch.std", () => {
    expect(mean([1, 2, 3, 4])).toBe(2.5);
    expect(sampleStd([1, 2, 3, 4])).toBeCloseTo(Math.sqrt(5 / 3), 14);
  });

  it("give std 0 for one value and refuse an empty mean", () => {
    expect(sampleStd([0.97])).toBe(0);
    expect(() => mean([])).toThrow("mean of an empty list");
  });

  it("summarise a spread", () => {
    expect(spreadOf([0.9, 0.8, 1])).toEqual({
      mean: expect.closeTo(0.9, 12),
      std: expect.closeTo(0.1, 12),
      min: 0.8,
      max: 1,
      n: 3,
    });
  });
});

describe("studentTTwoSidedP", () => {
  // The two-sided 5% critical values of Student's t (and the normal limit).
  it.each([
    [12.7062, 1],
    [4.302653, 2],
    [2.776445, 4],
    [1.959964, 1e7],
  ])("t = %f with df = %f gives p = 0.05", (t, df) => {
    expect(studentTTwoSidedP(t, df)).toBeCloseTo(0.05, 6);
  });

  it("handles fractional df, t = 0 and t = ∞", () => {
    expect(studentTTwoSidedP(2.5, 3.7)).toBeCloseTo(0.07182202291182678, 12);
    expect(studentTTwoSidedP(0, 3)).toBe(1);
    expect(studentTTwoSidedP(Number.NEGATIVE_INFINITY, 3)).toBe(0);
  });

  it("rejects df ≤ 0 and NaN", () => {
    expect(() => studentTTwoSidedP(1, 0)).toThrow("df > 0, got 0");
    expect(() => studentTTwoSidedP(Number.NaN, 2)).toThrow("t = NaN");
  });
});

describe("regularizedIncompleteBeta and logGamma", () => {
  it("match scipy.stats.beta.cdf and ln Γ", () => {
    expect(regularizedIncompleteBeta(0.3, 2, 3)).toBeCloseTo(0.3483, 12);
    expect(regularizedIncompleteBeta(0.9, 2, 3)).toBeCloseTo(1 - 0.1 ** 3 * (1 + 3 * 0.9), 12);
    expect(logGamma(0.5)).toBeCloseTo(Math.log(Math.sqrt(Math.PI)), 13);
    expect(logGamma(10)).toBeCloseTo(Math.log(362880), 12);
  });

  it.each([
    [1.5, 1, 1, "0 ≤ x ≤ 1, got 1.5"],
    [0.5, 0, 1, "a, b > 0, got a=0, b=1"],
  ])("rejects x=%f a=%f b=%f", (x, a, b, message) => {
    expect(() => regularizedIncompleteBeta(x, a, b)).toThrow(message);
  });
});

describe("welchTTest", () => {
  it.each([
    { a: [1, 2, 3], b: [4, 5, 6.5], t: -3.4125007385087236, df: 3.8059405940594067, p: 0.029145305862049335 },
    {
      a: [0.97, 0.975, 0.972],
      b: [0.96, 0.958, 0.965],
      t: 4.464418717230552,
      df: 3.5749202975557917,
      p: 0.014317801369005618,
    },
  ])("matches scipy.stats.ttest_ind(equal_var=False) on $a vs $b", ({ a, b, t, df, p }) => {
    const result = welchTTest(a, b);
    expect(result.t).toBeCloseTo(t, 10);
    expect(result.df).toBeCloseTo(df, 10);
    expect(result.p).toBeCloseTo(p, 10);
    expect(result.difference).toBeCloseTo(mean(a) - mean(b), 14);
  });

  it("is degenerate but defined when neither group varies", () => {
    expect(welchTTest([0.9, 0.9], [0.8, 0.8])).toMatchObject({ p: 0, t: Number.POSITIVE_INFINITY, df: 2 });
    expect(welchTTest([0.9, 0.9], [0.9, 0.9])).toMatchObject({ p: 1, t: 0 });
  });

  it("needs two values per group", () => {
    expect(() => welchTTest([1], [1, 2])).toThrow("at least 2 values per group, got 1 and 2");
  });
});
