// Layers and losses against PyTorch 1.13.1: outputs and gradients (input and every parameter), float64 and float32.
import type { DType, Tensor } from "@normgrad/core";
import { type Fixture, fromFixture, loadFixtures } from "@normgrad/testing";
import { describe, expect, it } from "vitest";
import {
  AvgPool2d,
  Conv2d,
  CrossEntropyLoss,
  F,
  Linear,
  LogSoftmax,
  MaxPool2d,
  type Module,
  MSELoss,
  type Reduction,
} from "../src/index.ts";
import { loadLocalFixtures } from "./local-fixtures.ts";

/** Tolerances against the float64 reference, per dtype (ARCHITECTURE.md §6). */
const TOLERANCE = {
  float64: { rtol: 1e-10, atol: 1e-12 },
  float32: { rtol: 5e-4, atol: 1e-6 },
} as const;

/** The dtypes every forward/backward fixture test runs in. */
const FLOAT_DTYPES = ["float64", "float32"] as const;

/** What a case builds from a fixture: the computation and the tensors whose gradients are checked, by fixture name. */
interface Run {
  output: () => Tensor;
  gradOf: Record<string, () => Tensor | null>;
  indices?: () => Tensor;
}

type Spatial = number | [number, number];

function reductionOf(value: unknown): Reduction {
  if (value === "mean" || value === "sum" || value === "none") return value;
  throw new Error(`fixture reduction ${JSON.stringify(value)} is not mean, sum or none`);
}

function spatial(value: unknown): Spatial {
  if (typeof value === "number") return value;
  if (Array.isArray(value) && value.length === 2) return [Number(value[0]), Number(value[1])];
  throw new Error(`fixture value ${JSON.stringify(value)} is not an int or a pair`);
}

/** Loads the fixture's params into `module` through loadStateDict (so state dicts are exercised too). */
function withParams<M extends Module<never[], unknown>>(module: M, fixture: Fixture, dtype: DType): M {
  const state = Object.fromEntries(
    Object.entries(fixture.params).map(([key, value]) => [key, fromFixture(value, dtype)]),
  );
  module.loadStateDict(state);
  return module;
}

const cases: { prefix: string; build: (fixture: Fixture, dtype: DType) => Run }[] = [
  {
    prefix: "linear_",
    build: (fixture, dtype) => {
      const x = fromFixture(fixture.inputs.x, dtype, { requiresGrad: true });
      const [out, inFeatures] = fixture.params.weight.shape;
      const layer = withParams(
        new Linear(inFeatures, out, { bias: "bias" in fixture.params, dtype }),
        fixture,
        dtype,
      );
      return {
        output: () => layer.forward(x),
        gradOf: { x: () => x.grad, weight: () => layer.weight.grad, bias: () => layer.bias?.grad ?? null },
      };
    },
  },
  {
    prefix: "conv2d_",
    build: (fixture, dtype) => {
      const x = fromFixture(fixture.inputs.x, dtype, { requiresGrad: true });
      const { stride, padding, dilation, groups, kernel_size: kernel } = fixture.config;
      const [out, , kernelH, kernelW] = fixture.params.weight.shape;
      expect(kernel === kernelH || JSON.stringify(kernel) === JSON.stringify([kernelH, kernelW])).toBe(true);
      const layer = withParams(
        new Conv2d(x.shape[1], out, [kernelH, kernelW], {
          stride: spatial(stride),
          padding: padding === "same" || padding === "valid" ? padding : spatial(padding),
          dilation: spatial(dilation),
          groups: Number(groups),
          bias: "bias" in fixture.params,
          dtype,
        }),
        fixture,
        dtype,
      );
      return {
        output: () => layer.forward(x),
        gradOf: { x: () => x.grad, weight: () => layer.weight.grad, bias: () => layer.bias?.grad ?? null },
      };
    },
  },
  {
    prefix: "max_pool2d_",
    build: (fixture, dtype) => {
      const x = fromFixture(fixture.inputs.x, dtype, { requiresGrad: true });
      const { kernel_size: kernel, stride, padding, dilation, ceil_mode: ceilMode } = fixture.config;
      const pool = new MaxPool2d(spatial(kernel), {
        stride: stride === null ? null : spatial(stride),
        padding: spatial(padding),
        dilation: spatial(dilation),
        ceilMode: ceilMode === true,
        returnIndices: true,
      });
      let indices: Tensor | null = null;
      return {
        output: () => {
          const [values, found] = pool.forward(x);
          indices = found;
          return values;
        },
        gradOf: { x: () => x.grad },
        indices: () => {
          if (indices === null) throw new Error("forward did not run");
          return indices;
        },
      };
    },
  },
  {
    prefix: "avg_pool2d_",
    build: (fixture, dtype) => {
      const x = fromFixture(fixture.inputs.x, dtype, { requiresGrad: true });
      const {
        kernel_size: kernel,
        stride,
        padding,
        ceil_mode: ceilMode,
        count_include_pad: include,
      } = fixture.config;
      const pool = new AvgPool2d(spatial(kernel), {
        stride: stride === null ? null : spatial(stride),
        padding: spatial(padding),
        ceilMode: ceilMode === true,
        countIncludePad: include === true,
      });
      return { output: () => pool.forward(x), gradOf: { x: () => x.grad } };
    },
  },
  {
    prefix: "log_softmax_",
    build: (fixture, dtype) => {
      const x = fromFixture(fixture.inputs.x, dtype, { requiresGrad: true });
      const layer = new LogSoftmax(Number(fixture.config.dim));
      return { output: () => layer.forward(x), gradOf: { x: () => x.grad } };
    },
  },
  {
    prefix: "cross_entropy_",
    build: (fixture, dtype) => {
      const logits = fromFixture(fixture.inputs.logits, dtype, { requiresGrad: true });
      const target = fromFixture(fixture.inputs.target, dtype);
      const { reduction, label_smoothing: labelSmoothing, ignore_index: ignoreIndex } = fixture.config;
      const loss = new CrossEntropyLoss({
        weight: fixture.inputs.weight === undefined ? null : fromFixture(fixture.inputs.weight, dtype),
        reduction: reductionOf(reduction),
        labelSmoothing: Number(labelSmoothing),
        ignoreIndex: ignoreIndex === undefined ? -100 : Number(ignoreIndex),
      });
      return { output: () => loss.forward(logits, target), gradOf: { logits: () => logits.grad } };
    },
  },
  {
    prefix: "mse_loss_",
    build: (fixture, dtype) => {
      const input = fromFixture(fixture.inputs.input, dtype, { requiresGrad: true });
      const target = fromFixture(fixture.inputs.target, dtype, { requiresGrad: true });
      const loss = new MSELoss({ reduction: reductionOf(fixture.config.reduction) });
      return {
        output: () => loss.forward(input, target),
        gradOf: { input: () => input.grad, target: () => target.grad },
      };
    },
  },
];

describe.each(cases)("$prefix fixtures", ({ prefix, build }) => {
  const fixtures = loadFixtures(prefix);
  it("has fixtures", () => {
    expect(fixtures.length).toBeGreaterThan(0);
  });
  describe.each(FLOAT_DTYPES)("%s", (dtype) => {
    it.each(fixtures.map((fixture) => [fixture.name, fixture] as const))("%s", (_, fixture) => {
      const run = build(fixture, dtype);
      const output = run.output();
      expect(output.dtype).toBe(dtype);
      expect(output, "output").toBeAllclose(fixture.expected.output, TOLERANCE[dtype]);
      output.backward(fromFixture(fixture.inputs.dy, dtype));
      for (const [name, expected] of Object.entries(fixture.expected.grads)) {
        const grad = run.gradOf[name];
        if (grad === undefined) throw new Error(`no gradient accessor for ${name}`);
        expect(grad(), `grad of ${name}`).toBeAllclose(expected, TOLERANCE[dtype]);
      }
      if (fixture.expected.indices !== undefined) {
        expect(run.indices?.().tolist()).toEqual(fromFixture(fixture.expected.indices, "int32").tolist());
      }
    });
  });
});

describe("Linear(3, 2) on a 1-D input (test/fixtures/linear-1d-input.json)", () => {
  const [fixture] = loadLocalFixtures("linear-1d-input.json");

  it.each(FLOAT_DTYPES)("maps shape [3] to shape [2], with PyTorch's output and gradients (%s)", (dtype) => {
    const layer = withParams(new Linear(3, 2, { dtype }), fixture, dtype);
    const x = fromFixture(fixture.inputs.x, dtype, { requiresGrad: true });
    expect(x.shape).toEqual([3]);
    const y = layer.forward(x);
    expect(y.shape).toEqual([2]);
    expect(y, "output").toBeAllclose(fixture.expected.output, TOLERANCE[dtype]);
    y.backward(fromFixture(fixture.inputs.dy, dtype));
    expect(x.grad?.shape).toEqual([3]);
    expect(x.grad, "grad of x").toBeAllclose(fixture.expected.grads.x, TOLERANCE[dtype]);
    expect(layer.weight.grad, "grad of weight").toBeAllclose(fixture.expected.grads.weight, TOLERANCE[dtype]);
    expect(layer.bias?.grad, "grad of bias").toBeAllclose(fixture.expected.grads.bias, TOLERANCE[dtype]);
  });

  it("F.linear without a bias also keeps a 1-D input 1-D: W·x", () => {
    const weight = fromFixture(fixture.params.weight, "float64");
    const x = fromFixture(fixture.inputs.x, "float64");
    const y = F.linear(x, weight);
    expect(y.shape).toEqual([2]);
    const [w, v] = [weight.dataSync(), x.dataSync()];
    const expected = [0, 1].map((o) => w[3 * o] * v[0] + w[3 * o + 1] * v[1] + w[3 * o + 2] * v[2]);
    expect(y).toBeAllclose(expected, { rtol: 1e-15, atol: 1e-15 });
  });
});
