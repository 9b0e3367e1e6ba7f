// Seeded randomness: determinism per seed, explicit vs global generators, ranges and rough N(0, 1) moments.
import { describe, expect, it } from "vitest";
import {
  defaultGenerator,
  Generator,
  manualSeed,
  type RandomOptions,
  rand,
  randint,
  randLike,
  randn,
  randnLike,
  randperm,
  type Tensor,
  tensor,
} from "../src/index.ts";

const DRAWS: readonly { name: string; draw: (options?: RandomOptions) => Tensor }[] = [
  { name: "rand", draw: (options) => rand([3, 4], options) },
  { name: "randn", draw: (options) => randn([5], options) },
  { name: "randint", draw: (options) => randint(-5, 100, [7], options) },
  { name: "randperm", draw: (options) => randperm(20, options) },
];

describe.each(DRAWS)("$name", ({ draw }) => {
  it("gives the same numbers for the same global seed, and moves on between draws", () => {
    manualSeed(42);
    const first = draw().tolist();
    const second = draw().tolist();
    manualSeed(42);
    expect(draw().tolist()).toEqual(first);
    expect(draw().tolist()).toEqual(second);
    expect(second).not.toEqual(first);
  });

  it("gives the same numbers from an explicit Generator as from manualSeed, without touching the global one", () => {
    manualSeed(7);
    const global = draw().tolist();
    manualSeed(1);
    const untouched = draw().tolist();
    manualSeed(1);
    expect(draw({ generator: new Generator(7) }).tolist()).toEqual(global);
    expect(draw().tolist()).toEqual(untouched);
  });

  it("gives different numbers for different seeds", () => {
    expect(draw({ generator: new Generator(1) }).tolist()).not.toEqual(
      draw({ generator: new Generator(2) }).tolist(),
    );
  });
});

describe("Generator", () => {
  it("restarts its stream with manualSeed and reports the seed", () => {
    const generator = new Generator(3);
    const first = [generator.random(), generator.normal(), generator.normal(), generator.integer(0, 10)];
    expect(generator.manualSeed(3)).toBe(generator);
    expect([generator.random(), generator.normal(), generator.normal(), generator.integer(0, 10)]).toEqual(
      first,
    );
    expect(generator.initialSeed()).toBe(3);
    expect(manualSeed(9)).toBe(defaultGenerator());
    expect(defaultGenerator().initialSeed()).toBe(9);
  });

  it("continues one stream across draws of odd sizes (the spare Box–Muller value is kept)", () => {
    const generator = new Generator(5);
    const halves = [randn([3], { generator }), randn([3], { generator })].flatMap((t) =>
      Array.from(t.dataSync()),
    );
    expect(halves).toEqual(Array.from(randn([6], { generator: new Generator(5) }).dataSync()));
  });

  it("draws on the host in double precision, so float32 is the rounded float64 stream", () => {
    const double = rand([4], { dtype: "float64", generator: new Generator(11) }).dataSync();
    const single = rand([4], { generator: new Generator(11) }).dataSync();
    expect(Array.from(single)).toEqual(Array.from(double, Math.fround));
  });
});

describe("distributions", () => {
  const moments = (values: ArrayLike<number>) => {
    const n = values.length;
    let mean = 0;
    for (let i = 0; i < n; i++) mean += values[i] / n;
    let [m2, m3, m4, withinOne] = [0, 0, 0, 0];
    for (let i = 0; i < n; i++) {
      const d = values[i] - mean;
      m2 += (d * d) / n;
      m3 += (d * d * d) / n;
      m4 += (d * d * d * d) / n;
      if (Math.abs(values[i]) < 1) withinOne++;
    }
    return { mean, variance: m2, skewness: m3 / m2 ** 1.5, kurtosis: m4 / m2 ** 2, withinOne: withinOne / n };
  };

  it("randn on 10 000 samples has roughly the moments of N(0, 1)", () => {
    // Standard errors at n = 10⁴: mean 0.01, variance 0.014, skewness 0.024, kurtosis 0.049, P(|x|<1) 0.005.
    const { mean, variance, skewness, kurtosis, withinOne } = moments(
      randn([10_000], { dtype: "float64", generator: new Generator(2024) }).dataSync(),
    );
    expect(Math.abs(mean)).toBeLessThan(0.05);
    expect(Math.abs(variance - 1)).toBeLessThan(0.07);
    expect(Math.abs(skewness)).toBeLessThan(0.12);
    expect(Math.abs(kurtosis - 3)).toBeLessThan(0.25);
    expect(Math.abs(withinOne - 0.6827)).toBeLessThan(0.025);
  });

  it("rand lies in [0, 1) with mean about 1/2 and variance about 1/12", () => {
    const values = rand([10_000], { dtype: "float64", generator: new Generator(8) }).dataSync();
    expect(Math.min(...values)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...values)).toBeLessThan(1);
    const { mean, variance } = moments(values);
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.015);
    expect(Math.abs(variance - 1 / 12)).toBeLessThan(0.005);
  });

  it("randint covers [low, high) and nothing else, as int32", () => {
    const values = randint(-3, 4, [2000], { generator: new Generator(4) });
    expect(values.dtype).toBe("int32");
    expect(new Set(values.dataSync()).size).toBe(7);
    expect(Math.min(...values.dataSync())).toBe(-3);
    expect(Math.max(...values.dataSync())).toBe(3);
    expect(randint(0, 1, [5]).tolist()).toEqual([0, 0, 0, 0, 0]);
    expect(randint(0, 3, [2], { dtype: "float64" }).dtype).toBe("float64");
  });

  it.each([
    { low: 3, high: 3 },
    { low: 5, high: 1 },
    { low: 0.5, high: 3 },
  ])("randint refuses low $low, high $high", ({ low, high }) => {
    expect(() => randint(low, high, [2])).toThrow(
      `randint needs integers low < high, got low ${low}, high ${high}`,
    );
  });

  it("randperm is a permutation of 0..n−1", () => {
    const permutation = randperm(50, { generator: new Generator(6) });
    expect(permutation.dtype).toBe("int32");
    expect(Array.from(permutation.dataSync()).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 50 }, (_, i) => i),
    );
    expect(permutation.tolist()).not.toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect([randperm(0).tolist(), randperm(1).tolist()]).toEqual([[], [0]]);
  });

  it("randLike and randnLike take the shape and dtype of their model; options set requiresGrad", () => {
    const like = tensor([[1, 2, 3]], { dtype: "float64" });
    for (const t of [randLike(like), randnLike(like)])
      expect([t.shape, t.dtype]).toEqual([[1, 3], "float64"]);
    expect(randnLike(like, { dtype: "float32" }).dtype).toBe("float32");
    expect(randn([2], { requiresGrad: true }).requiresGrad).toBe(true);
  });
});
