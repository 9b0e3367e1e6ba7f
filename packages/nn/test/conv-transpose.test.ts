// ConvTranspose2d against PyTorch 1.13.1 (test/fixtures/conv-transpose.json), float64 gradcheck and gradgradcheck, errors.
import { readFileSync } from "node:fs";
import { type DType, gradcheck, gradgradcheck, manualSeed, randn, type Tensor } from "@normgrad/core";
import { type FixtureTensor, fromFixture } from "@normgrad/testing";
import { describe, expect, it } from "vitest";
import { ConvTranspose2d, type ConvTranspose2dLayerOptions, F, StateDict } from "../src/index.ts";

interface ConvTransposeCase {
  name: string;
  args: [number, number, number | [number, number]];
  output_size: number[] | null;
  options: {
    stride?: number | [number, number];
    padding?: number | [number, number];
    output_padding?: number | [number, number];
    groups?: number;
    dilation?: number | [number, number];
    bias?: boolean;
  };
  params: Record<string, FixtureTensor>;
  input: FixtureTensor;
  dy: FixtureTensor;
  expected: { output: FixtureTensor; inputGrad: FixtureTensor; paramGrads: Record<string, FixtureTensor> };
  repr: string;
  keys: string[];
}

const { cases }: { cases: ConvTransposeCase[] } = JSON.parse(
  readFileSync(new URL("./fixtures/conv-transpose.json", import.meta.url), "utf8"),
);

const TOLERANCE = {
  float64: { rtol: 1e-12, atol: 1e-12 },
  float32: { rtol: 5e-4, atol: 1e-6 },
} as const;

function build({ args, options }: ConvTransposeCase, dtype: DType): ConvTranspose2d {
  const layerOptions: ConvTranspose2dLayerOptions = {
    stride: options.stride,
    padding: options.padding,
    outputPadding: options.output_padding,
    groups: options.groups,
    dilation: options.dilation,
    bias: options.bias,
    dtype,
  };
  return new ConvTranspose2d(args[0], args[1], args[2], layerOptions);
}

describe.each(["float64", "float32"] as const)("against PyTorch (%s)", (dtype) => {
  it.each(cases.map((c) => [c.name, c] as const))("%s", (_, fixture) => {
    const layer = build(fixture, dtype);
    const state = new StateDict();
    for (const [key, value] of Object.entries(fixture.params)) state.set(key, fromFixture(value, dtype));
    layer.loadStateDict(state);
    const x = fromFixture(fixture.input, dtype).requiresGrad_();
    const y = layer.forward(x, fixture.output_size ?? undefined);
    expect(y).toBeAllclose(fromFixture(fixture.expected.output, "float64"), TOLERANCE[dtype]);
    y.backward(fromFixture(fixture.dy, dtype));
    expect(x.grad).toBeAllclose(fromFixture(fixture.expected.inputGrad, "float64"), TOLERANCE[dtype]);
    const parameters = new Map(layer.namedParameters());
    for (const [key, expected] of Object.entries(fixture.expected.paramGrads)) {
      expect(parameters.get(key)?.grad, key).toBeAllclose(fromFixture(expected, "float64"), TOLERANCE[dtype]);
    }
  });
});

describe("module structure", () => {
  it.each(cases.map((c) => [c.name, c] as const))("%s: PyTorch's repr and state-dict keys", (_, fixture) => {
    const layer = build(fixture, "float64");
    expect(layer.toString()).toBe(fixture.repr);
    expect([...layer.stateDict().keys()]).toEqual(fixture.keys);
  });

  it("initializes as PyTorch: U(±1/√fanIn), fanIn = outChannels/groups·KH·KW", () => {
    manualSeed(0);
    const layer = new ConvTranspose2d(8, 6, 3, { groups: 2 });
    const bound = 1 / Math.sqrt(3 * 9);
    expect(layer.weight.shape).toEqual([8, 3, 3, 3]);
    expect(layer.weight.abs().max().item()).toBeLessThanOrEqual(bound);
    expect(layer.bias?.abs().max().item()).toBeLessThanOrEqual(bound);
  });
});

describe("gradients (float64)", () => {
  const options = { stride: 2, padding: 1, outputPadding: 1, groups: 2 } as const;
  const inputs = () => {
    manualSeed(5);
    return [
      randn([1, 4, 3, 3], { dtype: "float64" }),
      randn([4, 1, 3, 3], { dtype: "float64" }),
      randn([2], { dtype: "float64" }),
    ].map((t) => t.requiresGrad_());
  };
  const fn = (x: Tensor, weight: Tensor, bias: Tensor) => F.convTranspose2d(x, weight, { ...options, bias });

  it("gradcheck w.r.t. input, weight and bias", () => {
    expect(gradcheck(fn, inputs())).toHaveLength(3);
  });

  it("gradgradcheck: the transposed convolution differentiates twice", () => {
    expect(gradgradcheck(fn, inputs())).toHaveLength(4);
  });
});

describe("errors name the values", () => {
  it("rejects an output size the stride cannot reach", () => {
    const layer = new ConvTranspose2d(2, 2, 3, { stride: 2 });
    expect(() => layer.forward(randn([1, 2, 3, 3]), [1, 2, 9, 6])).toThrow(
      /requested an output size of \[1, 2, 9, 6\], but valid sizes range from \[7, 7\] to \[8, 8\] \(for an input of \[1, 2, 3, 3\]\)/,
    );
  });

  it("rejects an outputPadding not smaller than stride or dilation", () => {
    expect(() => new ConvTranspose2d(2, 2, 3, { stride: 2, outputPadding: 2 })).toThrow(
      /outputPadding \(2, 2\) must be smaller than stride \(2, 2\) or dilation \(1, 1\)/,
    );
    expect(() => F.convTranspose2d(randn([1, 2, 3, 3]), randn([2, 2, 3, 3]), { outputPadding: 1 })).toThrow(
      /outputPadding \[1, 1\] must be smaller than stride \[1, 1\]/,
    );
  });

  it("rejects channel mismatches, bad groups and an empty output", () => {
    expect(() => new ConvTranspose2d(3, 4, 3, { groups: 2 })).toThrow(
      /inChannels 3 and outChannels 4 .* groups 2/,
    );
    expect(() => F.convTranspose2d(randn([1, 3, 4, 4]), randn([2, 2, 3, 3]))).toThrow(
      /Cin = the input's 3 channels .*got weight \[2, 2, 3, 3\]/,
    );
    expect(() => F.convTranspose2d(randn([1, 2, 1, 1]), randn([2, 2, 1, 1]), { padding: 1 })).toThrow(
      /the output would be \[1, 2, -1, -1\]/,
    );
    expect(() => F.convTranspose2d(randn([1, 2, 3, 3]), randn([2, 2, 3, 3]), { bias: randn([3]) })).toThrow(
      /bias must have shape \[2\], got \[3\]/,
    );
  });
});
