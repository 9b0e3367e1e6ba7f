// The Tensor class: shape, dtype, device, autograd state, and every op as a method.
import { type GradNode, isGradEnabled, noGrad, runBackward } from "./autograd.ts";
import type { Backend, Device, UnaryOp, View } from "./backend.ts";
import { checkValues, settleValueChecks, settleValueChecksSync } from "./check-values.ts";
import { getBackend } from "./devices.ts";
import { assertInt32, DTYPES, type DType, isFloating, type TypedArray } from "./dtype.ts";
import { formatTensor, formatValue } from "./format.ts";
import * as M from "./masks.ts";
import { keep, trackTensor } from "./memory.ts";
import { type NormOrder, norm } from "./norms.ts";
import * as P from "./primitives.ts";
import { indexAdd, scatter, scatterAdd } from "./scatter.ts";
import {
  broadcastShapes,
  contiguousStrides,
  formatList,
  formatShape,
  normalizeAxes,
  normalizeAxis,
  type Shape,
  shapeSize,
  shapesEqual,
} from "./shape.ts";
import { argsort, sort, topk } from "./sort.ts";
import { Storage } from "./storage.ts";
// Tensor implements [Symbol.dispose]; its declaration file must type-check without ESNext.Disposable.
import "./symbol-dispose.ts";

/** A tensor or a plain number (broadcast as a scalar of the tensor's dtype). */
export type TensorLike = Tensor | number;

/** Nested arrays of numbers, as `tolist()` returns them. */
export type NestedArray = number | NestedArray[];

/** Options of `backward`. */
export interface BackwardOptions {
  /** Keep the graph's saved values so backward can run through it again. Default `createGraph`. */
  retainGraph?: boolean;
  /**
   * Record the backward pass, so the gradients it produces (in `.grad`) carry a graph and can be
   * differentiated again: double backward, gradient penalties. Default false.
   */
  createGraph?: boolean;
}

/**
 * A gradient hook (`registerHook`): sees the gradient of the tensor when backward computes it,
 * and may return a replacement of the same shape and dtype (or nothing to keep it).
 */
export type GradHook = (grad: Tensor) => Tensor | undefined;

/** What `registerHook` (and nn's module hooks) return: `remove()` unregisters the hook. */
export interface RemovableHandle {
  /** Unregisters the hook; calling it again does nothing. */
  remove(): void;
}

/**
 * An n-dimensional array on a device, with reverse-mode autograd. Create tensors with
 * `tensor()`, `zeros()`, `randn()`…; ops return new tensors (views share storage where the
 * strides allow). `requiresGrad` leaves collect gradients in `.grad` after `backward()`.
 */
export class Tensor {
  readonly shape: Shape;
  readonly strides: readonly number[];
  readonly offset: number;
  /** @internal the storage shared with views of this tensor. */
  readonly storage: Storage;
  /** @internal creation order (see `trackTensor`): the autograd engine disposes the gradients it made, and only those. */
  readonly serial: number;
  #requiresGrad = false;
  #grad: Tensor | null = null;
  #gradFn: GradNode | null = null;
  readonly #hooks: GradHook[] = [];
  #retainsGrad = false;
  #disposed = false;

  /**
   * `new Tensor(other)` shares `other`'s storage and view (how subclasses such as nn's
   * `Parameter` wrap existing data, like PyTorch's `nn.Parameter(data)`); the four-argument
   * form is @internal: use `tensor()` and the other creation functions.
   */
  constructor(sharing: Tensor);
  constructor(storage: Storage, shape: Shape, strides: readonly number[], offset: number);
  constructor(source: Storage | Tensor, shape?: Shape, strides?: readonly number[], offset?: number) {
    const view =
      source instanceof Tensor
        ? { storage: source.storage, shape: source.shape, strides: source.strides, offset: source.offset }
        : { storage: source, shape: shape ?? [], strides: strides ?? [], offset: offset ?? 0 };
    this.storage = view.storage;
    this.shape = Object.freeze(view.shape.slice());
    this.strides = Object.freeze(view.strides.slice());
    this.offset = view.offset;
    view.storage.retain();
    this.serial = trackTensor(this);
  }

  /** The element type. */
  get dtype(): DType {
    return this.storage.buffer.dtype;
  }

  /** The device holding the values (`"cpu"` or `"gpu"`). */
  get device(): Device {
    return this.storage.buffer.device;
  }

  /** @internal the backend computing on this tensor. */
  get backend(): Backend {
    return this.storage.backend;
  }

  /** @internal the strided window the kernels read. */
  get kernelView(): View {
    this.#assertNotDisposed();
    return { buffer: this.storage.buffer, shape: this.shape, strides: this.strides, offset: this.offset };
  }

  /** Refuses a disposed tensor; `op` names the view op in the error (kernels read through `kernelView`). */
  #assertNotDisposed(op?: string): void {
    if (!this.#disposed) return;
    const prefix = op === undefined ? "" : `${op}: `;
    throw new Error(
      `${prefix}tensor of shape ${formatShape(this.shape)} was used after dispose(): ` +
        "keep it alive (outside tidy, or keep() it) until its last use",
    );
  }

  /** Number of dimensions. */
  get ndim(): number {
    return this.shape.length;
  }

  /** Number of elements. */
  get size(): number {
    return shapeSize(this.shape);
  }

  /** Times the storage has been written in place (PyTorch's `_version`). */
  get version(): number {
    return this.storage.version;
  }

  /** The node that produced this tensor, or null for a leaf (PyTorch's `grad_fn`). */
  get gradFn(): GradNode | null {
    return this.#gradFn;
  }

  /** True for tensors not produced by a recorded op. */
  get isLeaf(): boolean {
    return this.#gradFn === null;
  }

  /** Whether gradients flow to this tensor. Only float leaves can be set. */
  get requiresGrad(): boolean {
    return this.#requiresGrad;
  }

  set requiresGrad(value: boolean) {
    if (!this.isLeaf) {
      throw new Error("requiresGrad can only be changed on leaf tensors; use detach() to make a new leaf");
    }
    if (value && !isFloating(this.dtype)) {
      throw new TypeError(`only float tensors can require grad, this one is ${this.dtype}`);
    }
    this.#requiresGrad = value;
  }

  /** The accumulated gradient of a leaf (null before the first backward or after `grad = null`). */
  get grad(): Tensor | null {
    return this.#grad;
  }

  set grad(value: Tensor | null) {
    if (value !== null && (!shapesEqual(value.shape, this.shape) || value.dtype !== this.dtype)) {
      throw new TypeError(
        `grad must match the tensor: got ${value.dtype} ${formatShape(value.shape)}, ` +
          `expected ${this.dtype} ${formatShape(this.shape)}`,
      );
    }
    if (value !== null && value.device !== this.device) {
      throw new TypeError(`grad is on ${value.device} but the tensor is on ${this.device}`);
    }
    this.#grad = value;
  }

  /**
   * @internal called by the engine: adds `dy` into `.grad` of this leaf. `exclusive` says the
   * engine made dy and nothing else refers to it: this leaf then owns it, and keeps it as
   * `.grad` where that is its first gradient (as PyTorch steals such gradients) or disposes it.
   */
  accumulateGrad(dy: Tensor, exclusive = false, createGraph = false): void {
    const incoming = dy.dtype === this.dtype ? dy : P.cast(dy, this.dtype);
    const previous = this.#grad;
    if (createGraph) {
      // The gradient keeps its graph (PyTorch: `.grad` has a grad_fn after create_graph), and
      // an earlier one is added to out of place, so neither graph is written over.
      this.#grad = keep(previous === null ? incoming : previous.add(incoming));
      return;
    }
    if (previous === null) {
      // Otherwise a copy: the same gradient tensor may reach several leaves, and grads are updated in place.
      this.#grad = keep(exclusive && incoming === dy && dy.ownsStorage() ? dy : incoming.clone());
    } else if (previous.ownsStorage() && !previous.requiresGrad) {
      // In place, as PyTorch: references to `.grad` (optimizer state, user code) stay valid.
      previous.add_(incoming);
    } else {
      this.#grad = keep(previous.add(incoming));
    }
    if (incoming !== dy && incoming !== this.#grad) incoming.dispose();
    if (exclusive && dy !== this.#grad) dy.dispose();
  }

  /** True when this tensor spans its whole storage contiguously: what in-place ops require. */
  ownsStorage(): boolean {
    return this.isContiguous() && this.offset === 0 && this.size === this.storage.buffer.size;
  }

  /**
   * Registers `hook` to run on this tensor's gradient each time backward computes it, before it
   * reaches `.grad` (a leaf) or the ops before it (a non-leaf); a hook that returns a tensor
   * replaces the gradient (PyTorch's `register_hook`). Hooks run in registration order.
   */
  registerHook(hook: GradHook): RemovableHandle {
    if (!this.#requiresGrad) {
      throw new Error(
        `registerHook on a tensor of shape ${formatShape(this.shape)} that does not require grad: no gradient ` +
          "will reach it",
      );
    }
    this.#hooks.push(hook);
    return {
      remove: () => {
        const index = this.#hooks.indexOf(hook);
        if (index >= 0) this.#hooks.splice(index, 1);
      },
    };
  }

  /**
   * Makes backward keep this non-leaf tensor's gradient in `.grad` (accumulated like a leaf's),
   * which it otherwise passes on and frees (PyTorch's `retain_grad`). A no-op on leaves.
   */
  retainGrad(): void {
    if (!this.#requiresGrad) {
      throw new Error(
        `retainGrad on a tensor of shape ${formatShape(this.shape)} that does not require grad`,
      );
    }
    if (!this.isLeaf) this.#retainsGrad = true;
  }

  /** Whether `retainGrad()` was called on this non-leaf tensor. */
  get retainsGrad(): boolean {
    return this.#retainsGrad;
  }

  /** @internal called by the engine: `grad` after this tensor's hooks (each may replace it). */
  runGradHooks(grad: Tensor): Tensor {
    // Backward calls this for every tensor: no copy of the (almost always empty) list then.
    if (this.#hooks.length === 0) return grad;
    let current = grad;
    for (const hook of [...this.#hooks]) {
      const replaced = hook(current);
      if (replaced === undefined) continue;
      if (!shapesEqual(replaced.shape, current.shape) || replaced.dtype !== current.dtype) {
        throw new TypeError(
          `a gradient hook returned ${replaced.dtype} ${formatShape(replaced.shape)} for a gradient of ` +
            `${current.dtype} ${formatShape(current.shape)}: it must keep the shape and dtype`,
        );
      }
      current = replaced;
    }
    return current;
  }

  /** @internal called by primitives and defineOp. */
  attachGradFn(node: GradNode): void {
    this.#gradFn = node;
    this.#requiresGrad = true;
  }

  /** Sets `requiresGrad` in place and returns this tensor (PyTorch's `requires_grad_()`). */
  requiresGrad_(value = true): this {
    this.requiresGrad = value;
    return this;
  }

  /**
   * Computes the gradient of this tensor w.r.t. every leaf that requires grad and adds it to
   * their `.grad`. `grad` is d(loss)/d(this); it may be left out only for a one-element tensor.
   */
  backward(grad?: Tensor, { createGraph = false, retainGraph = createGraph }: BackwardOptions = {}): void {
    if (!this.#requiresGrad) {
      throw new Error("backward() on a tensor that does not require grad and has no gradFn");
    }
    if (grad === undefined && this.size !== 1) {
      throw new Error(
        `backward() without a gradient needs a one-element output, got shape ${formatShape(this.shape)}: ` +
          "reduce it (e.g. .sum()) or pass the gradient, backward(dy)",
      );
    }
    const seed = grad ?? noGrad(() => this.onesLike());
    if (!shapesEqual(seed.shape, this.shape)) {
      throw new RangeError(
        `backward(grad): grad has shape ${formatShape(seed.shape)} but the tensor has shape ${formatShape(this.shape)}`,
      );
    }
    runBackward([this], [seed], { retainGraph, createGraph });
    if (grad === undefined && !createGraph) seed.dispose();
  }

  /** True when the elements lie row-major without gaps. */
  isContiguous(): boolean {
    let expected = 1;
    for (let axis = this.shape.length - 1; axis >= 0; axis--) {
      if (this.shape[axis] !== 1 && this.strides[axis] !== expected) return false;
      expected *= this.shape[axis];
    }
    return true;
  }

  /**
   * A flat row-major copy of the values (synchronous; errors on devices that cannot read
   * synchronously). Off the CPU it first throws any failed value check of earlier ops on this
   * device (an index out of range, non-finite BatchNorm statistics; see `checkValues`).
   */
  dataSync(): TypedArray {
    settleValueChecksSync(this.device);
    return this.backend.read(this.kernelView);
  }

  /**
   * A flat row-major copy of the values. Off the CPU it first throws any failed value check of
   * earlier ops on this device (see `checkValues`).
   */
  async data(): Promise<TypedArray> {
    const [values] = await Promise.all([
      this.backend.readAsync(this.kernelView),
      settleValueChecks(this.device),
    ]);
    return values;
  }

  /** The value of a one-element tensor. */
  item(): number {
    if (this.size !== 1) {
      throw new RangeError(`item() needs a one-element tensor, got shape ${formatShape(this.shape)}`);
    }
    return this.dataSync()[0];
  }

  /** The values as nested arrays (a number for a scalar). */
  tolist(): NestedArray {
    const values = this.dataSync();
    const build = (axis: number, start: number): NestedArray => {
      if (axis === this.shape.length) return values[start];
      const step = shapeSize(this.shape.slice(axis + 1));
      return Array.from({ length: this.shape[axis] }, (_, i) => build(axis + 1, start + i * step));
    };
    return build(0, 0);
  }

  /** PyTorch-style printout: values, then shape, dtype, device and grad state. */
  toString(): string {
    return formatTensor(this);
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }

  /** Releases this tensor's hold on its storage (device memory is freed when no view uses it). */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.storage.release();
  }

  /** `dispose()`, so that `using t = …` releases the tensor at the end of its block. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** True after `dispose()`. */
  get isDisposed(): boolean {
    return this.#disposed;
  }

  // ---- conversion ---------------------------------------------------------------------------

  /**
   * Converts to another dtype, or copies to another device (a no-op when already there). Both
   * are recorded ops, as in PyTorch: gradients flow back through the cast or the copy (the copy
   * of a leaf that requires grad is not a leaf; use `detach()` first for a new leaf).
   */
  to(target: DType | Device): Tensor {
    if (target === "cpu" || target === "gpu") {
      if (target === this.device) return this;
      if (!getBackend(target).dtypes.includes(this.dtype)) {
        throw new TypeError(
          `device "${target}" does not support ${this.dtype}: convert first (e.g. .to("float32")) ` +
            "or keep the tensor on the CPU",
        );
      }
      return P.toDevice(this, target);
    }
    if (target !== "float32" && target !== "float64" && target !== "int32" && target !== "bool") {
      throw new TypeError(
        `to(${formatValue(target)}): expected a dtype (${DTYPES.join(", ")}) or a device ("cpu", "gpu")`,
      );
    }
    if (!this.backend.dtypes.includes(target)) {
      throw new TypeError(
        `device "${this.device}" does not support ${target}: move the tensor to "cpu" first`,
      );
    }
    return P.cast(this, target);
  }

  /** A contiguous copy that stays in the graph (gradients flow back). */
  clone(): Tensor {
    return P.contiguous(this);
  }

  /** This tensor if contiguous, else a contiguous copy. */
  contiguous(): Tensor {
    return this.isContiguous() ? this : P.contiguous(this);
  }

  /** A new leaf sharing this tensor's storage, cut from the graph (no gradient flows back). */
  detach(): Tensor {
    this.#assertNotDisposed("detach");
    return new Tensor(this.storage, this.shape, this.strides, this.offset);
  }

  /** Zeros with this tensor's shape, dtype and device. */
  zerosLike(): Tensor {
    return this.fullLike(0);
  }

  /** Ones with this tensor's shape, dtype and device. */
  onesLike(): Tensor {
    return this.fullLike(1);
  }

  /** `value` everywhere, with this tensor's shape, dtype and device. */
  fullLike(value: number, dtype: DType = this.dtype): Tensor {
    if (dtype === "int32") assertInt32(value, "fullLike");
    return new Tensor(
      new Storage(this.backend, this.backend.full(this.size, value, dtype)),
      this.shape,
      contiguousStrides(this.shape),
      0,
    );
  }

  /** A number beside this tensor, typed as PyTorch types Python scalars: an int beside a bool is int32, a fraction beside an integer dtype float32. */
  #scalar(value: number): Tensor {
    const integral = this.dtype === "int32" || this.dtype === "bool";
    const dtype =
      integral && !Number.isInteger(value) ? "float32" : this.dtype === "bool" ? "int32" : this.dtype;
    if (dtype === "int32") assertInt32(value, "a number next to an int32 tensor");
    return new Tensor(new Storage(this.backend, this.backend.full(1, value, dtype)), [], [], 0);
  }

  #lift(other: TensorLike): Tensor {
    return typeof other === "number" ? this.#scalar(other) : other;
  }

  // ---- elementwise --------------------------------------------------------------------------

  /** `this + other`, broadcast. */
  add(other: TensorLike): Tensor {
    return P.binary("add", this, this.#lift(other));
  }

  /** `this − other`, broadcast. */
  sub(other: TensorLike): Tensor {
    return P.binary("sub", this, this.#lift(other));
  }

  /** `this · other`, broadcast. */
  mul(other: TensorLike): Tensor {
    return P.binary("mul", this, this.#lift(other));
  }

  /** `this / other`, broadcast (true division: int32 / int32 gives float32). */
  div(other: TensorLike): Tensor {
    return P.binary("div", this, this.#lift(other));
  }

  /** `this ** exponent`, broadcast. */
  pow(exponent: TensorLike): Tensor {
    return P.binary("pow", this, this.#lift(exponent));
  }

  /**
   * Elementwise maximum (NaN propagates). As PyTorch, ties split the gradient equally and where
   * either side is NaN both get all of it.
   */
  maximum(other: TensorLike): Tensor {
    return P.binary("maximum", this, this.#lift(other));
  }

  /**
   * Elementwise minimum (NaN propagates). As PyTorch, ties split the gradient equally and where
   * either side is NaN both get all of it.
   */
  minimum(other: TensorLike): Tensor {
    return P.binary("minimum", this, this.#lift(other));
  }

  /** `this == other` as a bool mask. */
  eq(other: TensorLike): Tensor {
    return P.binary("eq", this, this.#lift(other));
  }

  /** `this != other` as a bool mask. */
  ne(other: TensorLike): Tensor {
    return P.binary("ne", this, this.#lift(other));
  }

  /** `this < other` as a bool mask. */
  lt(other: TensorLike): Tensor {
    return P.binary("lt", this, this.#lift(other));
  }

  /** `this <= other` as a bool mask. */
  le(other: TensorLike): Tensor {
    return P.binary("le", this, this.#lift(other));
  }

  /** `this > other` as a bool mask. */
  gt(other: TensorLike): Tensor {
    return P.binary("gt", this, this.#lift(other));
  }

  /** `this >= other` as a bool mask. */
  ge(other: TensorLike): Tensor {
    return P.binary("ge", this, this.#lift(other));
  }

  #unary(op: UnaryOp): Tensor {
    return P.unary(op, this);
  }

  /** `−x` */
  neg(): Tensor {
    return this.#unary("neg");
  }

  /** `eˣ` */
  exp(): Tensor {
    return this.#unary("exp");
  }

  /** Natural logarithm. */
  log(): Tensor {
    return this.#unary("log");
  }

  /** `√x` */
  sqrt(): Tensor {
    return this.#unary("sqrt");
  }

  /** `1/√x` */
  rsqrt(): Tensor {
    return this.#unary("sqrt").#unary("recip");
  }

  /** `1/x` */
  reciprocal(): Tensor {
    return this.#unary("recip");
  }

  /** `|x|` (gradient sign(x), 0 at 0). */
  abs(): Tensor {
    return this.#unary("abs");
  }

  /** −1, 0 or 1 (gradient 0). */
  sign(): Tensor {
    return this.#unary("sign");
  }

  /** Hyperbolic tangent. */
  tanh(): Tensor {
    return this.#unary("tanh");
  }

  /** `σ(x) = 1/(1+e⁻ˣ)`, computed without overflow. */
  sigmoid(): Tensor {
    return this.#unary("sigmoid");
  }

  /** `max(x, 0)`, gradient 0 at 0. */
  relu(): Tensor {
    return this.#unary("relu");
  }

  /** The error function. */
  erf(): Tensor {
    return this.#unary("erf");
  }

  /** `sin x` (radians). */
  sin(): Tensor {
    return this.#unary("sin");
  }

  /** `cos x` (radians). */
  cos(): Tensor {
    return this.#unary("cos");
  }

  /** `tan x = sin x / cos x`. */
  tan(): Tensor {
    return this.sin().div(this.cos());
  }

  /** `atan x`, in (−π/2, π/2). */
  atan(): Tensor {
    return this.#unary("atan");
  }

  /**
   * `asin x = atan(x / √((1 − x)(1 + x)))`, in [−π/2, π/2]; NaN outside [−1, 1]. (1 − x)(1 + x)
   * rather than 1 − x², whose rounding near |x| = 1 would cost digits.
   */
  asin(): Tensor {
    const x = this.#float();
    return x.div(x.neg().add(1).mul(x.add(1)).sqrt()).atan();
  }

  /** `acos x = 2·atan(√((1 − x)/(1 + x)))`, in [0, π]; NaN outside [−1, 1]; accurate near x = ±1. */
  acos(): Tensor {
    const x = this.#float();
    return x.neg().add(1).div(x.add(1)).sqrt().atan().mul(2);
  }

  /**
   * The angle of the point (other, this), `atan2(y, x)` with y = this, in (−π, π], broadcast:
   * `atan(y/x)` (±π for x < 0) where |x| ≥ |y|, else `±π/2 − atan(x/y)`, so the gradient
   * `(x·dy − y·dx)/(x² + y²)` is right on the axes too. Signed zeros are not told apart
   * (atan2(−0, −1) is π here, −π in PyTorch); at (0, 0) the value is 0 and the gradient 0.
   */
  atan2(other: TensorLike): Tensor {
    const shape = broadcastShapes(this.shape, this.#lift(other).shape);
    const y = this.#float().expand(shape);
    const x = this.#lift(other).#float().expand(shape);
    const alongX = x.abs().ge(y.abs());
    // Where a branch is not taken its divisor is replaced by 1, so no ∞ or NaN reaches the gradient.
    const ratioX = y.div(P.where(alongX.mul(x.ne(0)), x, x.onesLike())).atan();
    const halfTurn = P.where(y.lt(0), ratioX.fullLike(-Math.PI), ratioX.fullLike(Math.PI));
    const fromX = P.where(x.lt(0), ratioX.add(halfTurn), ratioX);
    const ratioY = x.div(P.where(alongX, y.onesLike(), y)).atan();
    const quarter = P.where(y.lt(0), ratioY.fullLike(-Math.PI / 2), ratioY.fullLike(Math.PI / 2));
    return P.where(alongX, fromX, quarter.sub(ratioY));
  }

  /**
   * `sinh x = (expm1(x) − expm1(−x))/2`, exact near 0 (where (eˣ − e⁻ˣ)/2 cancels); overflows
   * to ∞ slightly early, for x in (709.8, 710.5].
   */
  sinh(): Tensor {
    return this.expm1().sub(this.neg().expm1()).mul(0.5);
  }

  /** `cosh x = (eˣ + e⁻ˣ)/2`. */
  cosh(): Tensor {
    return this.exp().add(this.neg().exp()).mul(0.5);
  }

  /** `ln(1 + x)`, accurate for small x (a primitive: log(1 + x) loses the digits of x below 1e-16). */
  log1p(): Tensor {
    return this.#unary("log1p");
  }

  /** `eˣ − 1`, accurate for small x (a primitive: exp(x) − 1 cancels near 0). */
  expm1(): Tensor {
    return this.#unary("expm1");
  }

  /** Integer tensors as float32 (for the composed float-only ops); float ones as they are. */
  #float(): Tensor {
    return isFloating(this.dtype) ? this : this.to("float32");
  }

  /**
   * Rounds half to even (as PyTorch): `(|x| + 2ᵐ) − 2ᵐ` with m the mantissa width (52 for
   * float64, 23 for float32) rounds |x| < 2ᵐ in the FPU's own round-to-nearest-even mode; larger
   * values, ±∞ and NaN are integers (or NaN) already. Gradient 0, as PyTorch. Int32 is copied.
   */
  round(): Tensor {
    return this.#rounding((x) => x.#roundHalfEven());
  }

  /** The largest integer ≤ x (gradient 0). */
  floor(): Tensor {
    return this.#rounding((x) => x.#floor());
  }

  /** The smallest integer ≥ x (gradient 0). */
  ceil(): Tensor {
    return this.#rounding((x) => x.neg().#floor().neg());
  }

  /** x rounded toward 0: `sign(x)·floor(|x|)` (gradient 0). */
  trunc(): Tensor {
    return this.#rounding((x) => x.abs().#floor().mul(x.sign()));
  }

  #roundHalfEven(): Tensor {
    const big = 2 ** (this.dtype === "float64" ? 52 : 23);
    const magnitude = this.abs();
    return P.where(magnitude.lt(big), magnitude.add(big).sub(big).mul(this.sign()), this);
  }

  #floor(): Tensor {
    const rounded = this.#roundHalfEven();
    return rounded.sub(rounded.gt(this));
  }

  /** `compute(x)`, detached, in the graph of this tensor with a zero gradient (as PyTorch's rounding ops). */
  #rounding(compute: (x: Tensor) => Tensor): Tensor {
    if (this.dtype === "int32") return this.clone();
    const value = noGrad(() => compute(this));
    if (!this.requiresGrad || !isGradEnabled()) return value;
    // `where` sends its second branch nothing where the condition holds, which is everywhere.
    return P.where(value.fullLike(1, "int32"), value, this);
  }

  /** `x` where x > 0, else `negativeSlope·x` (default 0.01, as PyTorch). */
  leakyRelu(negativeSlope = 0.01): Tensor {
    return P.where(this.gt(0), this, this.mul(negativeSlope));
  }

  /**
   * GELU. `"none"` (default, as PyTorch): `x·Φ(x) = x/2·(1 + erf(x/√2))`;
   * `"tanh"`: `x/2·(1 + tanh(√(2/π)·(x + 0.044715x³)))`.
   */
  gelu(approximate: "none" | "tanh" = "none"): Tensor {
    if (approximate === "tanh") {
      const inner = this.add(this.pow(3).mul(0.044715)).mul(Math.sqrt(2 / Math.PI));
      return this.mul(0.5).mul(inner.tanh().add(1));
    }
    return this.mul(0.5).mul(this.mul(Math.SQRT1_2).erf().add(1));
  }

  /** `x²` */
  square(): Tensor {
    return this.mul(this);
  }

  /** Limits values to [min, max] (either may be null); the gradient passes where min ≤ x ≤ max. */
  clamp(min: number | null, max: number | null = null): Tensor {
    if (min !== null && max !== null && min > max) {
      throw new RangeError(`clamp: min ${min} is greater than max ${max}`);
    }
    let out: Tensor = this;
    if (min !== null) out = P.where(out.lt(min), out.#scalar(min), out);
    if (max !== null) out = P.where(out.gt(max), out.#scalar(max), out);
    return out;
  }

  // ---- reductions ---------------------------------------------------------------------------

  #keepdim(reduced: Tensor, axes: readonly number[], keepdim: boolean): Tensor {
    if (!keepdim) return reduced;
    return reduced.reshape(this.shape.map((dim, axis) => (axes.includes(axis) ? 1 : dim)));
  }

  /** Sum over `dim` (one axis, several, or all when left out). */
  sum(dim?: number | readonly number[], keepdim = false): Tensor {
    const axes = normalizeAxes(dim, this.ndim);
    return this.#keepdim(P.reduce("sum", this, axes), axes, keepdim);
  }

  /** Mean over `dim` (all axes when left out). Float only. */
  mean(dim?: number | readonly number[], keepdim = false): Tensor {
    const axes = normalizeAxes(dim, this.ndim);
    const count = axes.reduce((product, axis) => product * this.shape[axis], 1);
    if (count === 0) throw new RangeError(`mean over an empty selection of shape ${formatShape(this.shape)}`);
    const source = isFloating(this.dtype) ? this : this.to("float32");
    return source.sum(axes, keepdim).div(count);
  }

  /** Maximum over `dim` (all axes when left out). The gradient is shared by tied maxima. */
  max(dim?: number | readonly number[], keepdim = false): Tensor {
    const axes = normalizeAxes(dim, this.ndim);
    return this.#keepdim(P.reduce("max", this, axes), axes, keepdim);
  }

  /** Minimum over `dim` (all axes when left out). */
  min(dim?: number | readonly number[], keepdim = false): Tensor {
    const axes = normalizeAxes(dim, this.ndim);
    return this.#keepdim(P.reduce("min", this, axes), axes, keepdim);
  }

  #argReduce(op: "argmax" | "argmin", dim: number | undefined, keepdim: boolean): Tensor {
    if (dim === undefined) return P.argReduce(op, this.reshape([this.size]), 0);
    const axis = normalizeAxis(dim, this.ndim);
    return this.#keepdim(P.argReduce(op, this, axis), [axis], keepdim);
  }

  /** Index of the maximum along `dim` (of the flattened tensor when left out), int32. */
  argmax(dim?: number, keepdim = false): Tensor {
    return this.#argReduce("argmax", dim, keepdim);
  }

  /** Index of the minimum along `dim` (of the flattened tensor when left out), int32. */
  argmin(dim?: number, keepdim = false): Tensor {
    return this.#argReduce("argmin", dim, keepdim);
  }

  /**
   * Running sum along `dim`: `out[i] = Σ_{k ≤ i} x[k]`. Composed as a scan of ⌈log₂ n⌉ shifted
   * adds (Hillis–Steele), so its gradient (a reversed running sum) comes from autograd.
   */
  cumsum(dim: number): Tensor {
    return this.#scan(dim, 0, (a, b) => a.add(b));
  }

  /**
   * Running product along `dim`: `out[i] = Π_{k ≤ i} x[k]`, a scan of ⌈log₂ n⌉ shifted
   * products. Its gradient is differentiated through those products, never divides by x, and so
   * is exact where x has zeros (one or several), as PyTorch's.
   */
  cumprod(dim: number): Tensor {
    return this.#scan(dim, 1, (a, b) => a.mul(b));
  }

  #scan(dim: number, identity: number, combine: (a: Tensor, b: Tensor) => Tensor): Tensor {
    if (this.ndim === 0) return this.clone();
    const axis = normalizeAxis(dim, this.ndim);
    const size = this.shape[axis];
    let out: Tensor = this;
    for (let shift = 1; shift < size; shift *= 2) {
      const shifted = P.pad(
        out.narrow(axis, 0, size - shift),
        this.shape.map((_, d) => (d === axis ? [shift, 0] : [0, 0])),
        identity,
      );
      out = combine(out, shifted);
    }
    return out === this ? this.clone() : out;
  }

  /**
   * Product over `dim` (all elements when left out; 1 over an empty dim). Multiplied as a tree of
   * halves, so the gradient `Π_{k≠i} x[k]` is exact with zeros in x, as PyTorch's.
   */
  prod(dim?: number, keepdim = false): Tensor {
    if (dim === undefined) return this.reshape([this.size]).prod(0).reshape([]);
    const axis = normalizeAxis(dim, this.ndim);
    if (this.ndim === 0) return this.clone();
    const padOne = (x: Tensor) =>
      P.pad(
        x,
        x.shape.map((_, d) => (d === axis ? [0, 1] : [0, 0])),
        1,
      );
    let out: Tensor = this.shape[axis] === 0 ? padOne(this) : this.clone();
    while (out.shape[axis] > 1) {
      if (out.shape[axis] % 2 === 1) out = padOne(out);
      const half = out.shape[axis] / 2;
      out = out.narrow(axis, 0, half).mul(out.narrow(axis, half, half));
    }
    return keepdim ? out : out.squeeze(axis);
  }

  /** Sorted values along `dim` (default −1) and their int32 positions; stable, NaN last (see `sort`). */
  sort(dim = -1, descending = false): [values: Tensor, indices: Tensor] {
    return sort(this, dim, descending);
  }

  /** The int32 positions that sort this tensor along `dim` (default −1; see `sort`). */
  argsort(dim = -1, descending = false): Tensor {
    return argsort(this, dim, descending);
  }

  /** The `k` largest (smallest) values along `dim` (default −1) and their int32 positions (see `topk`). */
  topk(k: number, dim = -1, largest = true, sorted = true): [values: Tensor, indices: Tensor] {
    return topk(this, k, dim, largest, sorted);
  }

  /**
   * Variance over `dim`, two-pass: `Σ(x − x̄)² / (n − correction)`. `correction` 1 (default)
   * is the unbiased estimate, 0 the biased one.
   */
  var(dim?: number | readonly number[], { correction = 1, keepdim = false } = {}): Tensor {
    const axes = normalizeAxes(dim, this.ndim);
    const count = axes.reduce((product, axis) => product * this.shape[axis], 1);
    if (count - correction <= 0) {
      throw new RangeError(
        `var over ${count} element(s) with correction ${correction} divides by ${count - correction}: ` +
          "use correction 0 or reduce over more elements",
      );
    }
    const centered = this.sub(this.mean(axes, true));
    return centered
      .square()
      .sum(axes, keepdim)
      .div(count - correction);
  }

  /**
   * Standard deviation: `√var` with the same options. Where the values are all equal the
   * gradient is 0, as PyTorch's (the derivative of √ is infinite at 0, and ∞·0 would give NaN).
   */
  std(dim?: number | readonly number[], options: { correction?: number; keepdim?: boolean } = {}): Tensor {
    const variance = this.var(dim, options);
    // Both wheres are needed: the outer one sends no gradient into √ at 0, the inner one keeps
    // √'s infinite derivative at 0 out of the (discarded) branch, where ∞·0 would still be NaN.
    const zero = variance.eq(0);
    const positive = P.where(zero, variance.onesLike(), variance);
    return P.where(zero, variance.zerosLike(), positive.sqrt());
  }

  /** `log Σ eˣ` over `dim`, shifted by the maximum so it never overflows. */
  logsumexp(dim?: number | readonly number[], keepdim = false): Tensor {
    const axes = normalizeAxes(dim, this.ndim);
    const shift = this.#softmaxShift(axes);
    const summed = this.sub(shift).exp().sum(axes, true).log().add(shift);
    return keepdim ? summed : summed.reshape(this.shape.filter((_, axis) => !axes.includes(axis)));
  }

  /**
   * The maximum over `axes` (kept), detached: subtracting it keeps `eˣ` from overflowing, and
   * since softmax and `log Σ eˣ − shift` do not depend on it, it is a constant for the gradient.
   * A slice whose maximum is ±∞ shifts by 0 to avoid ∞ − ∞ (so `logsumexp` is +∞ with a +∞
   * entry and −∞ when all are −∞, as PyTorch).
   */
  #softmaxShift(axes: readonly number[]): Tensor {
    const peak = this.max(axes, true).detach();
    return P.where(peak.abs().eq(Number.POSITIVE_INFINITY), peak.zerosLike(), peak);
  }

  /** `softmax(x)ᵢ = eˣⁱ / Σⱼ eˣʲ` along `dim`. */
  softmax(dim: number): Tensor {
    const axis = normalizeAxis(dim, this.ndim);
    const shifted = this.sub(this.max(axis, true).detach()).exp();
    return shifted.div(shifted.sum(axis, true));
  }

  /**
   * `log softmax(x) = x − logsumexp(x)` along `dim`, computed as `(x − m) − log Σ e^(x − m)`
   * with `m` the maximum: subtracting `logsumexp` itself would round away the result when the
   * values are large (float32 logits near 1e7 have a spacing of 1).
   */
  logSoftmax(dim: number): Tensor {
    const axis = normalizeAxis(dim, this.ndim);
    const shifted = this.sub(this.#softmaxShift([axis]));
    return shifted.sub(shifted.exp().sum(axis, true).log());
  }

  // ---- linear algebra -----------------------------------------------------------------------

  /**
   * Matrix product with PyTorch's rules: 1-D operands are treated as a row (left) or column
   * (right) vector and that dim removed again; batch dims broadcast.
   */
  matmul(other: Tensor): Tensor {
    if (this.ndim === 0 || other.ndim === 0) {
      throw new RangeError(
        `matmul needs at least 1-D operands, got ${formatShape(this.shape)} and ${formatShape(other.shape)}`,
      );
    }
    const left = this.ndim === 1 ? this.unsqueeze(0) : this;
    const right = other.ndim === 1 ? other.unsqueeze(1) : other;
    const k = left.shape[left.ndim - 1];
    if (right.shape[right.ndim - 2] !== k) {
      throw new RangeError(
        `matmul: shapes ${formatShape(this.shape)} and ${formatShape(other.shape)} cannot be multiplied ` +
          `(${k} != ${right.shape[right.ndim - 2]})`,
      );
    }
    const batch = broadcastShapes(left.shape.slice(0, -2), right.shape.slice(0, -2));
    const a = P.expand(left, [...batch, ...left.shape.slice(-2)]);
    const b = P.expand(right, [...batch, ...right.shape.slice(-2)]);
    let out = P.matmul(a, b);
    if (other.ndim === 1) out = out.squeeze(-1);
    if (this.ndim === 1) out = out.squeeze(this.ndim === 1 && other.ndim === 1 ? -1 : -2);
    return out;
  }

  /** The last two dims swapped (matrix transpose, batched). */
  get mT(): Tensor {
    this.#assertNotDisposed("mT");
    return this.transpose(-2, -1);
  }

  // ---- movement -----------------------------------------------------------------------------

  /** The same values in a new shape; one size may be −1 (inferred). Copies only when the strides demand. */
  reshape(shape: readonly number[]): Tensor {
    // Views share the storage: one of a disposed tensor would read (or free again) a freed buffer.
    this.#assertNotDisposed("reshape");
    const inferred = shape.indexOf(-1);
    let resolved = shape;
    if (inferred >= 0) {
      const known = shape.reduce((product, dim, axis) => (axis === inferred ? product : product * dim), 1);
      if (shape.lastIndexOf(-1) !== inferred || known === 0 || this.size % known !== 0) {
        throw new RangeError(`cannot reshape ${formatShape(this.shape)} to ${formatShape(shape)}`);
      }
      resolved = shape.map((dim) => (dim === -1 ? this.size / known : dim));
    }
    P.assertReshapeable(this.shape, resolved);
    return P.reshape(this, resolved);
  }

  /** Alias of `reshape` (normgrad copies where PyTorch's `view` would refuse). */
  view(shape: readonly number[]): Tensor {
    return this.reshape(shape);
  }

  /** Reorders the dims: `permute(2, 0, 1)` turns (A, B, C) into (C, A, B). */
  permute(...dims: number[]): Tensor {
    this.#assertNotDisposed("permute");
    const order = dims.map((dim) => normalizeAxis(dim, this.ndim));
    if (order.length !== this.ndim || new Set(order).size !== order.length) {
      throw new RangeError(
        `permute(${formatList(dims, "dims")}) is not a permutation of the ${this.ndim} dims of ${formatShape(this.shape)}`,
      );
    }
    return P.permute(this, order);
  }

  /** Swaps two dims (a view). */
  transpose(dim0: number, dim1: number): Tensor {
    this.#assertNotDisposed("transpose");
    const order = this.shape.map((_, axis) => axis);
    const [a, b] = [normalizeAxis(dim0, this.ndim), normalizeAxis(dim1, this.ndim)];
    // a === b leaves the order as is (and a scalar's empty order empty).
    if (a !== b) [order[a], order[b]] = [order[b], order[a]];
    return P.permute(this, order);
  }

  /** Removes `dim` if it has size 1, or every size-1 dim when left out. */
  squeeze(dim?: number): Tensor {
    if (dim === undefined) return this.reshape(this.shape.filter((size) => size !== 1));
    const axis = normalizeAxis(dim, this.ndim);
    if (this.shape[axis] !== 1) return this;
    return this.reshape(this.shape.filter((_, d) => d !== axis));
  }

  /** Inserts a size-1 dim at `dim` (−1 appends). */
  unsqueeze(dim: number): Tensor {
    const axis = normalizeAxis(dim, this.ndim + 1);
    const shape = this.shape.slice();
    shape.splice(axis, 0, 1);
    return this.reshape(shape);
  }

  /** Broadcasts to `shape` without copying; −1 keeps a dim's size. */
  expand(shape: readonly number[]): Tensor {
    this.#assertNotDisposed("expand");
    const lead = shape.length - this.ndim;
    if (lead < 0)
      throw new RangeError(`cannot expand ${formatShape(this.shape)} to fewer dims ${formatShape(shape)}`);
    return P.expand(
      this,
      shape.map((dim, axis) => (dim === -1 ? this.shape[axis - lead] : dim)),
    );
  }

  /** Merges dims `startDim..endDim` into one (default: all, giving 1-D). */
  flatten(startDim = 0, endDim = -1): Tensor {
    if (this.ndim === 0) return this.reshape([1]);
    const start = normalizeAxis(startDim, this.ndim);
    const end = normalizeAxis(endDim, this.ndim);
    if (start > end) throw new RangeError(`flatten: startDim ${startDim} comes after endDim ${endDim}`);
    const merged = this.shape.slice(start, end + 1).reduce((a, b) => a * b, 1);
    return this.reshape([...this.shape.slice(0, start), merged, ...this.shape.slice(end + 1)]);
  }

  /** The elements `start .. start+length−1` along `dim` (a view). */
  narrow(dim: number, start: number, length: number): Tensor {
    this.#assertNotDisposed("narrow");
    const axis = normalizeAxis(dim, this.ndim);
    const size = this.shape[axis];
    const from = start < 0 ? start + size : start;
    if (
      !Number.isInteger(from) ||
      !Number.isInteger(length) ||
      from < 0 ||
      length < 0 ||
      from + length > size
    ) {
      throw new RangeError(
        `narrow(dim ${dim}, start ${start}, length ${length}) is out of range for size ${size}`,
      );
    }
    const starts = this.shape.map((_, d) => (d === axis ? from : 0));
    const ends = this.shape.map((dimSize, d) => (d === axis ? from + length : dimSize));
    return P.slice(this, starts, ends);
  }

  /** Elements `start ≤ i < end` along `dim`, Python-style (negative counts from the end; clipped). */
  slice(dim: number, start = 0, end = Number.POSITIVE_INFINITY): Tensor {
    this.#assertNotDisposed("slice");
    const size = this.shape[normalizeAxis(dim, this.ndim)];
    const resolve = (i: number) => Math.min(size, Math.max(0, i < 0 ? i + size : i));
    const from = resolve(start);
    return this.narrow(dim, from, Math.max(0, resolve(end) - from));
  }

  /** Selects entries `indices` (int32, 1-D) along `dim` (PyTorch's `index_select`). */
  indexSelect(dim: number, indices: Tensor): Tensor {
    const axis = normalizeAxis(dim, this.ndim);
    if (indices.ndim !== 1 || indices.dtype !== "int32") {
      throw new TypeError(
        `indexSelect needs 1-D int32 indices, got ${indices.dtype} ${formatShape(indices.shape)}`,
      );
    }
    // A scalar selects from itself as from one element, and stays a scalar (as PyTorch).
    if (this.ndim === 0) return this.reshape([1]).indexSelect(0, indices).reshape([]);
    assertIndicesInRange(indices, this.shape[axis], "indexSelect");
    const shape = this.shape.map((size, d) => (d === axis ? indices.size : size));
    const view = indices.reshape(this.shape.map((_, d) => (d === axis ? indices.size : 1)));
    // The expanded view, not a copy: the CPU kernel copies whole rows where the index only varies along the axis.
    return P.gather(this, axis, P.expand(view, shape));
  }

  /** `value` where `mask` (bool, or int32 0/1; broadcast to this shape) is true, else this (PyTorch's `masked_fill`). */
  maskedFill(mask: Tensor, value: number): Tensor {
    return M.maskedFill(this, mask, value);
  }

  /** The elements where `mask` is true, as a 1-D tensor (reads the mask; PyTorch's `masked_select`). */
  maskedSelect(mask: Tensor): Tensor {
    return M.maskedSelect(this, mask);
  }

  /** True where any element over `dim` (default all) is nonzero: a bool mask. */
  any(dim?: number | readonly number[], keepdim = false): Tensor {
    return M.any(this, dim, keepdim);
  }

  /** True where every element over `dim` (default all) is nonzero: a bool mask. */
  all(dim?: number | readonly number[], keepdim = false): Tensor {
    return M.all(this, dim, keepdim);
  }

  /** True where NaN. */
  isnan(): Tensor {
    return M.isnan(this);
  }

  /** True where ±∞. */
  isinf(): Tensor {
    return M.isinf(this);
  }

  /** True where neither NaN nor ±∞. */
  isfinite(): Tensor {
    return M.isfinite(this);
  }

  /** int32 (n, ndim) indices of the nonzero elements, row-major (reads the values). */
  nonzero(): Tensor {
    return M.nonzero(this);
  }

  /** True where this is 0. */
  logicalNot(): Tensor {
    return M.logical.not(this);
  }

  /** True where both are nonzero (broadcast). */
  logicalAnd(other: Tensor): Tensor {
    return M.logical.and(this, other);
  }

  /** True where either is nonzero (broadcast). */
  logicalOr(other: Tensor): Tensor {
    return M.logical.or(this, other);
  }

  /** True where exactly one is nonzero (broadcast). */
  logicalXor(other: Tensor): Tensor {
    return M.logical.xor(this, other);
  }

  /**
   * Out of place, `out[…index[i]…] = src[i]` along `dim` (a number writes that value). Two tensor
   * values for one position, which PyTorch leaves undefined, are an error here.
   */
  scatter(dim: number, index: Tensor, src: Tensor | number): Tensor {
    return scatter(this, dim, index, src);
  }

  /** Out of place, `out[…index[i]…] += src[i]` along `dim` (PyTorch's `scatter_add`). */
  scatterAdd(dim: number, index: Tensor, src: Tensor): Tensor {
    return scatterAdd(this, dim, index, src);
  }

  /** Out of place, `out[…index[i]…] += alpha·source[…i…]` along `dim`, index 1-D (PyTorch's `index_add`). */
  indexAdd(dim: number, index: Tensor, source: Tensor, { alpha = 1 }: { alpha?: number } = {}): Tensor {
    return indexAdd(this, dim, index, source, alpha);
  }

  /** `torch.norm`: "fro" (default) or 2 the Euclidean norm, any number p the p-norm, over `dim` (default all). */
  norm(p: NormOrder | "fro" = "fro", dim?: number | readonly number[], keepdim = false): Tensor {
    return norm(this, p, dim, keepdim);
  }

  /** `out[i][j] = x[i][index[i][j]]` along `dim` (torch.gather); index is int32 of the same rank. */
  gather(dim: number, index: Tensor): Tensor {
    const axis = normalizeAxis(dim, this.ndim);
    if (index.dtype !== "int32" || index.ndim !== this.ndim) {
      throw new TypeError(
        `gather needs an int32 index of rank ${this.ndim}, got ${index.dtype} ${formatShape(index.shape)}`,
      );
    }
    // A scalar gathers from itself as from one element, and stays a scalar (as PyTorch).
    if (this.ndim === 0) {
      const gathered = this.reshape([1]).gather(0, index.reshape([1]));
      return gathered.reshape([]);
    }
    index.shape.forEach((size, d) => {
      if (d !== axis && size > this.shape[d]) {
        throw new RangeError(
          `gather: index ${formatShape(index.shape)} is larger than input ${formatShape(this.shape)} at dim ${d}`,
        );
      }
    });
    assertIndicesInRange(index, this.shape[axis], "gather");
    return P.gather(this, axis, index);
  }

  /**
   * Constant padding, PyTorch's F.pad order: `[left, right]` pads the last dim,
   * `[left, right, top, bottom]` the last two, and so on.
   */
  pad(padding: readonly number[], value = 0): Tensor {
    if (padding.length % 2 !== 0 || padding.length / 2 > this.ndim) {
      throw new RangeError(
        `pad: ${padding.length} values do not make (before, after) pairs for ${this.ndim} dims`,
      );
    }
    if (padding.some((amount) => !Number.isInteger(amount) || amount < 0)) {
      throw new RangeError(
        `pad: amounts must be non-negative integers, got [${formatList(padding, "values")}]`,
      );
    }
    const pairs = this.shape.map((_, axis): readonly [number, number] => {
      const fromEnd = this.ndim - 1 - axis;
      return fromEnd * 2 < padding.length ? [padding[fromEnd * 2], padding[fromEnd * 2 + 1]] : [0, 0];
    });
    return P.pad(this, pairs, value);
  }

  /** The same values in `other`'s shape (`reshape(other.shape)`). */
  viewAs(other: Tensor): Tensor {
    return this.reshape(other.shape);
  }

  /** An int32 tensor of `values` on this tensor's device (indices and masks built on the host). */
  #int32(values: readonly number[], shape: Shape): Tensor {
    const buffer = this.backend.upload(Int32Array.from(values));
    return new Tensor(new Storage(this.backend, buffer), shape, contiguousStrides(shape), 0);
  }

  /** Axes from a dim or a list of dims, refusing repeats (`op` names the method in the error). */
  #distinctAxes(op: string, dims: number | readonly number[]): number[] {
    const list = typeof dims === "number" ? [dims] : dims;
    const axes = list.map((dim) => normalizeAxis(dim, this.ndim));
    const repeated = axes.find((axis, i) => axes.indexOf(axis) !== i);
    if (repeated !== undefined) {
      throw new RangeError(`${op}: dim ${repeated} appears more than once in [${formatList(list, "dims")}]`);
    }
    return axes;
  }

  /** The order of the elements reversed along each of `dims` (a copy, as PyTorch's `flip`). */
  flip(dims: number | readonly number[]): Tensor {
    let out: Tensor = this;
    for (const axis of this.#distinctAxes("flip", dims)) {
      const size = this.shape[axis];
      if (size < 2) continue;
      const reversed = this.#int32(
        Array.from({ length: size }, (_, i) => size - 1 - i),
        [size],
      );
      out = out.indexSelect(axis, reversed);
    }
    return out === this ? this.clone() : out;
  }

  /**
   * Rotates the elements along `dims` by `shifts` (one shift per dim; negative rotates back):
   * `out[(i + shift) mod n] = x[i]`. Without `dims`, the flattened tensor is rolled and reshaped.
   */
  roll(shifts: number | readonly number[], dims?: number | readonly number[]): Tensor {
    const shiftList = typeof shifts === "number" ? [shifts] : shifts;
    if (dims === undefined) {
      if (shiftList.length !== 1) {
        throw new RangeError(`roll without dims takes one shift, got [${formatList(shiftList, "shifts")}]`);
      }
      return this.flatten().roll(shiftList[0], 0).reshape(this.shape);
    }
    const axes = (typeof dims === "number" ? [dims] : dims).map((dim) => normalizeAxis(dim, this.ndim));
    if (axes.length !== shiftList.length || axes.length === 0) {
      throw new RangeError(
        `roll: ${shiftList.length} shift(s) for ${axes.length} dim(s): give one shift per dim`,
      );
    }
    let out: Tensor = this;
    axes.forEach((axis, i) => {
      if (!Number.isInteger(shiftList[i]))
        throw new RangeError(`roll: shift ${shiftList[i]} is not an integer`);
      const size = this.shape[axis];
      const shift = size === 0 ? 0 : ((shiftList[i] % size) + size) % size;
      if (shift !== 0)
        out = P.cat([out.narrow(axis, size - shift, shift), out.narrow(axis, 0, size - shift)], axis);
    });
    return out === this ? this.clone() : out;
  }

  /**
   * Tiles the tensor `sizes[i]` times along each dim (PyTorch's `repeat`); `sizes` may have more
   * dims than the tensor, which then gets leading dims of size 1. The result has shape
   * `sizes[i]·shape[i]`.
   */
  repeat(...sizes: number[]): Tensor {
    if (sizes.length < this.ndim) {
      throw new RangeError(
        `repeat(${formatList(sizes, "sizes")}): give at least one size per dim of ${formatShape(this.shape)}`,
      );
    }
    const bad = sizes.find((size) => !Number.isInteger(size) || size < 0);
    if (bad !== undefined) throw new RangeError(`repeat: sizes must be non-negative integers, got ${bad}`);
    const padded = [...Array<number>(sizes.length - this.ndim).fill(1), ...this.shape];
    // (s₀, s₁, …) → (1, s₀, 1, s₁, …) → expand to (r₀, s₀, r₁, s₁, …) → (r₀s₀, r₁s₁, …)
    const interleaved = this.reshape(padded.flatMap((size) => [1, size]));
    const tiled = interleaved.expand(padded.flatMap((size, i) => [sizes[i], size]));
    return P.contiguous(tiled).reshape(padded.map((size, i) => size * sizes[i]));
  }

  /**
   * Splits into views along `dim` (default 0): pieces of `splitSizeOrSections` elements (the
   * last one smaller when the size does not divide), or of the listed sizes, which must add up
   * to the dim's size.
   */
  split(splitSizeOrSections: number | readonly number[], dim = 0): Tensor[] {
    const axis = normalizeAxis(dim, this.ndim);
    const size = this.shape[axis];
    let sections: readonly number[];
    if (typeof splitSizeOrSections === "number") {
      const step = splitSizeOrSections;
      if (!Number.isInteger(step) || step < 0 || (step === 0 && size > 0)) {
        throw new RangeError(
          `split: split size ${step} must be a positive integer (0 only for a dim of size 0; dim ${dim} has size ${size})`,
        );
      }
      sections =
        step === 0
          ? [0]
          : Array.from({ length: Math.max(1, Math.ceil(size / step)) }, (_, i) =>
              Math.min(step, size - i * step),
            );
    } else {
      sections = splitSizeOrSections;
      const total = sections.reduce((sum, n) => sum + n, 0);
      if (sections.some((n) => !Number.isInteger(n) || n < 0) || total !== size) {
        throw new RangeError(
          `split: sizes [${formatList(sections, "sizes")}] must be non-negative integers adding up to ${size}, ` +
            `the size of dim ${dim}`,
        );
      }
    }
    let start = 0;
    return sections.map((length) => {
      const piece = this.narrow(axis, start, length);
      start += length;
      return piece;
    });
  }

  /**
   * Splits into `chunks` views along `dim` (default 0) of ⌈size/chunks⌉ elements each, the last
   * one smaller; fewer than `chunks` pieces when the size runs out first (as PyTorch).
   */
  chunk(chunks: number, dim = 0): Tensor[] {
    if (!Number.isInteger(chunks) || chunks <= 0) {
      throw new RangeError(`chunk: chunks must be a positive integer, got ${chunks}`);
    }
    const size = this.shape[normalizeAxis(dim, this.ndim)];
    return this.split(size === 0 ? 0 : Math.ceil(size / chunks), dim);
  }

  /**
   * The lower triangle of the last two dims: `out[…, i, j] = x[…, i, j]` where `j − i ≤ diagonal`
   * (default 0, the main diagonal; positive keeps diagonals above it), else 0.
   */
  tril(diagonal = 0): Tensor {
    return this.#triangle("tril", diagonal, (i, j) => j - i <= diagonal);
  }

  /** The upper triangle of the last two dims: entries with `j − i ≥ diagonal` (default 0) kept, the rest 0. */
  triu(diagonal = 0): Tensor {
    return this.#triangle("triu", diagonal, (i, j) => j - i >= diagonal);
  }

  #triangle(op: string, diagonal: number, inside: (i: number, j: number) => boolean): Tensor {
    if (this.ndim < 2) {
      throw new RangeError(`${op} needs at least 2 dims, got shape ${formatShape(this.shape)}`);
    }
    if (!Number.isInteger(diagonal)) throw new RangeError(`${op}: diagonal ${diagonal} is not an integer`);
    const [rows, cols] = this.shape.slice(-2);
    const mask = Array.from({ length: rows * cols }, (_, k) =>
      inside(Math.floor(k / cols), k % cols) ? 1 : 0,
    );
    return P.where(this.#int32(mask, [rows, cols]), this, this.#scalar(0));
  }

  // ---- in place -----------------------------------------------------------------------------

  #writeInPlace(op: string, compute: () => Tensor): this {
    this.#assertNotDisposed();
    if (isGradEnabled() && this.requiresGrad) {
      throw new Error(
        `${op} on a tensor that requires grad (shape ${formatShape(this.shape)}) would corrupt its gradient: ` +
          "wrap the update in noGrad(), or use the out-of-place op",
      );
    }
    if (!this.ownsStorage()) {
      throw new Error(`${op} needs a tensor that owns its whole storage, not a view: call .clone() first`);
    }
    noGrad(() => {
      const result = compute();
      const value = P.expand(result.dtype === this.dtype ? result : P.cast(result, this.dtype), this.shape);
      const owned =
        value.isContiguous() && value.size === value.storage.buffer.size ? value : P.contiguous(value);
      this.backend.writeInto(this.storage.buffer, owned.storage.buffer);
      for (const temporary of new Set([result, value, owned])) if (temporary !== this) temporary.dispose();
    });
    this.storage.version++;
    return this;
  }

  /** Copies `source` (broadcast, cast) into this tensor's storage. */
  copy_(source: TensorLike): this {
    if (typeof source !== "number") {
      // Cast where the source lives: the target device may not hold the source's dtype (GPU.js has no float64).
      if (source.device !== this.device) source = source.to(this.dtype).to(this.device);
      broadcastShapes(source.shape, this.shape);
    }
    return this.#writeInPlace("copy_", () => this.#lift(source).mul(1));
  }

  /** Sets every element to `value`. */
  fill_(value: number): this {
    return this.#writeInPlace("fill_", () => this.fullLike(value));
  }

  /** Sets every element to 0. */
  zero_(): this {
    return this.fill_(0);
  }

  /** In-place `this += alpha·other`. */
  add_(other: TensorLike, alpha = 1): this {
    return this.#writeInPlace("add_", () => this.add(alpha === 1 ? other : this.#lift(other).mul(alpha)));
  }

  /** In-place `this −= alpha·other`. */
  sub_(other: TensorLike, alpha = 1): this {
    return this.#writeInPlace("sub_", () => this.sub(alpha === 1 ? other : this.#lift(other).mul(alpha)));
  }

  /** In-place `this ·= other`. */
  mul_(other: TensorLike): this {
    return this.#writeInPlace("mul_", () => this.mul(other));
  }

  /** In-place `this /= other`. */
  div_(other: TensorLike): this {
    return this.#writeInPlace("div_", () => this.div(other));
  }
}

/** The smallest and largest of some values (a loop: spreading a large array into Math.min overflows the stack). */
function valueRange(values: ArrayLike<number>): [number, number] {
  let [low, high] = [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];
  for (let i = 0; i < values.length; i++) {
    low = Math.min(low, values[i]);
    high = Math.max(high, values[i]);
  }
  return [low, high];
}

/**
 * The largest `(i − (size − 1))·i` over the indices: positive exactly when an integer index
 * lies outside `[0, size)` (a `checkValues` flag computed on the device).
 */
function outOfRangeFlag(indices: Tensor, size: number): Tensor {
  return indices
    .sub(size - 1)
    .mul(indices)
    .max();
}

/** Throws (see `checkValues`) naming the smallest or largest index when one lies outside `[0, size)`. */
export function assertIndicesInRange(indices: Tensor, size: number, op: string): void {
  if (indices.size === 0) return;
  checkValues(
    [indices],
    ([values]) => {
      const [low, high] = valueRange(values);
      const outside = low < 0 ? low : high >= size ? high : null;
      return outside === null
        ? null
        : new RangeError(`${op}: index ${outside} is out of range for a dim of size ${size}`);
    },
    () => outOfRangeFlag(indices, size),
  );
}
