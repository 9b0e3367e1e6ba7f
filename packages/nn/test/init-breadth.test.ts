// truncNormal_ and orthogonal_ (#20): the truncated normal's bounds and moments, and (semi-)orthogonality with R's sign convention.
import { type DType, Generator, manualSeed, matmul, randn, type Tensor, tensor, zeros } from "@normgrad/core";
import "@normgrad/testing";
import { describe, expect, it } from "vitest";
import { init, Parameter } from "../src/index.ts";

/** The standard normal CDF Φ(x), through the erf op. */
function phi(x: number): number {
  return (
    (1 +
      tensor([x * Math.SQRT1_2], { dtype: "float64" })
        .erf()
        .item()) /
    2
  );
}

const density = (x: number) => Math.exp((-x * x) / 2) / Math.sqrt(2 * Math.PI);

/** Mean and std of N(mean, std²) truncated to [a, b] (the closed forms). */
function truncatedMoments(mean: number, std: number, a: number, b: number): { mean: number; std: number } {
  const [alpha, beta] = [(a - mean) / std, (b - mean) / std];
  const z = phi(beta) - phi(alpha);
  const shift = (density(alpha) - density(beta)) / z;
  const variance = 1 + (alpha * density(alpha) - beta * density(beta)) / z - shift * shift;
  return { mean: mean + std * shift, std: std * Math.sqrt(variance) };
}

function stats(values: Float64Array | Float32Array): { min: number; max: number; mean: number; std: number } {
  let [min, max, sum] = [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 0];
  for (const value of values) {
    min = Math.min(min, value);
    max = Math.max(max, value);
    sum += value;
  }
  const mean = sum / values.length;
  let squares = 0;
  for (const value of values) squares += (value - mean) ** 2;
  return { min, max, mean, std: Math.sqrt(squares / values.length) };
}

describe("truncNormal_", () => {
  it.each([
    ["defaults: N(0, 1) on [−2, 2]", {}, { mean: 0, std: 1, a: -2, b: 2 }],
    [
      "N(1, 0.5²) on [0, 3] (asymmetric)",
      { mean: 1, std: 0.5, a: 0, b: 3 },
      { mean: 1, std: 0.5, a: 0, b: 3 },
    ],
    ["N(0, 1) on [1, 1.5] (one side of the mean)", { a: 1, b: 1.5 }, { mean: 0, std: 1, a: 1, b: 1.5 }],
    [
      "N(0, 0.02²) on [−0.04, 0.04] (ViT's)",
      { std: 0.02, a: -0.04, b: 0.04 },
      { mean: 0, std: 0.02, a: -0.04, b: 0.04 },
    ],
  ] as const)("%s: values in [a, b], the truncated mean and std", (_, options, { mean, std, a, b }) => {
    const t = init.truncNormal_(zeros([200, 200], { dtype: "float64" }), {
      ...options,
      generator: new Generator(5),
    });
    const result = stats(t.dataSync() as Float64Array);
    const expected = truncatedMoments(mean, std, a, b);
    expect(result.min).toBeGreaterThanOrEqual(a);
    expect(result.max).toBeLessThanOrEqual(b);
    // 40 000 draws: the sample mean is within 4 standard errors, the std within 2 %.
    expect(Math.abs(result.mean - expected.mean)).toBeLessThan((4 * expected.std) / 200);
    expect(result.std / expected.std).toBeGreaterThan(0.98);
    expect(result.std / expected.std).toBeLessThan(1.02);
  });

  it("fills float32 parameters in place without recording a graph, repeatably from a seed", () => {
    const weight = new Parameter(zeros([4, 5]));
    expect(init.truncNormal_(weight, { generator: new Generator(1) })).toBe(weight);
    expect(weight.isLeaf).toBe(true);
    expect(weight.dtype).toBe("float32");
    expect(init.truncNormal_(zeros([4, 5]), { generator: new Generator(1) }).tolist()).toEqual(
      weight.tolist(),
    );
    manualSeed(2);
    const first = init.truncNormal_(zeros([6])).tolist();
    manualSeed(2);
    expect(init.truncNormal_(zeros([6])).tolist()).toEqual(first);
  });

  it.each([
    ["a ≥ b", { a: 1, b: 1 }, /a 1 must be less than b 1/],
    ["std 0", { std: 0 }, /std must be positive, got 0/],
    ["a NaN mean", { mean: Number.NaN }, /mean must be finite, got NaN/],
  ])("refuses %s", (_, options, message) => {
    expect(() => init.truncNormal_(zeros([2]), options)).toThrow(message);
  });
});

/** `WᵀW` (cols × cols) for a tall W, `WWᵀ` (rows × rows) for a wide one, W the tensor viewed as rows × rest. */
function gram(w: Tensor): Tensor {
  const flat = w.reshape([w.shape[0], -1]);
  return flat.shape[0] >= flat.shape[1]
    ? matmul(flat.transpose(0, 1), flat)
    : matmul(flat, flat.transpose(0, 1));
}

/** The flat values of `scale·I` (size × size). */
function identityTimes(size: number, scale: number): number[] {
  return Array.from({ length: size * size }, (_, k) => (k % (size + 1) === 0 ? scale : 0));
}

describe("orthogonal_", () => {
  const shapes = [
    ["tall [8, 5]", [8, 5]],
    ["wide [3, 7]", [3, 7]],
    ["square [6, 6]", [6, 6]],
    ["conv weight [4, 2, 3, 3] (wide: 4 × 18)", [4, 2, 3, 3]],
    ["[20, 2, 2] (tall: 20 × 4)", [20, 2, 2]],
    ["one row [1, 5]", [1, 5]],
  ] as const;
  const precision: [DType, number][] = [
    ["float64", 1e-12],
    ["float32", 1e-5],
  ];

  describe.each(precision)("%s", (dtype, atol) => {
    it.each(shapes)("%s: WᵀW or WWᵀ = gain²·I", (_, shape) => {
      for (const gain of [1, 2.5]) {
        const w = init.orthogonal_(zeros(shape, { dtype }), { gain, generator: new Generator(11) });
        const g = gram(w.to("float64"));
        expect(g).toBeAllclose(identityTimes(g.shape[0], gain * gain), { rtol: 0, atol: atol * gain * gain });
      }
    });
  });

  it.each([
    ["tall", [7, 4]],
    ["wide", [3, 6]],
  ] as const)("is the Q of the QR decomposition of its N(0, 1) draw with diag(R) > 0 (%s)", (_, shape) => {
    const [rows, cols] = shape;
    const draw = randn([rows, cols], { dtype: "float64", generator: new Generator(3) });
    const q = init.orthogonal_(zeros([rows, cols], { dtype: "float64" }), { generator: new Generator(3) });
    // Tall: A = W·R, so R = Wᵀ·A. Wide: the QR is of Aᵀ = Wᵀ·R, so R = W·Aᵀ.
    const r = (
      rows >= cols ? matmul(q.transpose(0, 1), draw) : matmul(q, draw.transpose(0, 1))
    ).tolist() as number[][];
    r.forEach((row, i) => {
      row.forEach((value, j) => {
        if (j < i) expect(Math.abs(value), `R[${i}][${j}]`).toBeLessThan(1e-12);
      });
      expect(row[i], `R[${i}][${i}]`).toBeGreaterThan(0);
    });
  });

  it("refuses a 1-D tensor, naming its shape; leaves an empty tensor alone", () => {
    expect(() => init.orthogonal_(zeros([5]))).toThrow(
      /only tensors with 2 or more dims are supported, got \[5\]/,
    );
    const empty = zeros([0, 3]);
    expect(init.orthogonal_(empty)).toBe(empty);
  });
});
