// The WebAssembly SIMD normalization kernels against the JavaScript ones, on layouts straddling every window and block.
import { afterEach, describe, expect, it } from "vitest";
import { normBackward, normForward } from "../src/cpu/norm.ts";
import { canUseWasmNorm, configureWasmNorm } from "../src/cpu/wasm-norm.ts";
import { Generator } from "../src/index.ts";
import type { NormLayout } from "../src/norm-layout.ts";
import { normBlocks } from "../src/norm-layout.ts";

function randomArray(length: number, seed: number, mean = 0, std = 1): Float32Array {
  const generator = new Generator(seed);
  return Float32Array.from({ length }, () => mean + std * generator.normal());
}

/** Largest |a − b| over the largest |b| (1 where b is all zero). */
function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let error = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    error = Math.max(error, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return error / (scale || 1);
}

/** Forward (batch statistics) and backward (all three gradients) on the wasm kernels or the JavaScript ones. */
function run(layout: NormLayout, x: Float32Array, dy: Float32Array, affine: boolean, wasm: boolean) {
  configureWasmNorm({ enabled: wasm });
  const weight = affine ? randomArray(layout.channels, 3, 1, 0.5) : null;
  const bias = affine ? randomArray(layout.channels, 4) : null;
  const forward = normForward(x, layout, weight, bias, 1e-5, null);
  if (forward.statistics === null) throw new Error("normForward returned no statistics");
  const needs = { input: true, weight: affine, bias: affine };
  const backward = normBackward(dy, x, layout, weight, forward.statistics, {
    eps: 1e-5,
    statisticsFromInput: true,
    needs,
  });
  const given = normForward(x, layout, weight, bias, 1e-5, forward.statistics);
  const evalBackward = normBackward(dy, x, layout, weight, forward.statistics, {
    eps: 1e-5,
    statisticsFromInput: false,
    needs,
  });
  return { forward, backward, given, evalBackward };
}

const LAYOUTS: readonly [string, NormLayout][] = [
  [
    "BatchNorm1d, 1024 channels (rows 4 KB apart)",
    { kind: "per-channel", outer: 37, channels: 1024, inner: 1 },
  ],
  [
    "BatchNorm1d, 13 channels (padded to a block)",
    { kind: "per-channel", outer: 70, channels: 13, inner: 1 },
  ],
  ["BatchNorm1d, two rows", { kind: "per-channel", outer: 2, channels: 21, inner: 1 }],
  ["BatchNorm1d, more rows than a window", { kind: "per-channel", outer: 300, channels: 64, inner: 1 }],
  ["BatchNorm2d, odd spatial size", { kind: "per-channel", outer: 5, channels: 3, inner: 49 }],
  ["BatchNorm2d, runs longer than a window", { kind: "per-channel", outer: 2, channels: 2, inner: 20001 }],
  ["LayerNorm, odd row", { kind: "per-group", outer: 9, channels: 37, inner: 1, groups: 1 }],
  [
    "LayerNorm, row longer than a window",
    { kind: "per-group", outer: 2, channels: 17000, inner: 1, groups: 1 },
  ],
  ["GroupNorm on (N, C)", { kind: "per-group", outer: 6, channels: 30, inner: 1, groups: 3 }],
  ["GroupNorm on (N, C, H, W)", { kind: "per-group", outer: 3, channels: 8, inner: 25, groups: 4 }],
  ["InstanceNorm, 3×3 maps", { kind: "per-group", outer: 4, channels: 6, inner: 9, groups: 6 }],
];

afterEach(() => configureWasmNorm({ enabled: true }));

describe("wasm SIMD normalization kernels", () => {
  it("run float32 where wasm SIMD exists, and leave float64 and over-wide rows to JavaScript", () => {
    const layout: NormLayout = { kind: "per-channel", outer: 2, channels: 4, inner: 1 };
    expect(canUseWasmNorm(new Float32Array(8), normBlocks(layout))).toBe(true);
    expect(canUseWasmNorm(new Float64Array(8), normBlocks(layout))).toBe(false);
    const wide: NormLayout = { kind: "per-channel", outer: 1, channels: 20000, inner: 1 };
    expect(canUseWasmNorm(new Float32Array(20000), normBlocks(wide))).toBe(false);
  });

  for (const [name, layout] of LAYOUTS) {
    for (const affine of [true, false]) {
      it(`match the JavaScript kernels: ${name}${affine ? "" : ", no affine"}`, () => {
        const size = layout.outer * layout.channels * layout.inner;
        const x = randomArray(size, 1, 0.5, 2);
        const dy = randomArray(size, 2);
        const wasm = run(layout, x, dy, affine, true);
        const js = run(layout, x, dy, affine, false);
        const statistics = wasm.forward.statistics;
        const expected = js.forward.statistics;
        if (statistics === null || expected === null) throw new Error("no statistics");
        // The statistics differ only in the order of float64 additions.
        expect(relativeError(statistics.mean, expected.mean)).toBeLessThan(1e-12);
        expect(relativeError(statistics.variance, expected.variance)).toBeLessThan(1e-12);
        // Elementwise results are float32 (a few roundings); sums of float32 products, a few more.
        expect(relativeError(wasm.forward.output, js.forward.output)).toBeLessThan(1e-6);
        expect(relativeError(wasm.given.output, js.given.output)).toBeLessThan(1e-6);
        for (const pass of ["backward", "evalBackward"] as const) {
          for (const key of ["dx", "dweight", "dbias"] as const) {
            const actual = wasm[pass][key];
            const reference = js[pass][key];
            expect(actual === null).toBe(reference === null);
            if (actual !== null && reference !== null)
              expect(relativeError(actual, reference)).toBeLessThan(2e-6);
          }
        }
      });
    }
  }

  it("keep float64-grade statistics and a float32-exact x − μ for mean 1e4, std 1e-2", () => {
    for (const [, layout] of LAYOUTS.slice(0, 7)) {
      const size = layout.outer * layout.channels * layout.inner;
      const x = randomArray(size, 5, 1e4, 1e-2);
      const result = normForward(x, layout, null, null, 0, null);
      if (result.statistics === null) throw new Error("no statistics");
      const { statistics: blocksCount, count } = normBlocks(layout);
      // float64 two-pass statistics of the same float32 values
      const reference = normForward(Float64Array.from(x), layout, null, null, 0, null).statistics;
      if (reference === null) throw new Error("no statistics");
      for (let k = 0; k < blocksCount; k++) {
        expect(Math.abs(result.statistics.mean[k] - reference.mean[k])).toBeLessThan(1e-6);
        if (count > 1) {
          expect(Math.abs(result.statistics.variance[k] / reference.variance[k] - 1)).toBeLessThan(1e-6);
        }
      }
      const expected = normForward(Float64Array.from(x), layout, null, null, 0, reference).output;
      // x − μ would lose ~5e-4 (half a float32 ulp of 1e4) against σ = 1e-2 without the split mean.
      expect(relativeError(result.output, expected)).toBeLessThan(1e-5);
    }
  });
});
