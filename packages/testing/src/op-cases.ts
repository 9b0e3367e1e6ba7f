// OP_CASES: the test cases of every primitive, typed by Primitive, that drive core's float64 gradcheck suite and gpu's parity suite.
import {
  type AvgPool2dParams,
  type Conv2dParams,
  cat,
  einsum,
  type GradcheckOptions,
  matrixNorm,
  type NestedArray,
  type Pool2dParams,
  type Primitive,
  type Shape,
  stack,
  type Tensor,
  tensor,
  vectorNorm,
  where,
} from "../../core/src/index.ts";
import {
  avgPool2d,
  avgPool2dBackward,
  conv2d,
  conv2dInputGrad,
  conv2dWeightGrad,
  maxPool2d,
} from "../../core/src/internal.ts";
// scatterAdd is internal to core (gather's gradient); core's own tests reach it the same way.
import { scatterAdd } from "../../core/src/primitives.ts";
import { type Domain, seeded } from "./seeded.ts";
import type { Tolerance } from "./to-be-allclose.ts";

/** An input of a case: a seeded float tensor of `shape` drawn from `domain`, or fixed int32 values (indices, masks). */
export type OpInput = { readonly shape: Shape; readonly domain?: Domain } | { readonly int32: NestedArray };

/** Why a suite does not run a case; the suites create no test for it. */
export interface NotRun {
  readonly notRun: string;
}

/** How the GPU parity suite compares the float32 GPU result with the float64 CPU one. */
export interface ParityPlan {
  /** Default "elementwise"; "accumulated" for sums and products (see PARITY_TOLERANCES). */
  readonly tolerance?: keyof typeof PARITY_TOLERANCES;
  /** Compare the inputs' gradients too (default true; false for integer outputs). */
  readonly backward?: boolean;
  /** The op reads values to size its output (maskedSelect, nonzero): modes that cannot read synchronously refuse it. */
  readonly readsValues?: boolean;
}

/** One test case of an op: its inputs and the function applying it. */
export interface OpCase {
  /** Unique within its primitive; the test name. */
  readonly name: string;
  readonly inputs: readonly OpInput[];
  readonly fn: (...inputs: Tensor[]) => Tensor;
  /**
   * core's float64 gradcheck, run on every view of the float inputs (contiguous, transposed,
   * sliced, expanded): the gradcheck options (default gradcheck's own), or why it is not run.
   */
  readonly gradcheck?: GradcheckOptions | NotRun;
  /** gpu's parity with the CPU backend, or why it is not run. */
  readonly parity?: ParityPlan | NotRun;
}

/** A case list with at least one case. */
export type OpCaseList = readonly [OpCase, ...OpCase[]];

/** The table's type: every primitive, each with at least one case. */
export type OpCases = { readonly [P in Primitive]: OpCaseList };

/** Float32 on the GPU against float64 on the CPU: elementwise results to a few ulps, sums and products to their rounding growth. */
export const PARITY_TOLERANCES = {
  elementwise: { rtol: 1e-5, atol: 1e-6 },
  accumulated: { rtol: 1e-4, atol: 1e-5 },
} as const satisfies Record<string, Tolerance>;

/** Whether a suite's plan says the case is not run there. */
export function isNotRun<T extends object>(plan: T | NotRun | undefined): plan is NotRun {
  return plan !== undefined && "notRun" in plan;
}

/**
 * The inputs of a case: float inputs seeded with `seed + i` (float64, requiring grad) in the
 * shape `leafShape` gives (the view makers' leaves; the case's shape by default), int32 inputs
 * as they are.
 */
export function opCaseInputs(
  { inputs }: OpCase,
  seed: number,
  leafShape: (shape: Shape) => Shape = (shape) => shape,
): Tensor[] {
  return inputs.map((input, i) =>
    "int32" in input
      ? tensor(input.int32, { dtype: "int32" })
      : seeded(leafShape(input.shape), seed + i, { domain: input.domain }),
  );
}

/** `cases` as a list typed non-empty (for generated lists; a literal empty entry does not compile). */
function atLeastOne(cases: readonly OpCase[]): OpCaseList {
  const [first, ...rest] = cases;
  if (first === undefined) throw new Error("an op needs at least one case");
  return [first, ...rest];
}

const float = (shape: Shape, domain?: Domain): OpInput => ({ shape, domain });
const int32 = (values: NestedArray): OpInput => ({ int32: values });
const ACCUMULATED: ParityPlan = { tolerance: "accumulated" };
const INTEGER_OUTPUT: NotRun = { notRun: "integer output: nothing to differentiate" };

/** A unary primitive on a transposed (4, 3) input; `scale` widens the input where the op saturates slowly. */
function unary(name: string, fn: (x: Tensor) => Tensor, domain: Domain, scale = 1): OpCaseList {
  const scaled = (x: Tensor): Tensor => (scale === 1 ? x : x.mul(scale));
  return [
    { name: `${name} of a transposed view`, inputs: [float([4, 3], domain)], fn: (x) => fn(scaled(x.mT)) },
  ];
}

/** A binary arithmetic primitive on equal, row-vector, broadcast and scalar-tensor shapes, and with a number. */
function binary(fn: (a: Tensor, b: Tensor | number) => Tensor, a: Domain, b: Domain): OpCaseList {
  return atLeastOne([
    ...(
      [
        ["equal shapes", [2, 3], [2, 3]],
        ["a row vector", [2, 3], [3]],
        ["both broadcast", [2, 1, 3], [4, 1]],
        ["a scalar tensor", [2, 3], []],
      ] as const
    ).map(
      ([name, shapeA, shapeB]): OpCase => ({
        name: `with ${name}`,
        inputs: [float(shapeA, a), float(shapeB, b)],
        fn: (x, y) => fn(x, y),
      }),
    ),
    { name: "with a number operand", inputs: [float([2, 3], a)], fn: (x) => fn(x, 0.7) },
  ]);
}

/** A reduction over one, the last (keepdim), two, and all axes of a (2, 3, 2) input. */
function reduction(
  fn: (x: Tensor, dim: number | number[] | undefined, keepdim: boolean) => Tensor,
  parity: ParityPlan,
): OpCaseList {
  const axes = [
    ["one axis", 1, false],
    ["the last axis, keepdim", -1, true],
    ["two axes", [0, 2], false],
    ["two axes, keepdim", [2, 0], true],
    ["all axes", undefined, false],
    ["all axes, keepdim", [0, 1, 2], true],
  ] as const;
  return atLeastOne(
    axes.map(([name, dim, keepdim]) => ({
      name: `over ${name}`,
      inputs: [float([2, 3, 2])],
      fn: (x: Tensor) => fn(x, typeof dim === "object" ? [...dim] : dim, keepdim),
      parity,
    })),
  );
}

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

/**
 * The cases of every primitive. The mapped type makes a primitive without cases a compile error,
 * as the VJP table in primitives.ts does for a primitive without a rule. Each case runs in both
 * suites unless it says why not; packages/testing/test/op-cases.test.ts checks that every
 * primitive is gradchecked and has GPU parity or a reason.
 */
export const OP_CASES: OpCases = {
  neg: unary("neg", (x) => x.neg(), "normal"),
  exp: unary("exp", (x) => x.exp(), "normal"),
  log: unary("log", (x) => x.log(), "positive"),
  sqrt: unary("sqrt", (x) => x.sqrt(), "positive"),
  recip: unary("reciprocal", (x) => x.reciprocal(), "nonzero"),
  tanh: unary("tanh", (x) => x.tanh(), "normal", 3),
  sigmoid: unary("sigmoid", (x) => x.sigmoid(), "normal", 4),
  relu: unary("relu", (x) => x.relu(), "nonzero"),
  abs: unary("abs", (x) => x.abs(), "nonzero"),
  sign: unary("sign", (x) => x.sign(), "nonzero"),
  erf: unary("erf", (x) => x.erf(), "normal", 2),
  sin: unary("sin", (x) => x.sin(), "normal"),
  cos: unary("cos", (x) => x.cos(), "normal"),
  atan: unary("atan", (x) => x.atan(), "normal"),
  log1p: unary("log1p", (x) => x.log1p(), "positive"),
  expm1: unary("expm1", (x) => x.expm1(), "normal"),
  add: [
    ...binary((a, b) => a.add(b), "normal", "normal"),
    { name: "broadcast (3,1,4)+(2,4)", inputs: [float([3, 1, 4]), float([2, 4])], fn: (a, b) => a.add(b) },
  ],
  sub: [
    ...binary((a, b) => a.sub(b), "normal", "normal"),
    {
      name: "of sliced views",
      inputs: [float([4, 5]), float([4, 5])],
      fn: (a, b) =>
        a
          .narrow(0, 1, 2)
          .narrow(1, 1, 3)
          .sub(b.slice(0, 2).slice(1, 0, 3)),
    },
  ],
  mul: [
    ...binary((a, b) => a.mul(b), "normal", "normal"),
    {
      name: "transposed × expanded",
      inputs: [float([3, 4]), float([1, 3])],
      fn: (a, b) => a.mT.mul(b.expand([4, 3])),
    },
  ],
  div: binary((a, b) => a.div(b), "normal", "nonzero"),
  pow: [
    ...binary((a, b) => a.pow(b), "positive", "normal"),
    { name: "integer exponent of a negative base", inputs: [float([2, 3], "nonzero")], fn: (a) => a.pow(3) },
  ],
  maximum: binary((a, b) => a.maximum(b), "normal", "normal"),
  minimum: binary((a, b) => a.minimum(b), "normal", "normal"),
  where: [
    {
      name: "with equal shapes",
      inputs: [
        int32([
          [1, 0, 1],
          [0, 0, 1],
        ]),
        float([2, 3]),
        float([2, 3]),
      ],
      fn: (condition, a, b) => where(condition, a, b),
    },
    {
      name: "with a broadcast condition and a scalar branch",
      inputs: [int32([0, 1, 1]), float([2, 3]), float([])],
      fn: (condition, a, b) => where(condition, a, b),
    },
    {
      name: "with a broadcast bool condition",
      inputs: [int32([[1], [0]]), float([2, 3]), float([2, 3])],
      fn: (condition, a, b) => where(condition.to("bool"), a, b),
    },
    {
      name: "with a broadcast second branch",
      inputs: [
        int32([
          [1, 0, 0, 1],
          [0, 1, 1, 0],
          [1, 1, 0, 0],
        ]),
        float([3, 4]),
        float([4]),
      ],
      fn: (condition, a, b) => where(condition, a, b),
    },
  ],
  sum: [
    ...reduction((x, dim, keepdim) => x.sum(dim, keepdim), ACCUMULATED),
    {
      name: "of all of a (3, 4, 5) input",
      inputs: [float([3, 4, 5])],
      fn: (x) => x.sum(),
      parity: ACCUMULATED,
    },
    {
      name: "over (0, 2) of a (3, 4, 5) input",
      inputs: [float([3, 4, 5])],
      fn: (x) => x.sum([0, 2]),
      parity: ACCUMULATED,
    },
  ],
  max: [
    ...reduction((x, dim, keepdim) => x.max(dim, keepdim), {}),
    { name: "over dim 1 of a (3, 5, 2) input", inputs: [float([3, 5, 2])], fn: (x) => x.max(1) },
  ],
  min: [
    ...reduction((x, dim, keepdim) => x.min(dim, keepdim), {}),
    { name: "over dims (0, 1) of a (3, 5, 2) input", inputs: [float([3, 5, 2])], fn: (x) => x.min([0, 1]) },
  ],
  matmul: [
    {
      name: "of transposed operands",
      inputs: [float([6, 4]), float([5, 6])],
      fn: (a, b) => a.mT.matmul(b.mT),
      parity: ACCUMULATED,
    },
    ...(
      [
        ["matrix @ matrix", [2, 3], [3, 4]],
        ["batched", [2, 2, 3], [2, 3, 2]],
        ["broadcast batch dims", [2, 1, 2, 3], [3, 3, 2]],
        ["matrix @ batch", [2, 3], [2, 3, 2]],
        ["vector @ matrix", [3], [3, 2]],
        ["matrix @ vector", [2, 3], [3]],
        ["vector @ vector", [3], [3]],
        ["vector @ batch", [3], [2, 3, 2]],
        ["batch @ vector", [2, 2, 3], [3]],
        ["(5,7)·(7,3)", [5, 7], [7, 3]],
        ["batched with a broadcast batch, K = 37", [2, 3, 37], [37, 4]],
      ] as const
    ).map(
      ([name, a, b]): OpCase => ({
        name,
        inputs: [float(a), float(b)],
        fn: (x, y) => x.matmul(y),
        parity: ACCUMULATED,
      }),
    ),
  ],
  reshape: [
    { name: "to (3, 4)", inputs: [float([2, 3, 2])], fn: (x) => x.reshape([3, 4]) },
    { name: "with -1", inputs: [float([2, 3, 2])], fn: (x) => x.reshape([-1, 2]) },
    { name: "view to a scalar", inputs: [float([1, 1])], fn: (x) => x.view([]) },
    { name: "flatten", inputs: [float([2, 3, 2])], fn: (x) => x.flatten(1) },
    { name: "squeeze and unsqueeze", inputs: [float([2, 1, 3])], fn: (x) => x.squeeze(1).unsqueeze(-1) },
    { name: "of a transposed view (copy)", inputs: [float([3, 4])], fn: (x) => x.mT.reshape([2, 6]).mul(2) },
  ],
  permute: [
    { name: "(2, 0, 1)", inputs: [float([2, 3, 2])], fn: (x) => x.permute(2, 0, 1) },
    { name: "transpose", inputs: [float([2, 3, 2])], fn: (x) => x.transpose(0, -1) },
    { name: "then mean", inputs: [float([3, 4, 5])], fn: (x) => x.permute(2, 0, 1).mean(1, true) },
  ],
  expand: [
    { name: "to (2, 3, 4)", inputs: [float([3, 1])], fn: (x) => x.expand([2, 3, 4]) },
    { name: "with -1", inputs: [float([3, 1])], fn: (x) => x.expand([2, -1, 2]) },
    { name: "then contiguous", inputs: [float([3, 1])], fn: (x) => x.expand([3, 4]).contiguous().mul(2) },
  ],
  slice: [
    { name: "slice", inputs: [float([2, 5])], fn: (x) => x.slice(1, 1, -1) },
    { name: "slice of the first dim", inputs: [float([4, 3])], fn: (x) => x.slice(0, 2) },
    { name: "narrow", inputs: [float([3, 4])], fn: (x) => x.narrow(0, 1, 2) },
    { name: "narrow with a negative start", inputs: [float([3, 4])], fn: (x) => x.narrow(1, -3, 2) },
  ],
  pad: [
    { name: "the last dim", inputs: [float([2, 3])], fn: (x) => x.pad([1, 2]) },
    { name: "two dims with a value", inputs: [float([2, 3])], fn: (x) => x.pad([0, 1, 2, 1], 0.5) },
    {
      name: "three dims of a (2, 3, 4) input",
      inputs: [float([2, 3, 4])],
      fn: (x) => x.pad([1, 2, 0, 1], 0.5),
    },
  ],
  contiguous: [
    { name: "contiguous", inputs: [float([2, 3])], fn: (x) => x.contiguous() },
    { name: "clone", inputs: [float([2, 3])], fn: (x) => x.clone() },
  ],
  cat: [
    { name: "along dim 1", inputs: [float([2, 3]), float([2, 1])], fn: (a, b) => cat([a, b, a], 1) },
    { name: "along dim 0", inputs: [float([2, 3]), float([1, 3])], fn: (a, b) => cat([b, a], 0) },
    {
      name: "along dim 1, three inputs",
      inputs: [float([2, 3]), float([2, 1]), float([2, 2])],
      fn: (a, b, c) => cat([a, b.mul(2), c], 1),
    },
    {
      name: "of 8 inputs (two kernel calls on the GPU)",
      inputs: [float([8, 2, 3])],
      fn: (x) =>
        cat(
          Array.from({ length: 8 }, (_, i) => x.narrow(0, i, 1).mul(i + 1)),
          2,
        ),
    },
    { name: "stack along dim 0", inputs: [float([2, 3]), float([2, 3])], fn: (a, b) => stack([a, b]) },
    {
      name: "stack along dim -1",
      inputs: [float([2, 3]), float([2, 3])],
      fn: (a, b) => stack([a, b, a], -1),
    },
    {
      name: "stack along dim 1",
      inputs: [float([2, 3]), float([2, 3])],
      fn: (a, b) => stack([a, b.exp()], 1),
    },
  ],
  gather: [
    {
      name: "gather with repeated indices",
      inputs: [
        float([2, 3]),
        int32([
          [2, 2, 0, 1],
          [0, 1, 1, 1],
        ]),
      ],
      fn: (x, index) => x.gather(1, index),
    },
    {
      name: "gather along dim 0 with a smaller, transposed index",
      inputs: [
        float([2, 3]),
        int32([
          [1, 0],
          [1, 1],
        ]),
      ],
      fn: (x, index) => x.gather(0, index.mT),
    },
    {
      name: "gather of a (3, 4) input",
      inputs: [
        float([3, 4]),
        int32([
          [0, 3],
          [2, 2],
          [1, 0],
        ]),
      ],
      fn: (x, index) => x.gather(1, index),
    },
    {
      name: "indexSelect with repeated indices",
      inputs: [float([2, 3]), int32([2, 0, 2, 1])],
      fn: (x, index) => x.indexSelect(-1, index),
    },
    {
      name: "indexSelect along dim 0",
      inputs: [float([2, 3]), int32([1, 1, 0])],
      fn: (x, i) => x.indexSelect(0, i),
    },
    {
      name: "indexSelect of a (4, 3) input",
      inputs: [float([4, 3]), int32([3, 0, 3])],
      fn: (x, i) => x.indexSelect(0, i),
    },
  ],
  scatterAdd: [
    {
      name: "the primitive behind gather's gradient",
      inputs: [
        float([2, 4]),
        int32([
          [2, 0, 2, 1],
          [0, 0, 1, 2],
        ]),
      ],
      fn: (x, index) => scatterAdd(x, 1, index, [2, 3]),
    },
  ],
  cast: [
    {
      name: "float64 → float32 → float64",
      inputs: [float([2, 3])],
      fn: (x) => x.to("float32").mul(3).to("float64"),
      // float32 rounding (~6e-8 relative) over a step of 1e-3 leaves ~1e-4 of noise in the quotient.
      gradcheck: { eps: 1e-3, atol: 1e-3 },
      parity: { notRun: "GPU.js stores float32 only, so there is no float64 to cast to on the GPU" },
    },
    {
      name: "to int32 (truncates)",
      inputs: [float([3, 4])],
      fn: (x) => x.mul(3).to("int32"),
      gradcheck: INTEGER_OUTPUT,
      parity: { backward: false },
    },
  ],
  toDevice: [
    {
      name: "cpu → gpu → cpu",
      inputs: [float([2, 3])],
      fn: (x) => x.to("gpu").exp().to("cpu"),
      parity: {
        notRun: "a move between devices: packages/gpu/test/device-copy-grad.test.ts checks its gradients",
      },
    },
  ],
  conv2d: [
    {
      name: "asymmetric padding and stride",
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
      parity: ACCUMULATED,
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
      ([name, xShape, wShape, params]): OpCase => ({
        name,
        inputs: [float(xShape), float(wShape)],
        fn: (x, w) => conv2d(x, w, params),
        parity: ACCUMULATED,
      }),
    ),
  ],
  // conv2d's gradients as ops (their own VJPs make conv2d twice differentiable). The geometry:
  // x (2, 4, 6, 6), weight (4, 2, 3, 3) in 2 groups, stride 2, padding 1, so dy is (2, 4, 3, 3).
  conv2dInputGrad: [
    {
      name: "stride 2, padding 1, groups 2",
      inputs: [float([2, 4, 3, 3]), float([4, 2, 3, 3])],
      fn: (dy, w) => conv2dInputGrad(dy, w, [2, 4, 6, 6], { ...convParams(2, 1, 1, 2), outputSize: [3, 3] }),
      parity: ACCUMULATED,
    },
    {
      name: "dilation 2",
      inputs: [float([1, 3, 3, 3]), float([3, 2, 3, 3])],
      fn: (dy, w) => conv2dInputGrad(dy, w, [1, 2, 7, 7], { ...convParams(1, 0, 2, 1), outputSize: [3, 3] }),
      parity: ACCUMULATED,
    },
  ],
  conv2dWeightGrad: [
    {
      name: "stride 2, padding 1, groups 2",
      inputs: [float([2, 4, 6, 6]), float([2, 4, 3, 3])],
      fn: (x, dy) => conv2dWeightGrad(x, dy, [4, 2, 3, 3], { ...convParams(2, 1, 1, 2), outputSize: [3, 3] }),
      parity: ACCUMULATED,
    },
  ],
  maxPool2d: [
    { name: "2×2/2", inputs: [float([2, 2, 4, 4])], fn: (x) => maxPool2d(x, poolParams([4, 4], 2, 2, 0))[0] },
    {
      name: "3×3/2 pad 1",
      inputs: [float([1, 2, 5, 5])],
      fn: (x) => maxPool2d(x, poolParams([5, 5], 3, 2, 1))[0],
    },
    {
      name: "dilation 2",
      inputs: [float([1, 2, 5, 5])],
      fn: (x) => maxPool2d(x, poolParams([5, 5], 2, 1, 0, 2))[0],
    },
    {
      name: "indices",
      inputs: [float([1, 2, 5, 5])],
      fn: (x) => maxPool2d(x, poolParams([5, 5], 3, 2, 1))[1],
      gradcheck: INTEGER_OUTPUT,
      parity: { backward: false },
    },
  ],
  avgPool2d: [
    {
      name: "2×2/2",
      inputs: [float([2, 2, 4, 4])],
      fn: (x) => avgPool2d(x, avgParams(poolParams([4, 4], 2, 2, 0), true)),
    },
    {
      name: "3×3/2 pad 1, padding counted",
      inputs: [float([1, 2, 5, 5])],
      fn: (x) => avgPool2d(x, avgParams(poolParams([5, 5], 3, 2, 1), true)),
    },
    {
      name: "3×3/2 pad 1, padding not counted",
      inputs: [float([1, 2, 5, 5])],
      fn: (x) => avgPool2d(x, avgParams(poolParams([5, 5], 3, 2, 1), false)),
    },
    {
      name: "divisor override",
      inputs: [float([1, 1, 4, 4])],
      fn: (x) => avgPool2d(x, avgParams(poolParams([4, 4], 2, 2, 0), true, 3)),
    },
  ],
  avgPool2dBackward: [
    {
      name: "3×3/2 pad 1, padding not counted",
      inputs: [float([1, 2, 3, 3])],
      fn: (dy) => avgPool2dBackward(dy, [1, 2, 5, 5], avgParams(poolParams([5, 5], 3, 2, 1), false)),
    },
    {
      name: "2×2/2",
      inputs: [float([2, 2, 2, 2])],
      fn: (dy) => avgPool2dBackward(dy, [2, 2, 4, 4], avgParams(poolParams([4, 4], 2, 2, 0), true)),
    },
  ],
};

/** An int32 index on x's device (the parity suite runs each case on the CPU and on the GPU). */
const indexOn = (x: Tensor, values: NestedArray): Tensor =>
  tensor(values, { dtype: "int32", device: x.device });

const COMPOSED: NotRun = {
  notRun: "composed from primitives: packages/core/test/composed-ops.test.ts gradchecks it",
};
const NO_VJP: NotRun = { notRun: "a kernel without a VJP (integer output)" };

/**
 * The kernels that are not primitives, for the GPU parity suite: composed ops (their gradients
 * come from the primitives') and the integer-valued comparisons and arg-reductions.
 */
export const NON_PRIMITIVE_CASES: OpCaseList = [
  {
    name: "var (unbiased)",
    inputs: [float([4, 6])],
    fn: (x) => x.var(1),
    gradcheck: COMPOSED,
    parity: ACCUMULATED,
  },
  ...(
    [
      ["rsqrt", (x) => x.rsqrt(), "positive"],
      ["leakyRelu", (x) => x.leakyRelu(0.1), "nonzero"],
      ["gelu", (x) => x.gelu(), "normal"],
      ["gelu tanh", (x) => x.gelu("tanh"), "normal"],
      ["square", (x) => x.square(), "normal"],
      ["clamp", (x) => x.clamp(-0.5, 0.7), "nonzero"],
    ] as const satisfies readonly (readonly [string, (x: Tensor) => Tensor, Domain])[]
  ).map(
    ([name, fn, domain]): OpCase => ({
      name: `${name} of a transposed view`,
      inputs: [float([4, 3], domain)],
      fn: (x) => fn(x.mT),
      gradcheck: COMPOSED,
    }),
  ),
  ...(
    [
      ["flip", (x) => x.flip([0, 1])],
      ["roll", (x) => x.roll([1, -1], [0, 1])],
      ["repeat", (x) => x.repeat(2, 1, 2)],
      ["tril", (x) => x.tril(-1)],
      ["tan", (x) => x.tan()],
      ["asin and acos", (x) => x.mul(0.3).asin().add(x.mul(0.3).acos())],
      ["atan2", (x) => x.atan2(x.flip(0))],
      ["sinh and cosh", (x) => x.sinh().add(x.cosh())],
      ["floor", (x) => x.mul(3).floor()],
      ["round", (x) => x.mul(3).round()],
      ["sort values", (x) => x.sort(1)[0]],
      ["topk values", (x) => x.topk(2, 0, false)[0]],
    ] as const satisfies readonly (readonly [string, (x: Tensor) => Tensor])[]
  ).map(
    ([name, fn]): OpCase => ({
      name: `${name} of a transposed view`,
      inputs: [float([4, 3])],
      fn: (x) => fn(x.mT),
      gradcheck: COMPOSED,
    }),
  ),
  ...(
    [
      ["cumsum", (x) => x.cumsum(1)],
      ["cumprod", (x) => x.cumprod(1)],
      ["prod", (x) => x.prod(1)],
    ] as const satisfies readonly (readonly [string, (x: Tensor) => Tensor])[]
  ).map(
    ([name, fn]): OpCase => ({
      name,
      inputs: [float([3, 7])],
      fn,
      gradcheck: COMPOSED,
      parity: ACCUMULATED,
    }),
  ),
  ...(
    [
      [
        "scatter",
        (x) =>
          x.scatter(
            1,
            indexOn(x, [
              [3, 0],
              [1, 2],
              [0, 3],
            ]),
            x.mul(2).narrow(1, 0, 2),
          ),
      ],
      [
        "scatterAdd with repeats",
        (x) =>
          x.scatterAdd(
            0,
            indexOn(x, [
              [2, 0, 2, 1],
              [2, 2, 0, 1],
            ]),
            x.narrow(0, 0, 2),
          ),
      ],
      ["indexAdd", (x) => x.indexAdd(1, indexOn(x, [3, 3, 0]), x.narrow(1, 0, 3), { alpha: 0.5 })],
      ["vectorNorm 2 over dim 1", (x) => vectorNorm(x, 2, 1)],
      ["vectorNorm inf", (x) => vectorNorm(x, Infinity, 0)],
      ["matrixNorm 1", (x) => matrixNorm(x, 1)],
      ["einsum ij,jk->ik", (x) => einsum("ij,jk->ik", x, x.mT.mul(0.5))],
      ["einsum trace ii->", (x) => einsum("ii->", x.narrow(1, 0, 3))],
      ["maskedFill", (x) => x.maskedFill(x.gt(0.3), -2)],
    ] as const satisfies readonly (readonly [string, (x: Tensor) => Tensor])[]
  ).map(
    ([name, fn]): OpCase => ({
      name,
      inputs: [float([3, 4])],
      fn,
      gradcheck: COMPOSED,
      parity: ACCUMULATED,
    }),
  ),
  {
    name: "maskedSelect",
    inputs: [float([3, 4])],
    fn: (x) => x.maskedSelect(x.gt(0.3)),
    gradcheck: COMPOSED,
    parity: { readsValues: true },
  },
  {
    name: "nonzero",
    inputs: [float([3, 4])],
    fn: (x) => x.gt(0.3).nonzero(),
    gradcheck: NO_VJP,
    parity: { backward: false, readsValues: true },
  },
  {
    name: "std over all",
    inputs: [float([4, 6])],
    fn: (x) => x.std(),
    gradcheck: COMPOSED,
    parity: ACCUMULATED,
  },
  {
    name: "logsumexp",
    inputs: [float([3, 7])],
    fn: (x) => x.mul(5).logsumexp(1),
    gradcheck: COMPOSED,
    parity: ACCUMULATED,
  },
  {
    name: "softmax",
    inputs: [float([3, 7])],
    fn: (x) => x.softmax(-1),
    gradcheck: COMPOSED,
    parity: ACCUMULATED,
  },
  {
    name: "logSoftmax over dim 0",
    inputs: [float([5, 3])],
    fn: (x) => x.logSoftmax(0),
    gradcheck: COMPOSED,
    parity: ACCUMULATED,
  },
  ...(["eq", "ne", "lt", "le", "gt", "ge"] as const).map(
    (op): OpCase => ({
      name: `${op} (bool mask)`,
      inputs: [float([3, 4])],
      // Rounded so that equal values occur.
      fn: (a) => a.mul(2).sign().add(a.gt(0.5))[op](a.mT.mT.sign()),
      gradcheck: NO_VJP,
      parity: { backward: false },
    }),
  ),
  ...(
    [
      ["any over dim 1", (x) => x.gt(0.5).any(1)],
      ["all over dim 0", (x) => x.gt(-1).all(0)],
      ["isfinite of a division by zero", (x) => x.div(x.gt(0)).isfinite()],
      ["logicalXor", (x) => x.gt(0).logicalXor(x.mT.mT.lt(0.5))],
      ["isinf of a division by zero", (x) => x.div(x.gt(0)).isinf()],
      ["isnan of 0/0", (x) => x.mul(x.gt(0)).div(x.gt(0)).isnan()],
      ["bool or, and, then a count", (x) => x.gt(0).add(x.lt(-0.5)).mul(x.ne(0)).sum(1)],
    ] as const satisfies readonly (readonly [string, (x: Tensor) => Tensor])[]
  ).map(
    ([name, fn]): OpCase => ({
      name,
      inputs: [float([3, 4])],
      fn,
      gradcheck: NO_VJP,
      parity: { backward: false },
    }),
  ),
  {
    name: "argmax",
    inputs: [float([4, 6])],
    fn: (x) => x.argmax(1),
    gradcheck: NO_VJP,
    parity: { backward: false },
  },
  {
    name: "argmin of a transposed view",
    inputs: [float([4, 6])],
    fn: (x) => x.mT.argmin(0),
    gradcheck: NO_VJP,
    parity: { backward: false },
  },
];

/** Every case of OP_CASES (by primitive, in the table's order) and then NON_PRIMITIVE_CASES, each with a seed of its own. */
export function allOpCases(): { op: Primitive | "non-primitive"; opCase: OpCase; seed: number }[] {
  const primitives = Object.keys(OP_CASES).filter((key): key is Primitive => key in OP_CASES);
  const entries = [
    ...primitives.flatMap((op) => OP_CASES[op].map((opCase) => ({ op, opCase }))),
    ...NON_PRIMITIVE_CASES.map((opCase) => ({ op: "non-primitive" as const, opCase })),
  ];
  return entries.map((entry, i) => ({ ...entry, seed: 1000 * i }));
}
