// Every op of @normgrad/testing's OP_CASES (and the non-primitive kernels), forward and backward, on the GPU.js backend (float32) against the CPU backend in float64.
import {
  allOpCases,
  isNotRun,
  type OpCase,
  opCaseInputs,
  PARITY_TOLERANCES,
  type ParityPlan,
  seeded,
} from "@normgrad/testing";
import { describe, expect, it } from "vitest";
import { MODE_SETUP, SUITE_MODES, skipReason, toGpu, useGpuBackend } from "./helpers.ts";

const PARITY_CASES = allOpCases().flatMap(({ op, opCase, seed }) =>
  isNotRun(opCase.parity) ? [] : [{ op, opCase, plan: opCase.parity ?? {}, seed }],
);

/** Runs a case on the CPU in float64 and on the GPU in float32; compares outputs and input gradients. */
async function checkParity(
  opCase: OpCase,
  { tolerance = "elementwise", backward = true, readsValues = false }: ParityPlan,
  seed: number,
) {
  const within = PARITY_TOLERANCES[tolerance];
  const cpuInputs = opCaseInputs(opCase, seed);
  const gpuInputs = cpuInputs.map(toGpu);
  if (readsValues && !gpuInputs[0].backend.readsSynchronously) {
    expect(() => opCase.fn(...gpuInputs)).toThrow(
      /output size depends on the values, which this gpu mode cannot read/,
    );
    return;
  }
  const expected = opCase.fn(...cpuInputs);
  const actual = opCase.fn(...gpuInputs);
  expect(actual.device).toBe("gpu");
  expect(actual.shape).toEqual(expected.shape);
  expect(actual.dtype).toBe(expected.dtype === "float64" ? "float32" : expected.dtype);
  expect(await actual.data(), "output").toBeAllclose(await expected.data(), within);
  if (!backward) return;
  const dy = seeded(expected.shape, seed + 100);
  expected.backward(dy.detach());
  actual.backward(toGpu(dy.detach()));
  for (const [i, input] of cpuInputs.entries()) {
    const [want, got] = [input.grad, gpuInputs[i].grad];
    if (want === null || got === null) {
      expect(got === null, `input ${i} has a gradient on one device only`).toBe(want === null);
      continue;
    }
    expect(got.device).toBe("gpu");
    expect(await got.data(), `gradient of input ${i}`).toBeAllclose(await want.data(), within);
  }
}

describe.each(SUITE_MODES)("GPU.js %s mode", (mode) => {
  const reason = skipReason(mode);
  describe.skipIf(reason !== null)("ops against the float64 CPU backend", () => {
    const backend = useGpuBackend(mode, { specializeInputSizes: false });

    it(`really runs ${MODE_SETUP[mode].kernelClass} kernels`, () => {
      expect(backend().kernelClass).toBe(MODE_SETUP[mode].kernelClass);
      expect(backend().activeMode).toBe(MODE_SETUP[mode].activeMode);
    });

    it.each(PARITY_CASES.map(({ op, opCase, plan, seed }) => [op, opCase.name, opCase, plan, seed] as const))(
      "%s %s",
      async (_op, _name, opCase, plan, seed) => {
        await checkParity(opCase, plan, seed);
      },
    );
  });
});
