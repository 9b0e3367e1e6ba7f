// logSoftmax forward and gradient against PyTorch 1.13.1 (the log_softmax_* fixtures of @normgrad/testing).
import { fromFixture, loadFixtures } from "@normgrad/testing";
import { describe, expect, it } from "vitest";

const TOLERANCES = {
  float64: { rtol: 1e-12, atol: 1e-13 },
  float32: { rtol: 5e-4, atol: 1e-6 },
} as const;

describe.each(loadFixtures("log_softmax_"))("$name", (fixture) => {
  it.each(["float64", "float32"] as const)("forward and d sum(out·dy)/dx in %s", (dtype) => {
    const input = fromFixture(fixture.inputs.x, dtype, { requiresGrad: true });
    const output = input.logSoftmax(Number(fixture.config.dim));
    expect(output.shape).toEqual(fixture.expected.output.shape);
    expect(output.dtype).toBe(dtype);
    expect(output).toBeAllclose(fixture.expected.output, TOLERANCES[dtype]);

    output.backward(fromFixture(fixture.inputs.dy, dtype));
    expect(input.grad!.dtype).toBe(dtype);
    expect(input.grad).toBeAllclose(fixture.expected.grads.x, TOLERANCES[dtype]);
  });
});
