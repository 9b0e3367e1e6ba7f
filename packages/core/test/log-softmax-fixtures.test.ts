// logSoftmax forward and gradient against PyTorch 1.13.1 (fixtures copied from the shared set; see fixtures/README.md).
import { describe, expect, it } from "vitest";
import { tensor } from "../src/index.ts";
import twoDims from "./fixtures/log_softmax_2d_dimm1.json" with { type: "json" };
import threeDims from "./fixtures/log_softmax_3d_dim1.json" with { type: "json" };
import { expectClose } from "./helpers.ts";

const TOLERANCES = {
  float64: { rtol: 1e-12, atol: 1e-13 },
  float32: { rtol: 5e-4, atol: 1e-6 },
} as const;

describe.each([twoDims, threeDims])("$name", (fixture) => {
  it.each(["float64", "float32"] as const)("forward and d sum(out·dy)/dx in %s", (dtype) => {
    const { x, dy } = fixture.inputs;
    const input = tensor(x.data, { shape: x.shape, dtype, requiresGrad: true });
    const output = input.logSoftmax(fixture.config.dim);
    expect(output.shape).toEqual(fixture.expected.output.shape);
    expect(output.dtype).toBe(dtype);
    expectClose(output, fixture.expected.output.data, TOLERANCES[dtype]);

    output.backward(tensor(dy.data, { shape: dy.shape, dtype }));
    expect(input.grad!.dtype).toBe(dtype);
    expectClose(input.grad!, fixture.expected.grads.x.data, TOLERANCES[dtype]);
  });
});
