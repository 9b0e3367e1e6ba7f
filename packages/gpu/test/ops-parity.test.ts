// Every op, forward and backward, on the GPU.js backend (float32) against the CPU backend in float64.
import {
  type AvgPool2dParams,
  avgPool2d,
  type Conv2dParams,
  cat,
  conv2d,
  maxPool2d,
  type Pool2dParams,
  type Shape,
  stack,
  type Tensor,
  tensor,
  where,
} from "@normgrad/core";
import { type Domain, seeded, type Tolerance } from "@normgrad/testing";
import { describe, expect, it } from "vitest";
import { MODE_SETUP, SUITE_MODES, skipReason, toGpu, useGpuBackend } from "./helpers.ts";

/** Float32 against float64: elementwise results to a few ulps, sums and products to their rounding growth. */
const ELEMENTWISE: Tolerance = { rtol: 1e-5, atol: 1e-6 };
const ACCUMULATED: Tolerance = { rtol: 1e-4, atol: 1e-5 };

type Input = { shape: Shape; domain?: Domain } | { index: Tensor };

interface ParityCase {
  name: string;
  inputs: readonly Input[];
  fn: (...inputs: Tensor[]) => Tensor;
  tolerance?: Tolerance;
  /** False for ops with an integer output (no gradient). */
  backward?: boolean;
}

const float = (shape: Shape, domain?: Domain): Input => ({ shape, domain });
const indices = (values: number[][]): Input => ({ index: tensor(values, { dtype: "int32" }) });

function convParams(stride: number, padding: number, dilation: number, groups: number): Conv2dParams {
  return {
    stride: [stride, stride],
    padding: [
      [padding, padding],
      [padding, padding],
    ],
    dilation: [dilation, dilation],
    groups,
  };
}

/** Pooling params with the output size PyTorch's floor mode gives for an H×W input. */
function poolParams(
  size: [number, number],
  kernel: number,
  stride: number,
  padding: number,
  dilation = 1,
): Pool2dParams {
  const out = size.map(
    (extent) => Math.floor((extent + 2 * padding - dilation * (kernel - 1) - 1) / stride) + 1,
  );
  return {
    kernelSize: [kernel, kernel],
    stride: [stride, stride],
    padding: [padding, padding],
    dilation: [dilation, dilation],
    outputSize: [out[0], out[1]],
  };
}

function avgParams(
  base: Pool2dParams,
  countIncludePad: boolean,
  divisorOverride: number | null = null,
): AvgPool2dParams {
  return { ...base, countIncludePad, divisorOverride };
}

const UNARY: readonly [string, (x: Tensor) => Tensor, Domain][] = [
  ["neg", (x) => x.neg(), "normal"],
  ["exp", (x) => x.exp(), "normal"],
  ["log", (x) => x.log(), "positive"],
  ["sqrt", (x) => x.sqrt(), "positive"],
  ["reciprocal", (x) => x.reciprocal(), "nonzero"],
  ["rsqrt", (x) => x.rsqrt(), "positive"],
  ["tanh", (x) => x.mul(3).tanh(), "normal"],
  ["sigmoid", (x) => x.mul(4).sigmoid(), "normal"],
  ["relu", (x) => x.relu(), "nonzero"],
  ["abs", (x) => x.abs(), "nonzero"],
  ["sign", (x) => x.sign(), "nonzero"],
  ["erf", (x) => x.mul(2).erf(), "normal"],
  ["leakyRelu", (x) => x.leakyRelu(0.1), "nonzero"],
  ["gelu", (x) => x.gelu(), "normal"],
  ["gelu tanh", (x) => x.gelu("tanh"), "normal"],
  ["square", (x) => x.square(), "normal"],
  ["clamp", (x) => x.clamp(-0.5, 0.7), "nonzero"],
];

const CASES: readonly ParityCase[] = [
  // Unary ops read a transposed view, so strided addressing is exercised everywhere.
  ...UNARY.map(
    ([name, fn, domain]): ParityCase => ({ name, inputs: [float([4, 3], domain)], fn: (x) => fn(x.mT) }),
  ),
  { name: "add, broadcast (3,1,4)+(2,4)", inputs: [float([3, 1, 4]), float([2, 4])], fn: (a, b) => a.add(b) },
  {
    name: "sub, sliced views",
    inputs: [float([4, 5]), float([4, 5])],
    fn: (a, b) =>
      a
        .narrow(0, 1, 2)
        .narrow(1, 1, 3)
        .sub(b.slice(0, 2).slice(1, 0, 3)),
  },
  {
    name: "mul, transposed × expanded",
    inputs: [float([3, 4]), float([1, 3])],
    fn: (a, b) => a.mT.mul(b.expand([4, 3])),
  },
  { name: "div", inputs: [float([2, 3]), float([2, 3], "nonzero")], fn: (a, b) => a.div(b) },
  {
    name: "pow, tensor exponent",
    inputs: [float([2, 3], "positive"), float([2, 3])],
    fn: (a, b) => a.pow(b),
  },
  {
    name: "pow, integer exponent of a negative base",
    inputs: [float([2, 3], "nonzero")],
    fn: (a) => a.pow(3),
  },
  { name: "maximum", inputs: [float([2, 3]), float([2, 3])], fn: (a, b) => a.maximum(b) },
  { name: "minimum, broadcast", inputs: [float([2, 3]), float([3])], fn: (a, b) => a.minimum(b) },
  ...(["eq", "ne", "lt", "le", "gt", "ge"] as const).map(
    (op): ParityCase => ({
      name: `${op} (int32 mask)`,
      inputs: [float([3, 4])],
      // Rounded so that equal values occur.
      fn: (a) => a.mul(2).sign().add(a.gt(0.5))[op](a.mT.mT.sign()),
      backward: false,
    }),
  ),
  {
    name: "where",
    inputs: [float([3, 4]), float([3, 4]), float([4])],
    fn: (c, a, b) => where(c.gt(0), a, b),
  },
  { name: "sum, all", inputs: [float([3, 4, 5])], fn: (x) => x.sum(), tolerance: ACCUMULATED },
  { name: "sum over (0, 2)", inputs: [float([3, 4, 5])], fn: (x) => x.sum([0, 2]), tolerance: ACCUMULATED },
  {
    name: "mean of a permuted view",
    inputs: [float([3, 4, 5])],
    fn: (x) => x.permute(2, 0, 1).mean(1, true),
  },
  { name: "max over dim 1", inputs: [float([3, 5, 2])], fn: (x) => x.max(1) },
  { name: "min over dims (0, 1)", inputs: [float([3, 5, 2])], fn: (x) => x.min([0, 1]) },
  { name: "argmax", inputs: [float([4, 6])], fn: (x) => x.argmax(1), backward: false },
  {
    name: "argmin of a transposed view",
    inputs: [float([4, 6])],
    fn: (x) => x.mT.argmin(0),
    backward: false,
  },
  { name: "var (unbiased)", inputs: [float([4, 6])], fn: (x) => x.var(1), tolerance: ACCUMULATED },
  { name: "std over all", inputs: [float([4, 6])], fn: (x) => x.std(), tolerance: ACCUMULATED },
  { name: "logsumexp", inputs: [float([3, 7])], fn: (x) => x.mul(5).logsumexp(1), tolerance: ACCUMULATED },
  { name: "softmax", inputs: [float([3, 7])], fn: (x) => x.softmax(-1), tolerance: ACCUMULATED },
  {
    name: "logSoftmax over dim 0",
    inputs: [float([5, 3])],
    fn: (x) => x.logSoftmax(0),
    tolerance: ACCUMULATED,
  },
  {
    name: "matmul (5,7)·(7,3)",
    inputs: [float([5, 7]), float([7, 3])],
    fn: (a, b) => a.matmul(b),
    tolerance: ACCUMULATED,
  },
  {
    name: "matmul, batched with a broadcast batch, K = 37",
    inputs: [float([2, 3, 37]), float([37, 4])],
    fn: (a, b) => a.matmul(b),
    tolerance: ACCUMULATED,
  },
  {
    name: "matmul of transposed operands",
    inputs: [float([6, 4]), float([5, 6])],
    fn: (a, b) => a.mT.matmul(b.mT),
    tolerance: ACCUMULATED,
  },
  {
    name: "matmul vector·matrix",
    inputs: [float([4]), float([4, 3])],
    fn: (a, b) => a.matmul(b),
    tolerance: ACCUMULATED,
  },
  {
    name: "matmul matrix·vector",
    inputs: [float([3, 4]), float([4])],
    fn: (a, b) => a.matmul(b),
    tolerance: ACCUMULATED,
  },
  {
    name: "reshape of a transposed view (copy)",
    inputs: [float([3, 4])],
    fn: (x) => x.mT.reshape([2, 6]).mul(2),
  },
  {
    name: "expand then contiguous",
    inputs: [float([3, 1])],
    fn: (x) => x.expand([3, 4]).contiguous().mul(2),
  },
  { name: "pad", inputs: [float([2, 3, 4])], fn: (x) => x.pad([1, 2, 0, 1], 0.5) },
  {
    name: "cat along dim 1",
    inputs: [float([2, 3]), float([2, 1]), float([2, 2])],
    fn: (a, b, c) => cat([a, b.mul(2), c], 1),
  },
  {
    name: "cat of 8 inputs (two kernel calls)",
    inputs: [float([8, 2, 3])],
    fn: (x) =>
      cat(
        Array.from({ length: 8 }, (_, i) => x.narrow(0, i, 1).mul(i + 1)),
        2,
      ),
  },
  { name: "stack", inputs: [float([2, 3]), float([2, 3])], fn: (a, b) => stack([a, b.exp()], 1) },
  {
    name: "gather",
    inputs: [
      float([3, 4]),
      indices([
        [0, 3],
        [2, 2],
        [1, 0],
      ]),
    ],
    fn: (x, i) => x.gather(1, i),
  },
  {
    name: "indexSelect",
    inputs: [float([4, 3]), { index: tensor([3, 0, 3], { dtype: "int32" }) }],
    fn: (x, i) => x.indexSelect(0, i),
  },
  {
    name: "cast to int32 (truncates)",
    inputs: [float([3, 4])],
    fn: (x) => x.mul(3).to("int32"),
    backward: false,
  },
  ...(
    [
      ["basic", [2, 3, 5, 5], [4, 3, 3, 3], convParams(1, 0, 1, 1)],
      ["stride 2, padding 1", [2, 3, 6, 6], [4, 3, 3, 3], convParams(2, 1, 1, 1)],
      ["dilation 2, padding 2", [1, 2, 7, 7], [3, 2, 3, 3], convParams(1, 2, 2, 1)],
      ["groups 2", [2, 4, 5, 5], [6, 2, 3, 3], convParams(1, 1, 1, 2)],
      ["depthwise, stride 2", [1, 3, 6, 6], [6, 1, 3, 3], convParams(2, 1, 1, 3)],
    ] as const
  ).map(
    ([name, xShape, wShape, params]): ParityCase => ({
      name: `conv2d ${name}`,
      inputs: [float(xShape), float(wShape)],
      fn: (x, w) => conv2d(x, w, params),
      tolerance: ACCUMULATED,
    }),
  ),
  {
    name: "conv2d, asymmetric padding and stride",
    inputs: [float([1, 2, 7, 6]), float([3, 2, 3, 2])],
    fn: (x, w) =>
      conv2d(x, w, {
        stride: [2, 1],
        padding: [
          [1, 0],
          [2, 1],
        ],
        dilation: [1, 2],
        groups: 1,
      }),
    tolerance: ACCUMULATED,
  },
  {
    name: "maxPool2d 2×2/2",
    inputs: [float([2, 2, 4, 4])],
    fn: (x) => maxPool2d(x, poolParams([4, 4], 2, 2, 0))[0],
  },
  {
    name: "maxPool2d 3×3/2 pad 1",
    inputs: [float([1, 2, 5, 5])],
    fn: (x) => maxPool2d(x, poolParams([5, 5], 3, 2, 1))[0],
  },
  {
    name: "maxPool2d dilation 2",
    inputs: [float([1, 2, 5, 5])],
    fn: (x) => maxPool2d(x, poolParams([5, 5], 2, 1, 0, 2))[0],
  },
  {
    name: "maxPool2d indices",
    inputs: [float([1, 2, 5, 5])],
    fn: (x) => maxPool2d(x, poolParams([5, 5], 3, 2, 1))[1],
    backward: false,
  },
  {
    name: "avgPool2d 2×2/2",
    inputs: [float([2, 2, 4, 4])],
    fn: (x) => avgPool2d(x, avgParams(poolParams([4, 4], 2, 2, 0), true)),
  },
  {
    name: "avgPool2d 3×3/2 pad 1, padding counted",
    inputs: [float([1, 2, 5, 5])],
    fn: (x) => avgPool2d(x, avgParams(poolParams([5, 5], 3, 2, 1), true)),
  },
  {
    name: "avgPool2d 3×3/2 pad 1, padding not counted",
    inputs: [float([1, 2, 5, 5])],
    fn: (x) => avgPool2d(x, avgParams(poolParams([5, 5], 3, 2, 1), false)),
  },
  {
    name: "avgPool2d divisor override",
    inputs: [float([1, 1, 4, 4])],
    fn: (x) => avgPool2d(x, avgParams(poolParams([4, 4], 2, 2, 0), true, 3)),
  },
];

/** Runs a case on the CPU in float64 and on the GPU in float32; compares outputs and input gradients. */
async function checkParity(
  { inputs, fn, tolerance = ELEMENTWISE, backward = true }: ParityCase,
  seed: number,
): Promise<void> {
  const cpuInputs = inputs.map((input, i) =>
    "index" in input ? input.index : seeded(input.shape, seed + i, { domain: input.domain }),
  );
  const gpuInputs = cpuInputs.map(toGpu);
  const expected = fn(...cpuInputs);
  const actual = fn(...gpuInputs);
  expect(actual.device).toBe("gpu");
  expect(actual.shape).toEqual(expected.shape);
  expect(actual.dtype).toBe(expected.dtype === "float64" ? "float32" : expected.dtype);
  expect(await actual.data(), "output").toBeAllclose(await expected.data(), tolerance);
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
    expect(await got.data(), `gradient of input ${i}`).toBeAllclose(await want.data(), tolerance);
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

    it.each(CASES.map((c, i) => [c.name, c, i] as const))("%s", async (_, parityCase, i) => {
      await checkParity(parityCase, 1000 * i);
    });
  });
});
