// ReLU, its mask and its product on the wasm SIMD kernels, element for element against the JavaScript loops.
import { afterEach, describe, expect, it } from "vitest";
import { sgdStep } from "../src/cpu/optimizer.ts";
import { configureWasmElementwise } from "../src/cpu/wasm-elementwise.ts";
import { Generator, type Tensor, tensor } from "../src/index.ts";

afterEach(() => configureWasmElementwise({ enabled: true }));

/** Values with every special case, then random ones of both signs: `length` of them (any length, for the tails). */
function values(length: number, seed: number): number[] {
  const special = [
    Number.NaN,
    0,
    -0,
    Number.POSITIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
    1e-45,
    -1e-45,
    3.4e38,
  ];
  const generator = new Generator(seed);
  return Array.from({ length }, (_, i) => special[i] ?? generator.normal());
}

/** `op` on the wasm kernels and on the JavaScript loops: the same bits (Object.is, so ±0 and NaN count). */
function expectSameBothWays(op: () => Tensor): void {
  configureWasmElementwise({ enabled: true });
  const wasm = Array.from(op().dataSync());
  configureWasmElementwise({ enabled: false });
  const js = Array.from(op().dataSync());
  expect(wasm.length).toBe(js.length);
  for (const [i, value] of wasm.entries()) {
    expect(Object.is(value, js[i]), `element ${i}: ${value} vs ${js[i]}`).toBe(true);
  }
}

describe("wasm SIMD elementwise kernels", () => {
  for (const length of [1, 7, 8, 9, 33, 16384 + 13]) {
    it(`relu, x > 0 and dy·mask match the JavaScript loops on ${length} elements`, () => {
      const x = tensor(values(length, 1));
      const dy = tensor(values(length, 2));
      expectSameBothWays(() => x.relu());
      expectSameBothWays(() => x.gt(0));
      expectSameBothWays(() => x.gt(0.5));
      expectSameBothWays(() => dy.mul(x.gt(0)));
      expectSameBothWays(() => dy.mul(x));
    });
  }

  it("read views from their offset", () => {
    const x = tensor(values(40, 3)).reshape([4, 10]).narrow(0, 1, 2);
    const dy = tensor(values(40, 4)).reshape([4, 10]).narrow(0, 2, 2);
    expectSameBothWays(() => x.relu());
    expectSameBothWays(() => dy.mul(x.gt(0)));
  });

  it("relu keeps NaN, maps −0, −∞ and negatives to +0", () => {
    const out = Array.from(tensor([Number.NaN, -0, Number.NEGATIVE_INFINITY, -2, 3]).relu().dataSync());
    expect(Number.isNaN(out[0])).toBe(true);
    expect(out.slice(1).map((value) => Object.is(value, 0))).toEqual([true, true, true, false]);
    expect(out[4]).toBe(3);
  });

  it("momentum SGD matches the float64 update within float32 rounding, on every length", () => {
    for (const length of [1, 9, 16384 + 5]) {
      const generator = new Generator(length);
      const draw = () => Float32Array.from({ length }, () => generator.normal());
      const [param, grad, buffer] = [draw(), draw(), draw()];
      const options = { lr: 0.05, momentum: 0.9, dampening: 0.1, nesterov: false, weightDecay: 0 };
      const step = { ...options, maximize: false, firstStep: false };
      const wasm = { param: param.slice(), buffer: buffer.slice() };
      sgdStep(wasm.param, grad, wasm.buffer, step);
      configureWasmElementwise({ enabled: false });
      const js = { param: param.slice(), buffer: buffer.slice() };
      sgdStep(js.param, grad, js.buffer, step);
      configureWasmElementwise({ enabled: true });
      for (let i = 0; i < length; i++) {
        const expectedBuffer = 0.9 * buffer[i] + 0.9 * grad[i];
        expect(Math.abs(wasm.buffer[i] - expectedBuffer)).toBeLessThanOrEqual(
          3e-7 * (Math.abs(expectedBuffer) + 1),
        );
        expect(Math.abs(wasm.buffer[i] - js.buffer[i])).toBeLessThanOrEqual(
          3e-7 * (Math.abs(js.buffer[i]) + 1),
        );
        expect(Math.abs(wasm.param[i] - js.param[i])).toBeLessThanOrEqual(3e-7 * (Math.abs(js.param[i]) + 1));
      }
    }
  });
});
