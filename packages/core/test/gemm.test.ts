// The CPU matmul kernel on odd sizes (not multiples of its 4×4 tiles or 64×256 blocks) against a naive triple loop.
import { describe, expect, it } from "vitest";
import { gemm } from "../src/cpu/gemm.ts";
import { Generator, type Tensor, tensor } from "../src/index.ts";

function randomArray(length: number, seed: number): Float64Array {
  const generator = new Generator(seed);
  return Float64Array.from({ length }, () => generator.normal());
}

/** C += A·B with the same summation order as the kernel (ascending k), rounding each step like `c`. */
function naiveGemm(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  c: Float32Array | Float64Array,
  m: number,
  k: number,
  n: number,
) {
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      for (let p = 0; p < k; p++) c[i * n + j] += a[i * k + p] * b[p * n + j];
    }
  }
}

const SIZES: readonly { m: number; k: number; n: number }[] = [
  { m: 1, k: 1, n: 1 },
  { m: 2, k: 3, n: 5 },
  { m: 4, k: 4, n: 4 },
  { m: 3, k: 1, n: 7 },
  { m: 7, k: 129, n: 1 },
  { m: 5, k: 130, n: 257 },
  { m: 9, k: 257, n: 3 },
  { m: 6, k: 0, n: 2 },
  { m: 0, k: 3, n: 2 },
];

describe("gemm", () => {
  it.each(SIZES)("C += A·B for m $m, k $k, n $n in float64 matches a triple loop exactly", ({ m, k, n }) => {
    const a = randomArray(m * k, 1);
    const b = randomArray(k * n, 2);
    const c = randomArray(m * n, 3);
    const expected = c.slice();
    naiveGemm(a, b, expected, m, k, n);
    gemm(a, b, c, m, k, n);
    expect(c).toEqual(expected);
  });

  // The kernel sums in float64 registers and rounds to float32 once per depth block, so it is
  // compared with the exact (float64) sum, to float32 precision relative to Σ|c| + Σ|a·b|.
  it.each(SIZES)(
    "C += A·B for m $m, k $k, n $n in float32 matches a float64 triple loop to float32 precision",
    ({ m, k, n }) => {
      const a = Float32Array.from(randomArray(m * k, 4));
      const b = Float32Array.from(randomArray(k * n, 5));
      const c = Float32Array.from(randomArray(m * n, 6));
      const expected = Float64Array.from(c);
      naiveGemm(a, b, expected, m, k, n);
      const scale = Float64Array.from(c, Math.abs);
      naiveGemm(a.map(Math.abs), b.map(Math.abs), scale, m, k, n);
      gemm(a, b, c, m, k, n);
      const worst = Math.max(0, ...c.map((value, i) => Math.abs(value - expected[i]) / scale[i]));
      expect(worst).toBeLessThan(2 ** -23);
    },
  );
});

describe("Tensor.matmul on the CPU backend", () => {
  const asTensor = (values: Float64Array, shape: number[]): Tensor => tensor(values, { shape });

  it.each<{ name: string; a: (x: Tensor) => Tensor; b: (y: Tensor) => Tensor }>([
    { name: "contiguous operands", a: (x) => x, b: (y) => y },
    { name: "transposed operands", a: (x) => x.mT.contiguous().mT, b: (y) => y.mT.contiguous().mT },
    {
      name: "sliced operands",
      a: (x) => x.pad([1, 2, 0, 1]).narrow(0, 0, 5).narrow(1, 1, 130),
      b: (y) => y.pad([0, 3]).narrow(1, 0, 257),
    },
  ])("5×130 @ 130×257 with $name matches a triple loop (float64)", ({ a, b }) => {
    const [m, k, n] = [5, 130, 257];
    const left = randomArray(m * k, 7);
    const right = randomArray(k * n, 8);
    const expected = new Float64Array(m * n);
    naiveGemm(left, right, expected, m, k, n);
    const product = a(asTensor(left, [m, k])).matmul(b(asTensor(right, [k, n])));
    expect(product.shape).toEqual([m, n]);
    expect(product.dataSync()).toEqual(expected);
  });

  it("multiplies int32 exactly above 2²⁴ (where float32 would round)", () => {
    const product = tensor([[16_777_217, 3]], { dtype: "int32" }).matmul(
      tensor([[1], [1]], { dtype: "int32" }),
    );
    expect([product.dtype, product.tolist()]).toEqual(["int32", [[16_777_220]]]);
  });

  it("computes each batch of a broadcast batched product", () => {
    const left = randomArray(2 * 3 * 4, 9);
    const right = randomArray(4 * 5, 10);
    const product = asTensor(left, [2, 3, 4])
      .matmul(asTensor(right, [4, 5]))
      .dataSync();
    for (let batch = 0; batch < 2; batch++) {
      const expected = new Float64Array(15);
      naiveGemm(left.subarray(batch * 12, batch * 12 + 12), right, expected, 3, 4, 5);
      expect(product.subarray(batch * 15, batch * 15 + 15)).toEqual(expected);
    }
  });
});
