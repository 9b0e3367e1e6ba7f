/**
 * Weight initialization (PyTorch's `nn.init`): uniform/normal fills, Kaiming and Xavier schemes, gains.
 * @packageDocumentation
 */
import { formatShape, formatValue, type Generator, noGrad, rand, randn, type Tensor } from "@normgrad/core";

/** The nonlinearities `calculateGain` knows (PyTorch's names, camelCase). */
export type Nonlinearity =
  | "linear"
  | "conv1d"
  | "conv2d"
  | "conv3d"
  | "convTranspose1d"
  | "convTranspose2d"
  | "convTranspose3d"
  | "sigmoid"
  | "tanh"
  | "relu"
  | "leakyRelu"
  | "selu";

/**
 * The gain that keeps activations' variance stable through `nonlinearity` (PyTorch's
 * `calculate_gain`): 1 for linear/conv/sigmoid, 5/3 for tanh, √2 for relu,
 * √(2/(1 + slope²)) for leakyRelu (`param` = negative slope, default 0.01), 3/4 for selu.
 */
export function calculateGain(nonlinearity: Nonlinearity, param?: number): number {
  switch (nonlinearity) {
    case "linear":
    case "conv1d":
    case "conv2d":
    case "conv3d":
    case "convTranspose1d":
    case "convTranspose2d":
    case "convTranspose3d":
    case "sigmoid":
      return 1;
    case "tanh":
      return 5 / 3;
    case "relu":
      return Math.SQRT2;
    case "leakyRelu": {
      const slope = param ?? 0.01;
      if (!Number.isFinite(slope))
        throw new RangeError(`calculateGain: negative slope ${slope} is not a number`);
      return Math.sqrt(2 / (1 + slope * slope));
    }
    case "selu":
      return 3 / 4;
    default:
      throw new RangeError(
        `calculateGain: unsupported nonlinearity ${formatValue(nonlinearity satisfies never)}`,
      );
  }
}

/**
 * `[fanIn, fanOut]` of a weight: `size(1)·receptive` and `size(0)·receptive`, where receptive is
 * the product of the dims after the first two (1 for a Linear weight). Needs at least 2 dims.
 */
export function calculateFanInAndFanOut(tensor: Tensor): [fanIn: number, fanOut: number] {
  if (tensor.ndim < 2) {
    throw new RangeError(
      `fan in and fan out cannot be computed for a tensor with fewer than 2 dims, got ${formatShape(tensor.shape)}`,
    );
  }
  const receptive = tensor.shape.slice(2).reduce((product, dim) => product * dim, 1);
  return [tensor.shape[1] * receptive, tensor.shape[0] * receptive];
}

/** Options of the random initializers. */
export interface InitOptions {
  /** Default: the global generator (seed it with `manualSeed`). */
  generator?: Generator;
}

/** Which fan the Kaiming schemes preserve: the forward pass's (`fanIn`, default) or the backward's. */
export type FanMode = "fanIn" | "fanOut";

/** Options of the Kaiming initializers. */
export interface KaimingOptions extends InitOptions {
  /** The negative slope of the leaky ReLU that follows (only used with `leakyRelu`); default 0. */
  a?: number;
  /** Default `"fanIn"`. */
  mode?: FanMode;
  /** Default `"leakyRelu"`, as PyTorch. */
  nonlinearity?: Nonlinearity;
}

/** Writes `values` into `tensor` in place without recording a gradient; returns `tensor`. */
function fill<T extends Tensor>(tensor: T, values: () => Tensor): T {
  noGrad(() => {
    tensor.copy_(values());
  });
  return tensor;
}

/** Fills `tensor` in place from U(low, high) (default U(0, 1)). */
export function uniform_<T extends Tensor>(tensor: T, low = 0, high = 1, { generator }: InitOptions = {}): T {
  if (!(low <= high)) throw new RangeError(`uniform_: low ${low} must not exceed high ${high}`);
  return fill(tensor, () =>
    rand(tensor.shape, { dtype: "float64", generator })
      .mul(high - low)
      .add(low),
  );
}

/** Fills `tensor` in place from N(mean, std²) (default N(0, 1)). */
export function normal_<T extends Tensor>(tensor: T, mean = 0, std = 1, { generator }: InitOptions = {}): T {
  if (!(std >= 0)) throw new RangeError(`normal_: std must be non-negative, got ${std}`);
  return fill(tensor, () => randn(tensor.shape, { dtype: "float64", generator }).mul(std).add(mean));
}

/** Fills `tensor` with `value` in place. */
export function constant_<T extends Tensor>(tensor: T, value: number): T {
  return fill(tensor, () => tensor.fullLike(value));
}

/** Fills `tensor` with zeros in place. */
export function zeros_<T extends Tensor>(tensor: T): T {
  return constant_(tensor, 0);
}

/** Fills `tensor` with ones in place. */
export function ones_<T extends Tensor>(tensor: T): T {
  return constant_(tensor, 1);
}

function kaimingStd(
  tensor: Tensor,
  { a = 0, mode = "fanIn", nonlinearity = "leakyRelu" }: KaimingOptions,
): number {
  if (mode !== "fanIn" && mode !== "fanOut") {
    throw new RangeError(`kaiming init: mode must be "fanIn" or "fanOut", got ${formatValue(mode)}`);
  }
  const [fanIn, fanOut] = calculateFanInAndFanOut(tensor);
  const fan = mode === "fanIn" ? fanIn : fanOut;
  if (fan === 0) throw new RangeError(`kaiming init of a zero-element tensor ${formatShape(tensor.shape)}`);
  return calculateGain(nonlinearity, a) / Math.sqrt(fan);
}

/**
 * He (Kaiming) uniform init in place: U(−bound, bound) with `bound = gain·√(3/fan)` and `gain`
 * from `calculateGain(nonlinearity, a)`.
 */
export function kaimingUniform_<T extends Tensor>(tensor: T, options: KaimingOptions = {}): T {
  const bound = Math.sqrt(3) * kaimingStd(tensor, options);
  return uniform_(tensor, -bound, bound, options);
}

/** He (Kaiming) normal init in place: N(0, std²) with `std = gain/√fan`. */
export function kaimingNormal_<T extends Tensor>(tensor: T, options: KaimingOptions = {}): T {
  return normal_(tensor, 0, kaimingStd(tensor, options), options);
}

/** Options of the Xavier initializers. */
export interface XavierOptions extends InitOptions {
  /** Default 1. */
  gain?: number;
}

function xavierStd(tensor: Tensor, gain: number): number {
  const [fanIn, fanOut] = calculateFanInAndFanOut(tensor);
  if (fanIn + fanOut === 0)
    throw new RangeError(`xavier init of a zero-element tensor ${formatShape(tensor.shape)}`);
  return gain * Math.sqrt(2 / (fanIn + fanOut));
}

/** Glorot (Xavier) uniform init in place: U(−a, a) with `a = gain·√(6/(fanIn + fanOut))`. */
export function xavierUniform_<T extends Tensor>(tensor: T, { gain = 1, generator }: XavierOptions = {}): T {
  const bound = Math.sqrt(3) * xavierStd(tensor, gain);
  return uniform_(tensor, -bound, bound, { generator });
}

/** Glorot (Xavier) normal init in place: N(0, std²) with `std = gain·√(2/(fanIn + fanOut))`. */
export function xavierNormal_<T extends Tensor>(tensor: T, { gain = 1, generator }: XavierOptions = {}): T {
  return normal_(tensor, 0, xavierStd(tensor, gain), { generator });
}
