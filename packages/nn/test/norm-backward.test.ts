// The hand-derived norm backward (fused kernels and composed fallback) against autograd of a plain reference, and gradcheck.
import { fromValues, gradcheck, type NormLayout, type Shape, type Tensor } from "@normgrad/core";
import { seeded } from "@normgrad/testing";
import { describe, expect, it } from "vitest";
import { batchNorm } from "../src/functional/batch-norm.ts";
import { groupNorm } from "../src/functional/group-norm.ts";
import { instanceNorm } from "../src/functional/instance-norm.ts";
import { layerNorm } from "../src/functional/layer-norm.ts";
import { normalizeImplementations } from "../src/functional/normalize.ts";

const EPS = 1e-3;

/** Running statistics for the cases that normalize with given ones (eval mode). */
function runningStatistics(channels: number): { mean: Tensor; variance: Tensor } {
  const values = Array.from({ length: channels }, (_, c) => c);
  return {
    mean: fromValues(
      values.map((c) => 0.3 * c - 0.2),
      [channels],
      { dtype: "float64" },
    ),
    variance: fromValues(
      values.map((c) => 0.5 + 0.25 * c),
      [channels],
      { dtype: "float64" },
    ),
  };
}

interface NormCase {
  name: string;
  shape: Shape;
  layout: NormLayout;
  /** Shape of weight and bias. */
  affineShape: Shape;
  /** Normalize with running statistics (eval mode) instead of the input's own. */
  given: boolean;
  /** The public functional form. */
  call: (x: Tensor, weight: Tensor | null, bias: Tensor | null) => Tensor;
}

const running3 = runningStatistics(3);

const CASES: NormCase[] = [
  {
    name: "batchNorm (N, C) training",
    shape: [5, 3],
    layout: { kind: "per-channel", outer: 5, channels: 3, inner: 1 },
    affineShape: [3],
    given: false,
    call: (x, weight, bias) => batchNorm(x, null, null, { weight, bias, training: true, eps: EPS }),
  },
  {
    name: "batchNorm (N, C, L) training",
    shape: [4, 3, 5],
    layout: { kind: "per-channel", outer: 4, channels: 3, inner: 5 },
    affineShape: [3],
    given: false,
    call: (x, weight, bias) => batchNorm(x, null, null, { weight, bias, training: true, eps: EPS }),
  },
  {
    name: "batchNorm (N, C, H, W) training",
    shape: [3, 3, 2, 3],
    layout: { kind: "per-channel", outer: 3, channels: 3, inner: 6 },
    affineShape: [3],
    given: false,
    call: (x, weight, bias) => batchNorm(x, null, null, { weight, bias, training: true, eps: EPS }),
  },
  {
    name: "batchNorm (N, C, H, W) eval",
    shape: [3, 3, 2, 3],
    layout: { kind: "per-channel", outer: 3, channels: 3, inner: 6 },
    affineShape: [3],
    given: true,
    call: (x, weight, bias) => batchNorm(x, running3.mean, running3.variance, { weight, bias, eps: EPS }),
  },
  {
    name: "batchNorm (N, C) eval",
    shape: [4, 3],
    layout: { kind: "per-channel", outer: 4, channels: 3, inner: 1 },
    affineShape: [3],
    given: true,
    call: (x, weight, bias) => batchNorm(x, running3.mean, running3.variance, { weight, bias, eps: EPS }),
  },
  {
    name: "layerNorm over the last dim",
    shape: [2, 3, 5],
    layout: { kind: "per-group", outer: 6, channels: 5, inner: 1, groups: 1 },
    affineShape: [5],
    given: false,
    call: (x, weight, bias) => layerNorm(x, [5], { weight, bias, eps: EPS }),
  },
  // The kernels take LayerNorm rows in pairs: 3 rows end on a row alone, 1 row is only that.
  {
    name: "layerNorm over the last dim, 3 rows",
    shape: [3, 5],
    layout: { kind: "per-group", outer: 3, channels: 5, inner: 1, groups: 1 },
    affineShape: [5],
    given: false,
    call: (x, weight, bias) => layerNorm(x, [5], { weight, bias, eps: EPS }),
  },
  {
    name: "layerNorm over the last dim, 1 row",
    shape: [1, 6],
    layout: { kind: "per-group", outer: 1, channels: 6, inner: 1, groups: 1 },
    affineShape: [6],
    given: false,
    call: (x, weight, bias) => layerNorm(x, [6], { weight, bias, eps: EPS }),
  },
  {
    name: "layerNorm over the last two dims, 3 rows",
    shape: [3, 2, 4],
    layout: { kind: "per-group", outer: 3, channels: 8, inner: 1, groups: 1 },
    affineShape: [2, 4],
    given: false,
    call: (x, weight, bias) => layerNorm(x, [2, 4], { weight, bias, eps: EPS }),
  },
  {
    name: "layerNorm over the last two dims",
    shape: [2, 3, 4],
    layout: { kind: "per-group", outer: 2, channels: 12, inner: 1, groups: 1 },
    affineShape: [3, 4],
    given: false,
    call: (x, weight, bias) => layerNorm(x, [3, 4], { weight, bias, eps: EPS }),
  },
  {
    name: "groupNorm, 3 groups of 2 channels",
    shape: [2, 6, 4],
    layout: { kind: "per-group", outer: 2, channels: 6, inner: 4, groups: 3 },
    affineShape: [6],
    given: false,
    call: (x, weight, bias) => groupNorm(x, 3, { weight, bias, eps: EPS }),
  },
  {
    name: "groupNorm on (N, C), 2 groups",
    shape: [3, 4],
    layout: { kind: "per-group", outer: 3, channels: 4, inner: 1, groups: 2 },
    affineShape: [4],
    given: false,
    call: (x, weight, bias) => groupNorm(x, 2, { weight, bias, eps: EPS }),
  },
  {
    name: "instanceNorm",
    shape: [2, 3, 2, 3],
    layout: { kind: "per-group", outer: 2, channels: 3, inner: 6, groups: 3 },
    affineShape: [3],
    given: false,
    call: (x, weight, bias) => instanceNorm(x, { weight, bias, eps: EPS }),
  },
  {
    name: "instanceNorm with running statistics (useInputStats: false)",
    shape: [2, 3, 5],
    layout: { kind: "per-channel", outer: 2, channels: 3, inner: 5 },
    affineShape: [3],
    given: true,
    call: (x, weight, bias) =>
      instanceNorm(x, {
        weight,
        bias,
        eps: EPS,
        useInputStats: false,
        runningMean: running3.mean,
        runningVar: running3.variance,
      }),
  },
];

/**
 * The reference: the same normalization written with plain tensor ops (mean, subtract, square,
 * rsqrt), so autograd differentiates it with no hand-written rule.
 */
function reference(testCase: NormCase, x: Tensor, weight: Tensor | null, bias: Tensor | null): Tensor {
  const { layout } = testCase;
  const threeD = [layout.outer, layout.channels, layout.inner];
  const grouped =
    layout.kind === "per-channel"
      ? threeD
      : [layout.outer, layout.groups, (layout.channels / layout.groups) * layout.inner];
  const axes = layout.kind === "per-channel" ? [0, 2] : [2];
  const xg = x.reshape(grouped);
  let xhat: Tensor;
  if (testCase.given) {
    const shape = [1, layout.channels, 1];
    xhat = xg.sub(running3.mean.reshape(shape)).mul(running3.variance.reshape(shape).add(EPS).rsqrt());
  } else {
    const centred = xg.sub(xg.mean(axes, true));
    xhat = centred.mul(centred.square().mean(axes, true).add(EPS).rsqrt());
  }
  let y = xhat.reshape(threeD);
  if (weight !== null) y = y.mul(weight.reshape([1, layout.channels, 1]));
  if (bias !== null) y = y.add(bias.reshape([1, layout.channels, 1]));
  return y.reshape(x.shape);
}

interface AffineVariant {
  name: string;
  weight: boolean;
  bias: boolean;
  /** Whether weight and bias take gradients. */
  learnable: boolean;
}

const AFFINE: AffineVariant[] = [
  { name: "weight and bias", weight: true, bias: true, learnable: true },
  { name: "no affine", weight: false, bias: false, learnable: true },
  { name: "weight only", weight: true, bias: false, learnable: true },
  { name: "frozen weight and bias", weight: true, bias: true, learnable: false },
];

function makeInputs(testCase: NormCase, variant: AffineVariant) {
  const x = seeded(testCase.shape, 11, { scale: 1.5, offset: 0.4 });
  const options = { requiresGrad: variant.learnable, scale: 0.5, offset: 1 };
  const weight = variant.weight ? seeded(testCase.affineShape, 12, options) : null;
  const bias = variant.bias ? seeded(testCase.affineShape, 13, { ...options, offset: 0 }) : null;
  const dy = seeded(testCase.shape, 14, { requiresGrad: false });
  return { x, weight, bias, dy };
}

/** Output and gradients of `fn` for the upstream gradient dy. */
function outputAndGrads(
  fn: (x: Tensor, weight: Tensor | null, bias: Tensor | null) => Tensor,
  x: Tensor,
  weight: Tensor | null,
  bias: Tensor | null,
  dy: Tensor,
) {
  for (const input of [x, weight, bias]) if (input !== null) input.grad = null;
  const output = fn(x, weight, bias);
  output.backward(dy);
  return { output, grads: [x.grad, weight?.grad ?? null, bias?.grad ?? null] };
}

describe.each(CASES)("$name", (testCase) => {
  const implementations = Object.entries(normalizeImplementations);

  describe.each(AFFINE)("with $name", (variant) => {
    it.each(implementations)(
      "the %s backward matches autograd of the composed reference (atol 1e-10)",
      (_, run) => {
        const { x, weight, bias, dy } = makeInputs(testCase, variant);
        const statistics = testCase.given ? running3 : null;
        const expected = outputAndGrads((...args) => reference(testCase, ...args), x, weight, bias, dy);
        const actual = outputAndGrads(
          (input, w, b) => run(input, testCase.layout, w, b, { eps: EPS, statistics }).output,
          x,
          weight,
          bias,
          dy,
        );
        const tolerance = { rtol: 0, atol: 1e-10 };
        expect(actual.output, "output").toBeAllclose(expected.output.dataSync(), tolerance);
        actual.grads.forEach((grad, i) => {
          const want = expected.grads[i];
          if (want === null) expect(grad).toBeNull();
          else expect(grad, ["dx", "dweight", "dbias"][i]).toBeAllclose(want.dataSync(), tolerance);
        });
      },
    );

    it("passes float64 gradcheck through the functional form", () => {
      const { x, weight, bias } = makeInputs(testCase, variant);
      const inputs = [x, weight, bias].filter((input) => input !== null);
      const reports = gradcheck(
        (input, ...rest) => {
          const w = variant.weight ? rest[0] : null;
          const b = variant.bias ? rest[variant.weight ? 1 : 0] : null;
          return testCase.call(input, w, b);
        },
        inputs,
        { atol: 1e-7, rtol: 1e-5 },
      );
      expect(reports.length).toBe(inputs.filter((input) => input.requiresGrad).length);
    });
  });
});

describe("normalize, fused and composed", () => {
  it.each(CASES.filter((testCase) => !testCase.given))(
    "give the same batch statistics: $name",
    (testCase) => {
      const x = seeded(testCase.shape, 5, { requiresGrad: false });
      const [fused, composed] = [normalizeImplementations.fused, normalizeImplementations.composed].map(
        (run) => run(x, testCase.layout, null, null, { eps: EPS, statistics: null }).statistics,
      );
      expect(fused?.mean ?? null, "mean").toBeAllclose(composed?.mean.dataSync() ?? [], {
        rtol: 0,
        atol: 1e-14,
      });
      expect(fused?.variance ?? null, "variance").toBeAllclose(composed?.variance.dataSync() ?? [], {
        rtol: 0,
        atol: 1e-14,
      });
    },
  );
});

describe("normalize on strided views", () => {
  it("gives a transposed x, a broadcast weight and a broadcast dy the results of contiguous copies", () => {
    const run = (x: Tensor, weight: Tensor, upstream: "sum" | "ones") => {
      const y = batchNorm(x, null, null, { weight, training: true });
      if (upstream === "sum") y.sum().backward();
      else y.backward(y.onesLike());
      return y;
    };
    // x: a (4, 3, 5) view of a (4, 5, 3) tensor; weight: one value expanded to 3 (stride 0);
    // dy: the gradient of sum(), a scalar expanded to x's shape.
    const transposed = seeded([4, 5, 3], 21);
    const scalarWeight = seeded([1], 22, { offset: 1 });
    const strided = run(transposed.transpose(1, 2), scalarWeight.expand([3]), "sum");
    const x = fromValues(transposed.transpose(1, 2).contiguous().dataSync(), [4, 3, 5], {
      dtype: "float64",
      requiresGrad: true,
    });
    const weight = fromValues(Array(3).fill(scalarWeight.item()), [3], {
      dtype: "float64",
      requiresGrad: true,
    });
    const contiguous = run(x, weight, "ones");
    const tolerance = { rtol: 0, atol: 1e-14 };
    expect(strided, "output").toBeAllclose(contiguous.dataSync(), tolerance);
    expect(x.grad, "dx").toBeAllclose(
      transposed.grad?.transpose(1, 2).contiguous().dataSync() ?? [],
      tolerance,
    );
    const summed = Array.from(weight.grad?.dataSync() ?? []).reduce((a, b) => a + b, 0);
    expect(scalarWeight.grad, "dweight").toBeAllclose([summed], tolerance);
  });
});

describe("float64 statistics of data far from zero", () => {
  // Mean 1e8, std 1: E[x²] − E[x]² would lose ~16 digits of 1e16 here; the shifted sums keep them.
  it.each(CASES.filter((testCase) => !testCase.given))("are exact to 1e-9 relative: $name", (testCase) => {
    const x = seeded(testCase.shape, 31, { requiresGrad: false, offset: 1e8 });
    const { statistics } = normalizeImplementations.fused(x, testCase.layout, null, null, {
      eps: EPS,
      statistics: null,
    });
    // x − 1e8 is exact (Sterbenz), so this reference sees the very same values, centred.
    const centred = x.sub(1e8);
    const reference = normalizeImplementations.composed(centred, testCase.layout, null, null, {
      eps: EPS,
      statistics: null,
    }).statistics;
    expect(statistics?.variance ?? null, "variance").toBeAllclose(reference?.variance.dataSync() ?? [], {
      rtol: 1e-9,
      atol: 0,
    });
    expect(statistics?.mean ?? null, "mean").toBeAllclose(
      Array.from(reference?.mean.dataSync() ?? [], (mean) => mean + 1e8),
      { rtol: 1e-15, atol: 0 },
    );
  });
});
