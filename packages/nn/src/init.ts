/**
 * Weight initialization (PyTorch's `nn.init`): uniform/normal/truncated-normal fills, Kaiming,
 * Xavier and orthogonal schemes, gains.
 * @packageDocumentation
 */
import {
  formatShape,
  formatValue,
  fromValues,
  type Generator,
  noGrad,
  rand,
  randn,
  type Tensor,
  tensor as tensorOf,
} from "@normgrad/core";

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

/** Options of `truncNormal_`. */
export interface TruncNormalOptions extends InitOptions {
  /** Mean of the normal before truncation (default 0). */
  mean?: number;
  /** Standard deviation of the normal before truncation (default 1). */
  std?: number;
  /** Lower bound (default −2). */
  a?: number;
  /** Upper bound (default 2). */
  b?: number;
}

/** The standard normal CDF Φ at each of `values` (through the erf op, float64). */
function normalCdf(values: readonly number[]): number[] {
  return Array.from(
    tensorOf(
      values.map((value) => value * Math.SQRT1_2),
      { dtype: "float64" },
    )
      .erf()
      .dataSync(),
    (e) => (1 + e) / 2,
  );
}

/** Acklam's rational approximation of the standard normal quantile Φ⁻¹(p) (relative error < 1.2e-9). */
function normalQuantile(p: number): number {
  const a = [
    -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716,
    2.506628277459239,
  ];
  const b = [
    -54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572,
  ];
  const c = [
    -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
    2.938163982698783,
  ];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const tail = (q: number) =>
    (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
    ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  if (p <= 0) return Number.NEGATIVE_INFINITY;
  if (p >= 1) return Number.POSITIVE_INFINITY;
  if (p < 0.02425) return tail(Math.sqrt(-2 * Math.log(p)));
  if (p > 1 - 0.02425) return -tail(Math.sqrt(-2 * Math.log(1 - p)));
  const q = p - 0.5;
  const r = q * q;
  return (
    ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) /
    (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
  );
}

/**
 * Fills `tensor` in place from N(mean, std²) truncated to [a, b] (defaults N(0, 1) on [−2, 2]),
 * by PyTorch's inverse-CDF method: p ~ U(Φ((a − mean)/std), Φ((b − mean)/std)), then
 * `mean + std·Φ⁻¹(p)` clamped to [a, b]. Like PyTorch's it loses accuracy when [a, b] lies far in
 * a tail (more than ~2 std from the mean on the same side).
 */
export function truncNormal_<T extends Tensor>(
  tensor: T,
  { mean = 0, std = 1, a = -2, b = 2, generator }: TruncNormalOptions = {},
): T {
  if (!(std > 0 && Number.isFinite(std)))
    throw new RangeError(`truncNormal_: std must be positive, got ${std}`);
  if (!Number.isFinite(mean)) throw new RangeError(`truncNormal_: mean must be finite, got ${mean}`);
  if (!(a < b)) throw new RangeError(`truncNormal_: a ${a} must be less than b ${b}`);
  const [low, high] = normalCdf([(a - mean) / std, (b - mean) / std]);
  const uniform = rand(tensor.shape, { dtype: "float64", generator }).dataSync();
  const values = Array.from(uniform, (u) =>
    Math.min(b, Math.max(a, mean + std * normalQuantile(low + (high - low) * u))),
  );
  return fill(tensor, () => fromValues(values, tensor.shape, { dtype: "float64" }));
}

/** Options of `orthogonal_`. */
export interface OrthogonalOptions extends InitOptions {
  /** Scales the (semi-)orthogonal matrix (default 1). */
  gain?: number;
}

function norm2(v: Float64Array): number {
  let sum = 0;
  for (const x of v) sum += x * x;
  return Math.sqrt(sum);
}

/**
 * The thin Q (m × n, m ≥ n) of the QR decomposition of `a` (row-major m × n), by Householder
 * reflections, with each column's sign set so that R's diagonal is positive (as PyTorch's
 * `linalg.qr` followed by `q *= sign(diag(r))`).
 */
function householderQ(a: Float64Array, m: number, n: number): Float64Array {
  const reflectors: Float64Array[] = [];
  const signs: number[] = [];
  for (let k = 0; k < n; k++) {
    const v = new Float64Array(m - k);
    for (let i = k; i < m; i++) v[i - k] = a[i * n + k];
    const norm = norm2(v);
    // alpha = −sign(x₀)·‖x‖ avoids cancellation in x₀ − alpha; R[k][k] = alpha.
    const alpha = v[0] > 0 ? -norm : norm;
    signs.push(alpha < 0 ? -1 : 1);
    v[0] -= alpha;
    const vNorm = norm2(v);
    if (vNorm > 0) for (let i = 0; i < v.length; i++) v[i] /= vNorm;
    reflectors.push(v);
    // A[k:, k:] −= 2·v·(vᵀ·A[k:, k:])
    for (let j = k; j < n; j++) {
      let dot = 0;
      for (let i = k; i < m; i++) dot += v[i - k] * a[i * n + j];
      for (let i = k; i < m; i++) a[i * n + j] -= 2 * v[i - k] * dot;
    }
  }
  // Q = H₀·H₁·…·Hₙ₋₁ applied to the first n columns of the identity, last reflector first.
  const q = new Float64Array(m * n);
  for (let j = 0; j < n; j++) q[j * n + j] = 1;
  for (let k = n - 1; k >= 0; k--) {
    const v = reflectors[k];
    for (let j = 0; j < n; j++) {
      let dot = 0;
      for (let i = k; i < m; i++) dot += v[i - k] * q[i * n + j];
      for (let i = k; i < m; i++) q[i * n + j] -= 2 * v[i - k] * dot;
    }
  }
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) q[i * n + j] *= signs[j];
  return q;
}

/**
 * Fills `tensor` (at least 2 dims, viewed as rows = `shape[0]` by cols = the rest) in place with a
 * (semi-)orthogonal matrix times `gain` (default 1), as PyTorch's: the QR decomposition of a
 * N(0, 1) draw (transposed when rows < cols), with R's diagonal made positive. Then
 * `WᵀW = gain²·I` for rows ≥ cols and `WWᵀ = gain²·I` otherwise.
 */
export function orthogonal_<T extends Tensor>(tensor: T, { gain = 1, generator }: OrthogonalOptions = {}): T {
  if (tensor.ndim < 2) {
    throw new RangeError(
      `orthogonal_: only tensors with 2 or more dims are supported, got ${formatShape(tensor.shape)}`,
    );
  }
  if (!Number.isFinite(gain)) throw new RangeError(`orthogonal_: gain must be finite, got ${gain}`);
  if (tensor.size === 0) return tensor;
  const rows = tensor.shape[0];
  const cols = tensor.size / rows;
  const draw = randn([rows, cols], { dtype: "float64", generator });
  const tall = rows >= cols;
  const [m, n] = tall ? [rows, cols] : [cols, rows];
  const a = Float64Array.from((tall ? draw : draw.transpose(0, 1).contiguous()).dataSync());
  const q = fromValues(Array.from(householderQ(a, m, n)), [m, n], { dtype: "float64" });
  return fill(tensor, () => (tall ? q : q.transpose(0, 1)).mul(gain).reshape(tensor.shape));
}
