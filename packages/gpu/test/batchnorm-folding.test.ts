// BatchNorm folding in every GPU.js mode (issue #14): no host reads, the folded model against the unfolded one, the folded float32 weights against the float64 fold.
import { Generator, noGrad, type Tensor } from "@normgrad/core";
import {
  type AnyModule,
  BatchNorm,
  BatchNorm1d,
  BatchNorm2d,
  Conv2d,
  Flatten,
  fuseBnLinear,
  fuseConvBn,
  fuseLinearBn,
  fuseModel,
  Linear,
  ReLU,
  Sequential,
} from "@normgrad/nn";
import { seeded, type Tolerance } from "@normgrad/testing";
import { describe, expect, it } from "vitest";
import { LAYER_TOLERANCE, SUITE_MODES, skipReason, toGpu, useGpuBackend } from "./helpers.ts";

/** float32's unit roundoff. */
const U = 2 ** -24;

/**
 * The folded float32 parameters against the float64 fold of the same float32 values, the
 * bounds fusion.ts documents: a weight is a few roundings from exact (v + ε, √, 1/x, ·γ, ·w),
 * a bias is bounded against the layer's largest bias, since `(b − μ)·s + β` (or `b + W·t`
 * folding forward) may cancel. Measured: 3·U and 6·U, the same in every mode.
 */
const FOLDED_WEIGHT_RTOL = 6 * U;
const FOLDED_BIAS_RTOL = 8 * U;

/** The folded model's output against the unfolded model's, both in float32 on the device. */
const FOLDED_OUTPUT_TOLERANCE: Tolerance = LAYER_TOLERANCE;

interface BnValues {
  /** Added to the seeded running mean (a large offset makes `b − μ` cancel). */
  meanOffset: number;
  /** The running variance is this times a seeded value in [0.5, 2]. */
  varScale: number;
}

/** Seeded values for every parameter and BatchNorm running statistic (rounded to the module's dtype). */
function setValues(module: AnyModule, seed: number, bnValues: BnValues): void {
  let k = seed;
  const draw = (shape: readonly number[], domain: "normal" | "positive" = "normal"): Tensor =>
    seeded([...shape], k++, { domain }).detach();
  noGrad(() => {
    for (const layer of module.modules()) {
      if (layer instanceof BatchNorm) {
        layer.weight?.copy_(draw(layer.weight.shape).mul(0.5).add(1));
        layer.bias?.copy_(draw(layer.bias.shape).mul(0.5));
        layer.runningMean?.copy_(draw(layer.runningMean.shape).add(bnValues.meanOffset));
        layer.runningVar?.copy_(draw(layer.runningVar.shape, "positive").mul(bnValues.varScale));
      } else if (layer instanceof Linear || layer instanceof Conv2d) {
        layer.weight.copy_(draw(layer.weight.shape).mul(0.5));
        layer.bias?.copy_(draw(layer.bias.shape).mul(0.5).add(bnValues.meanOffset));
      }
    }
  });
}

/**
 * Two eval-mode copies of a model holding the same float32 values: one moved to the GPU, one
 * widened to float64 on the CPU (where the float64 fold of exactly those values is the reference).
 */
function copies<M extends AnyModule>(make: (generator: Generator) => M, seed: number, bnValues: BnValues) {
  const build = (): M => {
    const module = make(new Generator(seed));
    setValues(module, 1000 * seed, bnValues);
    return module.eval();
  };
  return { reference: build().to("float64"), device: build().to("gpu") };
}

/** Every parameter and buffer of `module` on the GPU, in float32 (or int32). */
function expectOnDevice(module: AnyModule): void {
  for (const [name, tensor] of [...module.namedParameters(), ...module.namedBuffers()]) {
    expect(tensor.device, name).toBe("gpu");
    expect(tensor.dtype === "float32" || tensor.dtype === "int32", `${name}: ${tensor.dtype}`).toBe(true);
  }
}

/** The folded parameters against the float64 fold, within the bounds above. */
async function expectFoldedParameters(actual: AnyModule, expected: AnyModule): Promise<void> {
  const want = new Map(expected.namedParameters());
  for (const [name, parameter] of actual.namedParameters()) {
    const reference = want.get(name);
    if (reference === undefined) throw new Error(`the float64 fold has no ${name}`);
    const expected = await reference.data();
    const tolerance = name.endsWith("bias")
      ? { rtol: FOLDED_BIAS_RTOL, atol: FOLDED_BIAS_RTOL * Math.max(...expected.map(Math.abs)) }
      : { rtol: FOLDED_WEIGHT_RTOL, atol: 0 };
    expect(await parameter.data(), name).toBeAllclose(expected, tolerance);
  }
}

interface PairCase {
  name: string;
  make: (generator: Generator) => Sequential;
  fold: (model: Sequential) => AnyModule & { forward(x: Tensor): Tensor };
  input: number[];
}

function pairOf<A extends AnyModule, B extends AnyModule>(
  model: Sequential,
  first: new (...args: never[]) => A,
  second: new (...args: never[]) => B,
): [A, B] {
  const [a, b] = [...model];
  if (!(a instanceof first) || !(b instanceof second))
    throw new Error(`not a ${first.name} → ${second.name} pair`);
  return [a, b];
}

const PAIRS: readonly PairCase[] = [
  {
    name: "fuseConvBn: a grouped, strided, padded Conv2d with bias",
    make: (generator) =>
      new Sequential(
        new Conv2d(4, 6, 3, { generator, stride: 2, padding: 1, groups: 2 }),
        new BatchNorm2d(6),
      ),
    fold: (model) => fuseConvBn(...pairOf(model, Conv2d, BatchNorm2d)),
    input: [2, 4, 7, 7],
  },
  {
    name: "fuseConvBn: a Conv2d without bias, non-affine BatchNorm2d",
    make: (generator) =>
      new Sequential(new Conv2d(3, 4, 3, { generator, bias: false }), new BatchNorm2d(4, { affine: false })),
    fold: (model) => fuseConvBn(...pairOf(model, Conv2d, BatchNorm2d)),
    input: [2, 3, 5, 5],
  },
  {
    name: "fuseLinearBn: a Linear with bias",
    make: (generator) => new Sequential(new Linear(7, 5, { generator }), new BatchNorm1d(5)),
    fold: (model) => fuseLinearBn(...pairOf(model, Linear, BatchNorm1d)),
    input: [4, 7],
  },
  {
    name: "fuseLinearBn: a Linear without bias",
    make: (generator) => new Sequential(new Linear(6, 3, { generator, bias: false }), new BatchNorm1d(3)),
    fold: (model) => fuseLinearBn(...pairOf(model, Linear, BatchNorm1d)),
    input: [4, 6],
  },
  {
    name: "fuseBnLinear: a BatchNorm1d folded forward",
    make: (generator) => new Sequential(new BatchNorm1d(5), new Linear(5, 3, { generator })),
    fold: (model) => fuseBnLinear(...pairOf(model, BatchNorm1d, Linear)),
    input: [4, 5],
  },
];

/** Ordinary statistics, and statistics where `b − μ` cancels (μ ≈ b ≈ 100) and σ² is small. */
const STATISTICS: readonly (readonly [string, BnValues])[] = [
  ["ordinary statistics", { meanOffset: 0, varScale: 1 }],
  ["b ≈ μ ≈ 100, σ² ≈ 0.01", { meanOffset: 100, varScale: 0.01 }],
];

describe.each(SUITE_MODES)("GPU.js %s mode", (mode) => {
  const reason = skipReason(mode);
  describe.skipIf(reason !== null)("BatchNorm folding on the device", () => {
    // The default kernels, one per input size, as a deployed model runs. (With
    // `specializeInputSizes: false`, headlessgl gave one wrong folded bias element after earlier
    // folds in this file: a backend fault outside folding, reported separately.)
    useGpuBackend(mode);

    describe.each(STATISTICS)("%s", (_, bnValues) => {
      it.each(PAIRS.map((c, i) => [c.name, c, i] as const))("%s", async (_, { make, fold, input }, i) => {
        const { reference, device } = copies(make, i + 1, bnValues);
        const before = await Promise.all([...device.parameters()].map((parameter) => parameter.data()));
        const folded = fold(device);
        expectOnDevice(folded);
        expect(folded.training).toBe(false);
        await expectFoldedParameters(folded, fold(reference));
        expect(await Promise.all([...device.parameters()].map((parameter) => parameter.data()))).toEqual(
          before,
        );
        if (bnValues.meanOffset !== 0) return; // Outputs of b ≈ μ ≈ 100 measure the unfolded model's cancellation.
        const x = seeded(input, 50 + i).detach();
        const xGpu = toGpu(x);
        const expected = await reference.forward(x).data();
        const unfolded = await device.forward(xGpu).data();
        const actual = folded.forward(xGpu);
        expect(actual.device).toBe("gpu");
        expect(await actual.data(), "folded vs unfolded output").toBeAllclose(
          unfolded,
          FOLDED_OUTPUT_TOLERANCE,
        );
        expect(await actual.data(), "folded output vs float64 CPU").toBeAllclose(expected, LAYER_TOLERANCE);
      });
    });

    it("fuseModel folds a CNN with a Linear head, the notes as on the CPU", async () => {
      const make = (generator: Generator) =>
        new Sequential(
          new Conv2d(2, 4, 3, { generator, padding: 1 }),
          new BatchNorm2d(4),
          new ReLU(),
          new Flatten(),
          new Linear(4 * 5 * 5, 6, { generator }),
          new BatchNorm1d(6),
          new ReLU(),
          new BatchNorm1d(6),
          new Linear(6, 3, { generator }),
        );
      const { reference, device } = copies(make, 7, { meanOffset: 0, varScale: 1 });
      const fused = fuseModel(device);
      const fusedReference = fuseModel(reference);
      expect([...fused.model].map((module) => module.typeName)).toEqual([
        "Conv2d",
        "ReLU",
        "Flatten",
        "Linear",
        "ReLU",
        "Linear",
      ]);
      expect(fused.notes).toEqual(fusedReference.notes);
      expectOnDevice(fused.model);
      await expectFoldedParameters(fused.model, fusedReference.model);
      const x = seeded([3, 2, 5, 5], 70).detach();
      const xGpu = toGpu(x);
      const actual = await fused.model.forward(xGpu).data();
      expect(actual, "folded vs unfolded").toBeAllclose(
        await device.forward(xGpu).data(),
        FOLDED_OUTPUT_TOLERANCE,
      );
      expect(actual, "folded vs float64 CPU").toBeAllclose(
        await reference.forward(x).data(),
        LAYER_TOLERANCE,
      );
    });

    it("refuses a layer and a BatchNorm on different devices, naming both", () => {
      const conv = new Conv2d(2, 3, 1).to("gpu").eval();
      const bn = new BatchNorm2d(3).eval();
      expect(() => fuseConvBn(conv, bn)).toThrow(
        'fuseConvBn: the Conv2d(2, 3) is on device "gpu" but BatchNorm2d(3,',
      );
    });
  });
});
