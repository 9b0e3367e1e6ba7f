// The WebAssembly SIMD float32 matmul (and its JS fallback) against a float64 triple loop, on sizes straddling every block.
import { afterEach, describe, expect, it } from "vitest";
import type { Conv2dKernelParams } from "../src/backend.ts";
import { conv2dForward, conv2dInputGrad, conv2dWeightGrad } from "../src/cpu/conv2d.ts";
import {
  canUseWasmGemm,
  configureWasmGemm,
  gemmPreferringWasm,
  type MatrixOperand,
  PANEL_COLUMNS,
  PANEL_ROWS,
  type PackOperand,
  packRowPanelsOnce,
  wasmGemm,
} from "../src/cpu/wasm-gemm.ts";
import { Generator, tensor } from "../src/index.ts";

function randomArray(length: number, seed: number): Float32Array {
  const generator = new Generator(seed);
  return Float32Array.from({ length }, () => generator.normal());
}

/** C + A·B in float64 for strided A and B, and the same with |·| everywhere (the scale of its rounding error). */
function exactProduct(
  a: MatrixOperand,
  b: MatrixOperand,
  c: ArrayLike<number>,
  m: number,
  k: number,
  n: number,
): { expected: Float64Array; scale: Float64Array } {
  const expected = Float64Array.from(c);
  const scale = Float64Array.from(c, Math.abs);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      for (let p = 0; p < k; p++) {
        const product =
          a.data[a.offset + i * a.rowStride + p * a.colStride] *
          b.data[b.offset + p * b.rowStride + j * b.colStride];
        expected[i * n + j] += product;
        scale[i * n + j] += Math.abs(product);
      }
    }
  }
  return { expected, scale };
}

/**
 * The largest error relative to float32 precision of the scale, over √k: a float32 sum of k
 * terms rounds k times, and random-signed rounding errors grow like √k (worst case k).
 */
function worstError(actual: Float32Array, { expected, scale }: ReturnType<typeof exactProduct>, k: number) {
  let worst = 0;
  for (let i = 0; i < actual.length; i++) {
    const error = Math.abs(actual[i] - expected[i]) / (scale[i] * 2 ** -24 * Math.sqrt(Math.max(k, 1)));
    if (error > worst) worst = error;
  }
  return worst;
}

const contiguous = (data: ArrayLike<number>, columns: number): MatrixOperand => ({
  data,
  offset: 0,
  rowStride: columns,
  colStride: 1,
});

// Tiles are 4 rows × 8 columns, depth blocks 256, column blocks 32 panels (256 columns).
const SIZES: readonly { m: number; k: number; n: number }[] = [
  { m: 1, k: 1, n: 1 },
  { m: 2, k: 3, n: 5 },
  { m: 4, k: 1, n: 8 },
  { m: 3, k: 7, n: 9 },
  { m: 5, k: 16, n: 7 },
  { m: 8, k: 255, n: 16 },
  { m: 4, k: 256, n: 8 },
  { m: 9, k: 257, n: 15 },
  { m: 7, k: 513, n: 33 },
  { m: 6, k: 20, n: 255 },
  { m: 3, k: 9, n: 256 },
  { m: 11, k: 31, n: 257 },
  { m: 5, k: 130, n: 257 },
  { m: 13, k: 300, n: 520 },
  { m: 300, k: 600, n: 200 },
  { m: 6, k: 0, n: 2 },
  { m: 0, k: 3, n: 2 },
  { m: 2, k: 3, n: 0 },
];

const KERNELS = [
  { kernel: "wasm SIMD", enabled: true },
  { kernel: "JS fallback", enabled: false },
];

afterEach(() => configureWasmGemm({ enabled: true }));

describe.each(KERNELS)("gemmPreferringWasm on the $kernel kernel", ({ enabled }) => {
  it.each(SIZES)("C += A·B for m $m, k $k, n $n matches a float64 triple loop", ({ m, k, n }) => {
    configureWasmGemm({ enabled });
    expect(canUseWasmGemm(m, k, n)).toBe(enabled);
    const a = randomArray(m * k, 1);
    const b = randomArray(k * n, 2);
    const c = randomArray(m * n, 3);
    const exact = exactProduct(contiguous(a, k), contiguous(b, n), c, m, k, n);
    gemmPreferringWasm(a, b, c, m, k, n);
    expect(worstError(c, exact, k)).toBeLessThan(4);
  });

  it("leaves float64 products exact (they always take the JS kernel)", () => {
    configureWasmGemm({ enabled });
    const [m, k, n] = [5, 37, 9];
    const a = Float64Array.from(randomArray(m * k, 4));
    const b = Float64Array.from(randomArray(k * n, 5));
    const c = new Float64Array(m * n);
    const { expected } = exactProduct(contiguous(a, k), contiguous(b, n), c, m, k, n);
    gemmPreferringWasm(a, b, c, m, k, n);
    expect(c).toEqual(expected);
  });
});

describe("wasmGemm", () => {
  it.each([
    { case: "transposed A", transposeA: true, transposeB: false },
    { case: "transposed B", transposeA: false, transposeB: true },
    { case: "both transposed", transposeA: true, transposeB: true },
  ])("reads strided operands with offsets ($case)", ({ transposeA, transposeB }) => {
    const [m, k, n] = [10, 270, 19];
    const offset = 3;
    const aData = randomArray(offset + m * k, 6);
    const bData = randomArray(offset + k * n, 7);
    const a: MatrixOperand = transposeA
      ? { data: aData, offset, rowStride: 1, colStride: m }
      : { data: aData, offset, rowStride: k, colStride: 1 };
    const b: MatrixOperand = transposeB
      ? { data: bData, offset, rowStride: 1, colStride: k }
      : { data: bData, offset, rowStride: n, colStride: 1 };
    const c = new Float32Array(m * n);
    const exact = exactProduct(a, b, c, m, k, n);
    wasmGemm(a, b, c, m, k, n);
    expect(worstError(c, exact, k)).toBeLessThan(4);
  });

  it("gives the same result when called again with smaller and larger sizes (memory reuse and growth)", () => {
    const run = (m: number, k: number, n: number, seed: number) => {
      const a = randomArray(m * k, seed);
      const b = randomArray(k * n, seed + 1);
      const c = new Float32Array(m * n);
      wasmGemm(contiguous(a, k), contiguous(b, n), c, m, k, n);
      return c;
    };
    const first = run(5, 40, 11, 8);
    run(400, 700, 300, 10);
    expect(run(5, 40, 11, 8)).toEqual(first);
  });

  it("takes packers that write the packed panels themselves, and overwrites C unread when not accumulating", () => {
    const [m, k, n] = [6, 300, 19];
    const a = randomArray(m * k, 16);
    const b = randomArray(k * n, 17);
    const packA: PackOperand = (memory, start) => {
      for (let i = 0; i < m; i++) {
        for (let p = 0; p < k; p++) {
          memory[start + (Math.floor(i / PANEL_ROWS) * k + p) * PANEL_ROWS + (i % PANEL_ROWS)] = a[i * k + p];
        }
      }
    };
    const packB: PackOperand = (memory, start) => {
      for (let p = 0; p < k; p++) {
        for (let j = 0; j < n; j++) {
          memory[start + (Math.floor(j / PANEL_COLUMNS) * k + p) * PANEL_COLUMNS + (j % PANEL_COLUMNS)] =
            b[p * n + j];
        }
      }
    };
    const exact = exactProduct(contiguous(a, k), contiguous(b, n), new Float32Array(m * n), m, k, n);
    const c = new Float32Array(m * n).fill(Number.NaN);
    wasmGemm(packA, packB, c, m, k, n, { accumulate: false });
    expect(worstError(c, exact, k)).toBeLessThan(4);
    const once = packRowPanelsOnce(contiguous(a, k), m, k);
    const again = new Float32Array(m * n).fill(Number.NaN);
    wasmGemm(once, contiguous(b, n), again, m, k, n, { accumulate: false });
    expect(again).toEqual(c);
    wasmGemm(once, contiguous(b, 0), again, m, 0, n, { accumulate: false });
    expect(again).toEqual(new Float32Array(m * n));
  });

  it("gathers an operand through an index table, −1 reading zero", () => {
    const [m, k, n] = [5, 40, 11];
    const a = randomArray(m * k, 18);
    // B[p, j] = source[(p·n + j) mod 97], or 0 on the diagonal-ish entries where (p + j) mod 7 is 0.
    const source = randomArray(97, 19);
    const b = Float32Array.from({ length: k * n }, (_, i) =>
      (Math.floor(i / n) + (i % n)) % 7 === 0 ? 0 : source[i % 97],
    );
    const panels = Math.ceil(n / PANEL_COLUMNS);
    const indices = new Int32Array(panels * k * PANEL_COLUMNS).fill(-1);
    for (let p = 0; p < k; p++) {
      for (let j = 0; j < n; j++) {
        const at = (Math.floor(j / PANEL_COLUMNS) * k + p) * PANEL_COLUMNS + (j % PANEL_COLUMNS);
        indices[at] = (p + j) % 7 === 0 ? -1 : (p * n + j) % 97;
      }
    }
    const expected = new Float32Array(m * n);
    wasmGemm(contiguous(a, k), contiguous(b, n), expected, m, k, n);
    const gathered = new Float32Array(m * n);
    wasmGemm(contiguous(a, k), { source, indices }, gathered, m, k, n);
    expect(gathered).toEqual(expected);
    expect(() =>
      wasmGemm(contiguous(a, k), { source, indices: indices.subarray(1) }, gathered, m, k, n),
    ).toThrow(`an index table for this product needs ${indices.length} entries, got ${indices.length - 1}`);
  });

  it("scatters C into a target through an index table, again after the table stays resident or is displaced", () => {
    const [m, k, n] = [5, 30, 11];
    const paddedN = Math.ceil(n / PANEL_COLUMNS) * PANEL_COLUMNS;
    const a = randomArray(m * k, 20);
    const b = randomArray(k * n, 21);
    const product = new Float32Array(m * n);
    wasmGemm(contiguous(a, k), contiguous(b, n), product, m, k, n);
    // Entry (i, j) goes to (i·n + j) mod 37, except where (i + j) mod 5 is 0 (and the padding columns).
    const indices = new Int32Array(m * paddedN).fill(-1);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) if ((i + j) % 5 !== 0) indices[i * paddedN + j] = (i * n + j) % 37;
    }
    const start = randomArray(37, 22);
    const expected = Float32Array.from(start);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) if ((i + j) % 5 !== 0) expected[(i * n + j) % 37] += product[i * n + j];
    }
    const scatter = () => {
      const target = Float32Array.from(start);
      wasmGemm(contiguous(a, k), contiguous(b, n), { target, indices }, m, k, n);
      return target;
    };
    expect(scatter()).toEqual(expected);
    expect(scatter()).toEqual(expected);
    wasmGemm(
      contiguous(randomArray(64, 23), 8),
      contiguous(randomArray(64, 24), 8),
      new Float32Array(64),
      8,
      8,
      8,
    );
    expect(scatter()).toEqual(expected);
  });

  it("refuses to run when disabled, naming the product and what to check", () => {
    configureWasmGemm({ enabled: false });
    const one = contiguous(new Float32Array(1), 1);
    expect(() => wasmGemm(one, one, new Float32Array(1), 1, 1, 1)).toThrow(
      /cannot run 1×1·1×1 \(wasm SIMD supported, disabled, \d+ bytes\): check canUseWasmGemm first/,
    );
  });
});

describe.each(KERNELS)("float32 Tensor.matmul on the $kernel kernel", ({ enabled }) => {
  it("multiplies a broadcast batch of transposed views", () => {
    configureWasmGemm({ enabled });
    const [batches, m, k, n] = [3, 6, 45, 17];
    const left = randomArray(batches * k * m, 11);
    const right = randomArray(k * n, 12);
    // left is stored (batches, k, m) and used transposed, so its rows are strided.
    const product = tensor(left, { shape: [batches, k, m] })
      .mT.matmul(tensor(right, { shape: [k, n] }))
      .dataSync();
    expect(product).toBeInstanceOf(Float32Array);
    for (let batch = 0; batch < batches; batch++) {
      const a: MatrixOperand = { data: left, offset: batch * k * m, rowStride: 1, colStride: m };
      const exact = exactProduct(a, contiguous(right, n), new Float32Array(m * n), m, k, n);
      const actual = Float32Array.from(product.subarray(batch * m * n, (batch + 1) * m * n));
      expect(worstError(actual, exact, k)).toBeLessThan(4);
    }
  });
});

const CONV_CASES: readonly {
  case: string;
  inputShape: number[];
  weightShape: number[];
  outputShape: number[];
  params: Conv2dKernelParams;
}[] = [
  {
    case: "strided, dilated, grouped, uneven padding",
    inputShape: [2, 4, 9, 9],
    weightShape: [6, 2, 3, 3],
    outputShape: [2, 6, 5, 6],
    params: {
      stride: [2, 1],
      padding: [
        [1, 1],
        [0, 1],
      ],
      dilation: [1, 2],
      groups: 2,
      outputSize: [5, 6],
    },
  },
  {
    case: "MNIST's first layer",
    inputShape: [3, 1, 28, 28],
    weightShape: [16, 1, 3, 3],
    outputShape: [3, 16, 28, 28],
    params: {
      stride: [1, 1],
      padding: [
        [1, 1],
        [1, 1],
      ],
      dilation: [1, 1],
      groups: 1,
      outputSize: [28, 28],
    },
  },
  {
    // The float32 weight gradient fits 99 such images in one product: 200 take three, the last shorter.
    case: "200 images of 4×4",
    inputShape: [200, 1, 4, 4],
    weightShape: [4, 1, 3, 3],
    outputShape: [200, 4, 4, 4],
    params: {
      stride: [1, 1],
      padding: [
        [1, 1],
        [1, 1],
      ],
      dilation: [1, 1],
      groups: 1,
      outputSize: [4, 4],
    },
  },
];

describe.each(KERNELS)("float32 conv2d (im2col + gemm) on the $kernel kernel", ({ enabled }) => {
  describe.each(CONV_CASES)("$case", ({ inputShape, weightShape, outputShape, params }) => {
    const size = (shape: number[]) => shape.reduce((product, dim) => product * dim, 1);
    const x = randomArray(size(inputShape), 13);
    const weight = randomArray(size(weightShape), 14);
    const dy = randomArray(size(outputShape), 15);

    it.each([
      {
        kernel: "forward",
        operands: [x, weight],
        run: (x: Float32Array | Float64Array, w: Float32Array | Float64Array) =>
          conv2dForward(x, 0, inputShape, w, 0, weightShape, params),
      },
      {
        kernel: "input gradient",
        operands: [dy, weight],
        run: (dy: Float32Array | Float64Array, w: Float32Array | Float64Array) =>
          conv2dInputGrad(dy, 0, w, 0, inputShape, weightShape, params),
      },
      {
        kernel: "weight gradient",
        operands: [dy, x],
        run: (dy: Float32Array | Float64Array, x: Float32Array | Float64Array) =>
          conv2dWeightGrad(x, 0, dy, 0, inputShape, weightShape, params),
      },
    ])("$kernel matches the float64 result to float32 precision", ({ operands: [first, second], run }) => {
      configureWasmGemm({ enabled });
      const expected = run(Float64Array.from(first), Float64Array.from(second));
      const actual = run(first, second);
      expect(actual).toBeInstanceOf(Float32Array);
      expect(actual.length).toBe(expected.length);
      // Relative to the largest result: the weight gradient sums batch·outH·outW products per entry.
      let [scale, worst] = [1, 0];
      for (let i = 0; i < actual.length; i++) {
        scale = Math.max(scale, Math.abs(expected[i]));
        worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
      }
      expect(worst / scale).toBeLessThan(1e-5);
    });
  });
});
