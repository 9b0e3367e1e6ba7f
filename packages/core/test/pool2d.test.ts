// The CPU max-pooling kernel's 2×2 stride-2 path: PyTorch's tie and NaN rules, as the general loop applies them.
import { describe, expect, it } from "vitest";
import type { Pool2dParams } from "../src/backend.ts";
import { maxPool2dForward } from "../src/cpu/pool2d.ts";
import { configureWasmPool2d } from "../src/cpu/wasm-pool2d.ts";

const params: Pool2dParams = {
  kernelSize: [2, 2],
  stride: [2, 2],
  padding: [0, 0],
  dilation: [1, 1],
  outputSize: [2, 2],
};

// One 4×4 plane; its windows hold a tie, NaNs, only −∞, and a strict maximum.
const plane = [
  1,
  1,
  Number.NaN,
  2,
  0,
  1,
  3,
  Number.NaN,
  -Infinity,
  -Infinity,
  5,
  5,
  -Infinity,
  -Infinity,
  5,
  6,
];

describe.each([
  { dtype: "float32", make: (values: number[]) => Float32Array.from(values) },
  { dtype: "float64", make: (values: number[]) => Float64Array.from(values) },
])("maxPool2dForward 2×2 stride 2 ($dtype)", ({ make }) => {
  it("keeps the first of tied maxima, the last NaN, and the window's first pixel when all are −∞", () => {
    const { values, indices } = maxPool2dForward(make([7, ...plane]), 1, [1, 1, 4, 4], params);
    expect(Array.from(values)).toEqual([1, Number.NaN, -Infinity, 6]);
    expect(Array.from(indices)).toEqual([0, 7, 8, 15]);
  });

  it("picks the first maximum of each window on an odd-sized input it only partly covers", () => {
    // 5×5 input, 2×2 output: the last row and column are never read (floor mode).
    const x = make(Array.from({ length: 2 * 25 }, (_, i) => Math.sin(i * 1.7) * 10));
    const { values, indices } = maxPool2dForward(x, 0, [1, 2, 5, 5], params);
    for (let c = 0; c < 2; c++) {
      for (let o = 0; o < 4; o++) {
        const topLeft = Math.floor(o / 2) * 10 + (o % 2) * 2;
        const window = [topLeft, topLeft + 1, topLeft + 5, topLeft + 6];
        const best = window.reduce((found, index) => (x[c * 25 + index] > x[c * 25 + found] ? index : found));
        expect(indices[c * 4 + o]).toBe(best);
        expect(values[c * 4 + o]).toBe(x[c * 25 + best]);
      }
    }
  });
});

describe("maxPool2dForward 2×2 stride 2 on the wasm kernel", () => {
  it("matches the JavaScript loop bit for bit: vector and tail columns, ties, NaN, ±∞, several windows", () => {
    // 80 planes of 30×31: outputs 15×15 (three vectors of 4 and a tail of 3), two wasm windows.
    const [planes, height, width] = [80, 30, 31];
    const special = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 0, -0, 2];
    const x = Float32Array.from({ length: planes * height * width }, (_, i) =>
      i % 17 === 0 ? special[i % special.length] : Math.round(Math.sin(i * 0.37) * 4),
    );
    const geometry = { ...params, outputSize: [15, 15] as const };
    const shape = [planes, 1, height, width];
    const wasm = maxPool2dForward(x, 0, shape, geometry);
    configureWasmPool2d({ enabled: false });
    const js = maxPool2dForward(x, 0, shape, geometry);
    configureWasmPool2d({ enabled: true });
    expect(Array.from(wasm.indices)).toEqual(Array.from(js.indices));
    const same = Array.from(wasm.values).every((value, i) => Object.is(value, js.values[i]));
    expect(same).toBe(true);
  });
});
