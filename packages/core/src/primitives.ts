// The primitive ops: each forward calls one backend kernel; the VJP table below differentiates them all.
import { assertUnmodified, GradNode, isGradEnabled } from "./autograd.ts";
import type {
  ArithmeticOp,
  AvgPool2dParams,
  BinaryOp,
  CompareOp,
  Conv2dKernelParams,
  Conv2dParams,
  Device,
  Padding,
  Pool2dParams,
  UnaryOp,
  View,
} from "./backend.ts";
import { getBackend } from "./devices.ts";
import { type DType, isFloating, promoteTypes } from "./dtype.ts";
import {
  broadcastShapes,
  contiguousStrides,
  formatList,
  formatShape,
  type Shape,
  shapeSize,
  shapesEqual,
} from "./shape.ts";
import { Storage } from "./storage.ts";
import { Tensor } from "./tensor.ts";

type NoParams = Record<string, never>;

/** The parameters each primitive is recorded with; the keys are the primitive set. */
export type PrimitiveParams = {
  [P in UnaryOp | ArithmeticOp | "where" | "matmul" | "contiguous"]: NoParams;
} & {
  sum: { axes: readonly number[] };
  max: { axes: readonly number[] };
  min: { axes: readonly number[] };
  reshape: { shape: Shape };
  permute: { order: readonly number[] };
  expand: { shape: Shape };
  slice: { starts: readonly number[] };
  pad: { padding: Padding };
  cat: { axis: number };
  gather: { axis: number };
  scatterAdd: { axis: number };
  cast: { dtype: DType };
  toDevice: { device: Device };
  conv2d: Conv2dKernelParams;
  conv2dInputGrad: Conv2dKernelParams & { readonly inputShape: Shape };
  conv2dWeightGrad: Conv2dKernelParams & { readonly weightShape: Shape };
  maxPool2d: Pool2dParams & { readonly indices: Tensor };
  avgPool2d: AvgPool2dParams;
  avgPool2dBackward: AvgPool2dParams & { readonly inputShape: Shape };
};

/** Every primitive op. Everything else in normgrad is composed from these. */
export type Primitive = keyof PrimitiveParams;

/** What a VJP rule sees: the op's inputs, its output and its parameters. */
export interface VjpContext<P extends Primitive> {
  readonly inputs: readonly Tensor[];
  readonly out: Tensor;
  readonly params: PrimitiveParams[P];
}

/** One gradient thunk per input (null for inputs that never take a gradient, such as indices). */
type VjpRule<P extends Primitive> = (
  dy: Tensor,
  context: VjpContext<P>,
) => readonly ((() => Tensor) | null)[];

function viewOf(tensor: Tensor): View {
  return tensor.kernelView;
}

/** Wraps a fresh buffer of `shape` as a tensor on the device of `like`. */
function fromKernel(like: Tensor, buffer: View["buffer"], shape: Shape): Tensor {
  return new Tensor(new Storage(like.backend, buffer), shape, contiguousStrides(shape), 0);
}

/** Attaches the primitive's VJP to `out` when grad mode is on and an input requires grad. */
function record<P extends Primitive>(
  op: P,
  inputs: readonly Tensor[],
  params: PrimitiveParams[P],
  out: Tensor,
): Tensor {
  // Integer results carry no gradient (PyTorch: only floating tensors require grad), so a cast
  // to int32 or a comparison's mask is never part of the graph.
  if (isGradEnabled() && out.dtype !== "int32" && inputs.some((input) => input.requiresGrad)) {
    const rule: VjpRule<P> = vjpRules[op];
    // The rules that read the output (exp, sqrt, pow, max…) check on reading that it was not
    // written in place since; the others leave it free to change, as PyTorch does.
    const outVersion = out.version;
    const context: VjpContext<P> = {
      inputs,
      params,
      get out() {
        assertUnmodified(out, outVersion, op, "output");
        return out;
      },
    };
    out.attachGradFn(
      new GradNode(op, inputs, (dy, needs) => {
        const thunks = rule(dy, context);
        return thunks.map((thunk, i) => (needs[i] && thunk !== null ? thunk() : null));
      }),
    );
  }
  return out;
}

function assertSameDevice(op: string, tensors: readonly Tensor[]): void {
  const device = tensors[0].device;
  for (const tensor of tensors) {
    if (tensor.device !== device) {
      throw new Error(
        `${op}: tensors are on different devices (${formatList(
          tensors.map((t) => t.device),
          "tensors",
        )}): move them with .to()`,
      );
    }
  }
}

function isComparison(op: BinaryOp): op is CompareOp {
  return op === "eq" || op === "ne" || op === "lt" || op === "le" || op === "gt" || op === "ge";
}

const FLOAT_ONLY: ReadonlySet<UnaryOp> = new Set([
  ...["exp", "log", "sqrt", "recip", "tanh", "sigmoid", "erf"],
  ...["sin", "cos", "atan", "log1p", "expm1"],
] as const);

/** Elementwise unary op; integer inputs of the float-only ops (exp, log, sqrt, …) give float32, other ops on bool compute in int32. */
export function unary(op: UnaryOp, x: Tensor): Tensor {
  if (x.dtype === "bool" && op === "neg") {
    throw new TypeError(
      "neg of a bool tensor is not supported (as in PyTorch): invert a mask with logicalNot",
    );
  }
  if (x.dtype === "bool" && !FLOAT_ONLY.has(op)) return unary(op, cast(x, "int32"));
  const dtype = FLOAT_ONLY.has(op) && !isFloating(x.dtype) ? "float32" : x.dtype;
  return record(op, [x], {}, fromKernel(x, x.backend.unary(op, viewOf(x), dtype), x.shape));
}

/**
 * Elementwise binary op with broadcasting and type promotion. Comparisons give bool. Arithmetic
 * on two bools is PyTorch's: add and maximum are "or", mul and minimum "and", div float32, sub
 * an error.
 */
export function binary(op: BinaryOp, a: Tensor, b: Tensor): Tensor {
  assertSameDevice(op, [a, b]);
  const shape = broadcastShapes(a.shape, b.shape);
  let dtype = promoteTypes(a.dtype, b.dtype);
  if (dtype === "bool" && !isComparison(op)) {
    if (op === "sub") {
      throw new TypeError(
        'sub of two bool tensors is not supported (as in PyTorch): use logicalXor, or .to("int32") first',
      );
    }
    const result = binary(op, cast(a, "int32"), cast(b, "int32"));
    return op === "div" || op === "pow" ? result : cast(result, "bool");
  }
  if (op === "div" && (dtype === "int32" || dtype === "bool")) dtype = "float32";
  const left = expand(a, shape);
  const right = expand(b, shape);
  const out = fromKernel(a, a.backend.binary(op, viewOf(left), viewOf(right), dtype), shape);
  if (isComparison(op)) return out;
  return record(op, [left, right], {}, out);
}

/** `condition ≠ 0 ? a : b` elementwise, all three broadcast; the result promotes a and b. */
export function where(condition: Tensor, a: Tensor, b: Tensor): Tensor {
  assertSameDevice("where", [condition, a, b]);
  const shape = broadcastShapes(condition.shape, a.shape, b.shape);
  const dtype = promoteTypes(a.dtype, b.dtype);
  const [c, left, right] = [expand(condition, shape), expand(a, shape), expand(b, shape)];
  const buffer = a.backend.where(viewOf(c), viewOf(left), viewOf(right), dtype);
  return record("where", [c, left, right], {}, fromKernel(a, buffer, shape));
}

/** Sums, maxes or mins over sorted `axes`, removing them. */
export function reduce(op: "sum" | "max" | "min", x: Tensor, axes: readonly number[]): Tensor {
  if (op !== "sum") {
    for (const axis of axes) {
      if (x.shape[axis] === 0) {
        throw new RangeError(
          `${op} over dim ${axis} of size 0 (shape ${formatShape(x.shape)}) has no identity`,
        );
      }
    }
  }
  // Sums of bools count, in int32 (PyTorch's int64).
  if (op === "sum" && x.dtype === "bool") return reduce(op, cast(x, "int32"), axes);
  const shape = x.shape.filter((_, axis) => !axes.includes(axis));
  return record(op, [x], { axes }, fromKernel(x, x.backend.reduce(op, viewOf(x), axes), shape));
}

/** Index of the largest (smallest) element along `axis`, as int32; the first one wins ties. */
export function argReduce(op: "argmax" | "argmin", x: Tensor, axis: number): Tensor {
  if (x.shape[axis] === 0)
    throw new RangeError(`${op} over an empty dim ${axis} (shape ${formatShape(x.shape)})`);
  const shape = x.shape.filter((_, d) => d !== axis);
  return fromKernel(x, x.backend.reduce(op, viewOf(x), [axis]), shape);
}

/** `a @ b` for (…, M, K) and (…, K, N) with identical batch dims. */
/** True for a 2-D view whose transpose is contiguous (a column-major matrix, such as `w.mT`). */
function isTransposed2d(x: Tensor): boolean {
  return (
    x.ndim === 2 && x.shape[0] > 1 && x.shape[1] > 1 && x.strides[0] === 1 && x.strides[1] === x.shape[0]
  );
}

export function matmul(a: Tensor, b: Tensor): Tensor {
  assertSameDevice("matmul", [a, b]);
  const dtype = promoteTypes(a.dtype, b.dtype);
  const shape = [...a.shape.slice(0, -1), b.shape[b.shape.length - 1]];
  return record("matmul", [a, b], {}, fromKernel(a, a.backend.matmul(viewOf(a), viewOf(b), dtype), shape));
}

/** A view with a new shape; copies first when the strides cannot express it. */
export function reshape(x: Tensor, shape: Shape): Tensor {
  if (shapesEqual(shape, x.shape)) return x;
  const source = x.isContiguous() ? x : contiguous(x);
  const out = new Tensor(source.storage, shape, contiguousStrides(shape), source.offset);
  return record("reshape", [source], { shape }, out);
}

/** A view with the axes in `order` (no copy); `order` is already validated by the caller. */
export function permute(x: Tensor, order: readonly number[]): Tensor {
  const out = new Tensor(
    x.storage,
    order.map((axis) => x.shape[axis]),
    order.map((axis) => x.strides[axis]),
    x.offset,
  );
  return record("permute", [x], { order }, out);
}

/** Broadcasts `x` to `shape` as a view with stride 0 along the new and size-1 dims. */
export function expand(x: Tensor, shape: Shape): Tensor {
  if (shapesEqual(shape, x.shape)) return x;
  const lead = shape.length - x.shape.length;
  const strides = shape.map((dim, axis) => {
    const own = axis - lead;
    if (own < 0) return 0;
    if (x.shape[own] === dim) return x.strides[own];
    if (x.shape[own] === 1) return 0;
    throw new RangeError(`cannot expand shape ${formatShape(x.shape)} to ${formatShape(shape)}`);
  });
  return record("expand", [x], { shape }, new Tensor(x.storage, shape, strides, x.offset));
}

/** The sub-box `[starts, ends)` of `x` as a view. */
export function slice(x: Tensor, starts: readonly number[], ends: readonly number[]): Tensor {
  const offset = x.offset + starts.reduce((sum, start, axis) => sum + start * x.strides[axis], 0);
  const shape = ends.map((end, axis) => end - starts[axis]);
  return record("slice", [x], { starts }, new Tensor(x.storage, shape, x.strides, offset));
}

/** Pads each axis with `padding[axis]` = (before, after) elements of `value`. */
export function pad(x: Tensor, padding: Padding, value: number): Tensor {
  const shape = x.shape.map((dim, axis) => dim + padding[axis][0] + padding[axis][1]);
  return record("pad", [x], { padding }, fromKernel(x, x.backend.pad(viewOf(x), padding, value), shape));
}

/** Joins `xs` along `axis` (shapes already checked to agree elsewhere), promoting dtypes. */
export function cat(xs: readonly Tensor[], axis: number): Tensor {
  assertSameDevice("cat", xs);
  const dtype = xs.map((x) => x.dtype).reduce(promoteTypes);
  const shape = xs[0].shape.slice();
  shape[axis] = xs.reduce((sum, x) => sum + x.shape[axis], 0);
  const buffer = xs[0].backend.cat(xs.map(viewOf), axis, dtype);
  return record("cat", xs, { axis }, fromKernel(xs[0], buffer, shape));
}

/** `out[…i…] = x[…index[…i…]…]` along `axis`; the result has the shape of `index`. */
export function gather(x: Tensor, axis: number, index: Tensor): Tensor {
  assertSameDevice("gather", [x, index]);
  return record(
    "gather",
    [x, index],
    { axis },
    fromKernel(x, x.backend.gather(viewOf(x), axis, viewOf(index)), index.shape),
  );
}

/** Zeros of `shape` with `source` added at `index` along `axis` (the VJP of gather). */
export function scatterAdd(source: Tensor, axis: number, index: Tensor, shape: Shape): Tensor {
  const buffer = source.backend.scatterAdd(viewOf(source), axis, viewOf(index), shape);
  return record("scatterAdd", [source, index], { axis }, fromKernel(source, buffer, shape));
}

/** `x` converted to `dtype` (float → int32 truncates toward zero); `x` itself when it has it. */
export function cast(x: Tensor, dtype: DType): Tensor {
  if (x.dtype === dtype) return x;
  return record("cast", [x], { dtype }, fromKernel(x, x.backend.copy(viewOf(x), dtype), x.shape));
}

/**
 * A copy of `x` on `device` (through the host: read synchronously, then uploaded); its
 * gradient is copied back to `x`'s device. The device must support `x`'s dtype already.
 */
export function toDevice(x: Tensor, device: Device): Tensor {
  const backend = getBackend(device);
  const moved = new Tensor(
    new Storage(backend, backend.upload(x.dataSync())),
    x.shape,
    contiguousStrides(x.shape),
    0,
  );
  return record("toDevice", [x], { device }, moved);
}

/**
 * Cross-correlation of x (N, C, H, W) with weight (O, C/groups, KH, KW), no bias: (N, O, OH, OW)
 * with OH = ⌊(H + pad − dilation·(KH − 1) − 1)/stride⌋ + 1. Shapes, dtypes and params must be
 * valid already (`F.conv2d` in @normgrad/nn checks them and adds the bias).
 */
export function conv2d(x: Tensor, weight: Tensor, params: Conv2dParams): Tensor {
  assertSameDevice("conv2d", [x, weight]);
  const [input, kernel] = [x.contiguous(), weight.contiguous()];
  // The one place the output size is computed: the kernels read it from their params.
  const size = (axis: 0 | 1) => {
    const extent = x.shape[2 + axis] + params.padding[axis][0] + params.padding[axis][1];
    const span = params.dilation[axis] * (weight.shape[2 + axis] - 1) + 1;
    return Math.floor((extent - span) / params.stride[axis]) + 1;
  };
  const kernelParams: Conv2dKernelParams = { ...params, outputSize: [size(0), size(1)] };
  const shape = [x.shape[0], weight.shape[0], ...kernelParams.outputSize];
  const buffer = x.backend.conv2d(viewOf(input), viewOf(kernel), kernelParams);
  return record("conv2d", [input, kernel], kernelParams, fromKernel(x, buffer, shape));
}

/** The geometry of conv2d's params (what `conv2d` takes; it derives the output size again). */
function convGeometry({ stride, padding, dilation, groups }: Conv2dParams): Conv2dParams {
  return { stride, padding, dilation, groups };
}

/**
 * conv2d's gradient w.r.t. its input as an op of its own: the transposed convolution of dy
 * (N, O, OH, OW) with the weight, of shape `inputShape`. Linear in dy and in the weight, so its
 * VJP is a convolution and a weight gradient (differentiable to any order).
 */
export function conv2dInputGrad(
  dy: Tensor,
  weight: Tensor,
  inputShape: Shape,
  params: Conv2dKernelParams,
): Tensor {
  assertSameDevice("conv2dInputGrad", [dy, weight]);
  const [gradient, kernel] = [dy.contiguous(), weight.contiguous()];
  const buffer = dy.backend.conv2dInputGrad(viewOf(gradient), viewOf(kernel), inputShape, params);
  return record(
    "conv2dInputGrad",
    [gradient, kernel],
    { ...params, inputShape },
    fromKernel(dy, buffer, inputShape),
  );
}

/**
 * conv2d's gradient w.r.t. its weight as an op of its own: Σₙ dy ⋆ x, of shape `weightShape`.
 * Linear in x and in dy, so its VJP is an input gradient and a convolution.
 */
export function conv2dWeightGrad(
  x: Tensor,
  dy: Tensor,
  weightShape: Shape,
  params: Conv2dKernelParams,
): Tensor {
  assertSameDevice("conv2dWeightGrad", [x, dy]);
  const [input, gradient] = [x.contiguous(), dy.contiguous()];
  const buffer = x.backend.conv2dWeightGrad(viewOf(input), viewOf(gradient), weightShape, params);
  return record(
    "conv2dWeightGrad",
    [input, gradient],
    { ...params, weightShape },
    fromKernel(x, buffer, weightShape),
  );
}

/**
 * Max pooling of x (N, C, H, W): the values and the int32 indices of the maxima (flat `h·W + w`
 * per plane). Params must be valid already (`F.maxPool2d` in @normgrad/nn checks them).
 */
export function maxPool2d(x: Tensor, params: Pool2dParams): [values: Tensor, indices: Tensor] {
  const input = x.contiguous();
  const shape = [x.shape[0], x.shape[1], ...params.outputSize];
  const { values, indices } = x.backend.maxPool2d(viewOf(input), params);
  const indexTensor = fromKernel(x, indices, shape);
  const recorded = { ...params, indices: indexTensor };
  return [record("maxPool2d", [input], recorded, fromKernel(x, values, shape)), indexTensor];
}

/** Average pooling of x (N, C, H, W). Params must be valid already (`F.avgPool2d` checks them). */
export function avgPool2d(x: Tensor, params: AvgPool2dParams): Tensor {
  const input = x.contiguous();
  const shape = [x.shape[0], x.shape[1], ...params.outputSize];
  return record(
    "avgPool2d",
    [input],
    params,
    fromKernel(x, x.backend.avgPool2d(viewOf(input), params), shape),
  );
}

/**
 * Average pooling's gradient as an op of its own: dy spread evenly over each window's input
 * pixels, of shape `inputShape`. Linear in dy, with average pooling as its adjoint (its VJP).
 */
export function avgPool2dBackward(dy: Tensor, inputShape: Shape, params: AvgPool2dParams): Tensor {
  const gradient = dy.contiguous();
  const buffer = dy.backend.avgPool2dBackward(viewOf(gradient), inputShape, params);
  return record(
    "avgPool2dBackward",
    [gradient],
    { ...params, inputShape },
    fromKernel(dy, buffer, inputShape),
  );
}

/** A row-major copy of `x` (its strides and offset resolved). */
export function contiguous(x: Tensor): Tensor {
  return record("contiguous", [x], {}, fromKernel(x, x.backend.copy(viewOf(x), x.dtype), x.shape));
}

/** Sums a broadcast gradient back down to `shape` (the VJP of expand). */
export function sumToShape(dy: Tensor, shape: Shape): Tensor {
  if (shapesEqual(dy.shape, shape)) return dy;
  const lead = dy.shape.length - shape.length;
  const axes = dy.shape.map((_, axis) => axis).filter((axis) => axis < lead || shape[axis - lead] === 1);
  return reshape(reduce("sum", dy, axes), shape);
}

function keepdimShape(shape: Shape, axes: readonly number[]): number[] {
  return shape.map((dim, axis) => (axes.includes(axis) ? 1 : dim));
}

/** The gradient of max/min: split equally among the elements that attain the extreme (as torch.amax). */
function extremeVjp(dy: Tensor, { inputs: [x], out, params: { axes } }: VjpContext<"max" | "min">) {
  return [
    () => {
      const shape = keepdimShape(x.shape, axes);
      const mask = x.eq(reshape(out, shape)).to(dy.dtype);
      return mask.mul(reshape(dy, shape).div(mask.sum(axes, true)));
    },
  ];
}

const vjpRules: { [P in Primitive]: VjpRule<P> } = {
  neg: (dy) => [() => dy.neg()],
  exp: (dy, { out }) => [() => dy.mul(out)],
  log: (dy, { inputs: [x] }) => [() => dy.div(x)],
  sqrt: (dy, { out }) => [() => dy.div(out.mul(2))],
  recip: (dy, { out }) => [() => dy.mul(out).mul(out).neg()],
  tanh: (dy, { out }) => [() => dy.mul(out.mul(out).neg().add(1))],
  sigmoid: (dy, { out }) => [() => dy.mul(out.mul(out.neg().add(1)))],
  // Gradient 0 at x = 0, as PyTorch.
  relu: (dy, { out }) => [() => dy.mul(out.gt(0))],
  abs: (dy, { inputs: [x] }) => [() => dy.mul(x.sign())],
  sign: (dy) => [() => dy.zerosLike()],
  // d erf(x)/dx = 2/√π · e^(−x²)
  erf: (dy, { inputs: [x] }) => [
    () =>
      dy.mul(
        x
          .mul(x)
          .neg()
          .exp()
          .mul(2 / Math.sqrt(Math.PI)),
      ),
  ],
  sin: (dy, { inputs: [x] }) => [() => dy.mul(x.cos())],
  cos: (dy, { inputs: [x] }) => [() => dy.mul(x.sin()).neg()],
  // d atan(x)/dx = 1/(1 + x²)
  atan: (dy, { inputs: [x] }) => [() => dy.div(x.mul(x).add(1))],
  log1p: (dy, { inputs: [x] }) => [() => dy.div(x.add(1))],
  // d(eˣ − 1)/dx = eˣ = expm1(x) + 1
  expm1: (dy, { out }) => [() => dy.mul(out.add(1))],
  add: (dy) => [() => dy, () => dy],
  sub: (dy) => [() => dy, () => dy.neg()],
  mul: (dy, { inputs: [a, b] }) => [() => dy.mul(b), () => dy.mul(a)],
  div: (dy, { inputs: [a, b] }) => [() => dy.div(b), () => dy.neg().mul(a).div(b.mul(b))],
  // d(aᵇ)/da = b·aᵇ⁻¹, taken as 0 where b = 0 (0·0⁻¹ would be NaN at a = 0);
  // d(aᵇ)/db = aᵇ·ln a, taken as 0 where a = 0 and b ≥ 0 (0·−∞ would be NaN). Both as PyTorch.
  pow: (dy, context) => {
    const [a, b] = context.inputs;
    return [
      () => where(b.eq(0), dy.zerosLike(), dy.mul(b).mul(a.pow(b.sub(1)))),
      // Only this gradient reads the output: reading it checks it was not written in place.
      () => dy.mul(where(a.eq(0).mul(b.ge(0)), a.zerosLike(), context.out.mul(a.log()))),
    ];
  },
  // As PyTorch: the strict loser gets 0 and ties split the gradient equally; every other
  // element gets all of it, so where a or b is NaN (neither a < b nor a == b) both operands do.
  maximum: (dy, { inputs: [a, b] }) => [
    () => dy.mul(a.lt(b).add(a.eq(b).mul(0.5)).neg().add(1)),
    () => dy.mul(b.lt(a).add(a.eq(b).mul(0.5)).neg().add(1)),
  ],
  minimum: (dy, { inputs: [a, b] }) => [
    () => dy.mul(a.gt(b).add(a.eq(b).mul(0.5)).neg().add(1)),
    () => dy.mul(b.gt(a).add(a.eq(b).mul(0.5)).neg().add(1)),
  ],
  where: (dy, { inputs: [condition] }) => [
    null,
    () => where(condition, dy, dy.zerosLike()),
    () => where(condition, dy.zerosLike(), dy),
  ],
  sum: (dy, { inputs: [x], params: { axes } }) => [
    () => expand(reshape(dy, keepdimShape(x.shape, axes)), x.shape),
  ],
  max: extremeVjp,
  min: extremeVjp,
  // C = A·B: dA = dC·Bᵀ, dB = Aᵀ·dC
  // A 2-D operand stored transposed (Linear's weight, used as W.mT) gets its gradient computed
  // transposed too, as PyTorch's mm backward does, so it arrives in the operand's layout and
  // reaches `.grad` without a copy.
  matmul: (dy, { inputs: [a, b] }) => [
    () => (isTransposed2d(a) ? matmul(b, dy.mT).mT : matmul(dy, b.mT)),
    () => (isTransposed2d(b) ? matmul(dy.mT, a).mT : matmul(a.mT, dy)),
  ],
  reshape: (dy, { inputs: [x] }) => [() => reshape(dy, x.shape)],
  permute: (dy, { params: { order } }) => [() => permute(dy, inversePermutation(order))],
  expand: (dy, { inputs: [x] }) => [() => sumToShape(dy, x.shape)],
  slice: (dy, { inputs: [x], params: { starts } }) => [
    () =>
      pad(
        dy,
        starts.map((start, axis) => [start, x.shape[axis] - start - dy.shape[axis]] as const),
        0,
      ),
  ],
  pad: (dy, { inputs: [x], params: { padding } }) => [
    () =>
      slice(
        dy,
        padding.map(([before]) => before),
        padding.map(([before], axis) => before + x.shape[axis]),
      ),
  ],
  cat: (dy, { inputs, params: { axis } }) => {
    let start = 0;
    return inputs.map((input) => {
      const from = start;
      start += input.shape[axis];
      return () => dy.narrow(axis, from, input.shape[axis]);
    });
  },
  gather: (dy, { inputs: [x, index], params: { axis } }) => [
    () => scatterAdd(dy, axis, index, x.shape),
    null,
  ],
  scatterAdd: (dy, { inputs: [, index], params: { axis } }) => [() => gather(dy, axis, index), null],
  cast: (dy, { inputs: [x] }) => [() => cast(dy, x.dtype)],
  toDevice: (dy, { inputs: [x] }) => [() => toDevice(dy, x.device)],
  contiguous: (dy) => [() => dy],
  // y = x ⋆ W: dx is the transposed convolution of dy with W; dW = Σₙ dy ⋆ x; each an op.
  conv2d: (dy, { inputs: [x, weight], params }) => [
    () => conv2dInputGrad(dy, weight, x.shape, params),
    () => conv2dWeightGrad(x, dy, weight.shape, params),
  ],
  // dx = Iᵀ(dy, W) is bilinear: ⟨g, Iᵀ(dy, W)⟩ = ⟨conv2d(g, W), dy⟩, so the cotangent g goes to
  // dy as conv2d(g, W) and to W as the weight gradient of that convolution.
  conv2dInputGrad: (g, { inputs: [dy, weight], params }) => [
    () => conv2d(g, weight, convGeometry(params)),
    () => conv2dWeightGrad(g, dy, weight.shape, params),
  ],
  // dW = G(x, dy) is bilinear: ⟨V, G(x, dy)⟩ = ⟨conv2d(x, V), dy⟩.
  conv2dWeightGrad: (v, { inputs: [x, dy], params }) => [
    () => conv2dInputGrad(dy, v, x.shape, params),
    () => conv2d(x, v, convGeometry(params)),
  ],
  // Each window's gradient goes to the element that was its maximum: the backward kernel, or
  // under createGraph the same scatter as a recorded scatterAdd over each (n, c) plane (its VJP
  // gathers by the same indices, so the result is differentiable again).
  maxPool2d: (dy, { inputs: [x], params }) => [
    () => {
      if (!isGradEnabled()) {
        return fromKernel(
          x,
          x.backend.maxPool2dBackward(viewOf(dy.contiguous()), viewOf(params.indices), x.shape, params),
          x.shape,
        );
      }
      const [n, c, h, w] = x.shape;
      const planes = [n, c, dy.size / (n * c)];
      return reshape(
        scatterAdd(reshape(dy, planes), 2, reshape(params.indices, planes), [n, c, h * w]),
        x.shape,
      );
    },
  ],
  avgPool2d: (dy, { inputs: [x], params }) => [() => avgPool2dBackward(dy, x.shape, params)],
  // Spreading is average pooling's adjoint, and average pooling is spreading's.
  avgPool2dBackward: (g, { params }) => [() => avgPool2d(g, params)],
};

/** The order that undoes `order`: `inverse[order[i]] = i` (permute's VJP). */
export function inversePermutation(order: readonly number[]): number[] {
  const inverse = new Array<number>(order.length);
  order.forEach((axis, i) => {
    inverse[axis] = i;
  });
  return inverse;
}

/** Checks a list of sizes describes a tensor of `size` elements (for reshape/view errors). */
export function assertReshapeable(from: Shape, to: Shape): void {
  if (shapeSize(from) !== shapeSize(to)) {
    throw new RangeError(
      `cannot reshape a tensor of shape ${formatShape(from)} (${shapeSize(from)} elements) to ` +
        `${formatShape(to)} (${shapeSize(to)} elements)`,
    );
  }
}
