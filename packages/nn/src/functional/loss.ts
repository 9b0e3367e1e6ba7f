// Functional losses: crossEntropy, nllLoss, mseLoss, binaryCrossEntropyWithLogits.
import { checkValues, formatShape, noGrad, type Tensor, where } from "@normgrad/core";
import { assertFloat, assertIgnoreIndex, assertReduction, type Reduction } from "./validate.ts";

/** Options of `nllLoss`. */
export interface NllLossOptions {
  /** Per-class weights (shape [C]); default none (all 1). */
  weight?: Tensor | null;
  /** Targets equal to this (an integer) contribute no loss and no gradient; default −100. */
  ignoreIndex?: number;
  /** Default `"mean"`: the weighted mean over non-ignored targets. */
  reduction?: Reduction;
}

/** Options of `crossEntropy`. */
export interface CrossEntropyOptions extends NllLossOptions {
  /** Mixes the one-hot target with the uniform distribution: ε/C on every class; default 0. */
  labelSmoothing?: number;
}

function reduce(loss: Tensor, reduction: Reduction): Tensor {
  switch (reduction) {
    case "none":
      return loss;
    case "sum":
      return loss.sum();
    case "mean":
      return loss.mean();
    default:
      return reduction satisfies never;
  }
}

/** Moves the class dim (1) of (N, C, d1, …) to the end and flattens to rows: (N·d1·…, C); (C) becomes (1, C). */
function classRows(input: Tensor): Tensor {
  if (input.ndim === 1) return input.unsqueeze(0);
  if (input.ndim === 2) return input;
  const order = [0, ...input.shape.map((_, axis) => axis).slice(2), 1];
  return input.permute(...order).reshape([-1, input.shape[1]]);
}

/** The shape class-index targets must have for `input`: (N, d1, …), or a scalar for (C). */
function targetShapeFor(input: Tensor): number[] {
  return input.ndim === 1 ? [] : [input.shape[0], ...input.shape.slice(2)];
}

function assertClassTargets(op: string, input: Tensor, target: Tensor, ignoreIndex: number): void {
  if (target.dtype !== "int32") {
    throw new TypeError(
      `${op}: class-index targets must be int32, got ${target.dtype} ${formatShape(target.shape)}`,
    );
  }
  const expected = targetShapeFor(input);
  if (target.ndim !== expected.length || target.shape.some((dim, axis) => dim !== expected[axis])) {
    throw new RangeError(
      `${op}: target ${formatShape(target.shape)} does not match input ${formatShape(input.shape)}: ` +
        `expected class indices of shape ${formatShape(expected)}`,
    );
  }
  const classes = input.ndim === 1 ? input.shape[0] : input.shape[1];
  if (target.size === 0) return;
  // The smallest and largest target that is not ignoreIndex: two scalars cross to the host, not every target.
  const bounds = noGrad(() => {
    const ignored = target.eq(ignoreIndex);
    const counted = where(ignored, 0, target);
    const result = [counted.min(), counted.max()];
    ignored.dispose();
    counted.dispose();
    return result;
  });
  checkValues(bounds, ([[low], [high]]) => {
    const outside = low < 0 ? low : high >= classes ? high : null;
    return outside === null
      ? null
      : new RangeError(
          `${op}: target ${outside} is out of bounds: class indices must be in [0, ${classes - 1}]` +
            (ignoreIndex < 0 || ignoreIndex >= classes ? ` or equal ignoreIndex ${ignoreIndex}` : ""),
        );
  });
  for (const bound of bounds) bound.dispose();
}

function assertClassWeight(op: string, weight: Tensor | null, input: Tensor): void {
  if (weight === null) return;
  const classes = input.ndim === 1 ? input.shape[0] : input.shape[1];
  if (weight.ndim !== 1 || weight.shape[0] !== classes) {
    throw new RangeError(
      `${op}: weight ${formatShape(weight.shape)} must have one entry per class, [${classes}]`,
    );
  }
}

/**
 * The weighted negative log-likelihood of class-index targets, given log-probabilities
 * `logProbs` (N, C, …) and the smoothing term; shared by nllLoss and crossEntropy.
 * Per row: `(1 − ε)·w[t]·(−logp[t]) + (ε/C)·Σ_c w[c]·(−logp[c])`; mean divides by Σ w[t] over
 * non-ignored rows.
 */
function classIndexLoss(
  logProbs: Tensor,
  target: Tensor,
  weight: Tensor | null,
  ignoreIndex: number,
  reduction: Reduction,
  labelSmoothing: number,
): Tensor {
  const rows = classRows(logProbs);
  const classes = rows.shape[1];
  const flatTarget = target.reshape([-1]);
  const kept = flatTarget.ne(ignoreIndex);
  const safeTarget = where(kept, flatTarget, 0);
  const keptWeight =
    weight === null ? kept.to(rows.dtype) : weight.to(rows.dtype).gather(0, safeTarget).mul(kept);
  const picked = rows.gather(1, safeTarget.unsqueeze(1)).squeeze(1);
  let loss = picked.neg().mul(keptWeight);
  if (labelSmoothing > 0) {
    const weighted = weight === null ? rows : rows.mul(weight.to(rows.dtype));
    const smooth = weighted.sum(1).neg().mul(kept);
    loss = loss.mul(1 - labelSmoothing).add(smooth.mul(labelSmoothing / classes));
  }
  switch (reduction) {
    case "none":
      return loss.reshape(target.shape);
    case "sum":
      return loss.sum();
    case "mean":
      return loss.sum().div(keptWeight.sum());
    default:
      return reduction satisfies never;
  }
}

/**
 * Negative log-likelihood of class-index targets (int32) given log-probabilities `input`
 * (N, C), (N, C, d1, …) or (C): `−w[t]·input[t]` per element, reduced (`"mean"` divides by the
 * summed weights of the non-ignored targets).
 */
export function nllLoss(
  input: Tensor,
  target: Tensor,
  { weight = null, ignoreIndex = -100, reduction = "mean" }: NllLossOptions = {},
): Tensor {
  assertFloat(input, "nllLoss input");
  assertReduction(reduction, "nllLoss");
  assertIgnoreIndex(ignoreIndex, "nllLoss");
  assertClassWeight("nllLoss", weight, input);
  assertClassTargets("nllLoss", input, target, ignoreIndex);
  return classIndexLoss(input, target, weight, ignoreIndex, reduction, 0);
}

/**
 * Cross entropy of logits `input` (N, C), (N, C, d1, …) or (C) against int32 class indices, or
 * against class probabilities of input's shape (float): `−Σ_c q[c]·w[c]·log softmax(input)[c]`
 * with q the (label-smoothed) target distribution, q = (1 − ε)·onehot(t) + ε/C. `"mean"` divides
 * by Σ w[t] over non-ignored targets for class indices, by the number of rows (N·d1·…) for probabilities.
 */
export function crossEntropy(
  input: Tensor,
  target: Tensor,
  { weight = null, ignoreIndex = -100, reduction = "mean", labelSmoothing = 0 }: CrossEntropyOptions = {},
): Tensor {
  assertFloat(input, "crossEntropy input");
  assertReduction(reduction, "crossEntropy");
  assertIgnoreIndex(ignoreIndex, "crossEntropy");
  assertClassWeight("crossEntropy", weight, input);
  if (!(labelSmoothing >= 0 && labelSmoothing <= 1)) {
    throw new RangeError(`crossEntropy: labelSmoothing must be in [0, 1], got ${labelSmoothing}`);
  }
  if (input.ndim === 0) throw new RangeError("crossEntropy: input must have a class dim, got a scalar");
  const classDim = input.ndim === 1 ? 0 : 1;
  const logProbs = input.logSoftmax(classDim);
  if (target.dtype !== "int32") {
    if (target.ndim !== input.ndim || target.shape.some((dim, axis) => dim !== input.shape[axis])) {
      throw new RangeError(
        `crossEntropy: probability targets ${formatShape(target.shape)} must have the input's shape ` +
          `${formatShape(input.shape)} (or pass int32 class indices)`,
      );
    }
    const classes = input.shape[classDim];
    const smoothed =
      labelSmoothing > 0 ? target.mul(1 - labelSmoothing).add(labelSmoothing / classes) : target;
    const classWeight =
      weight === null
        ? null
        : weight.to(input.dtype).reshape([classes, ...input.shape.slice(2).map(() => 1)]);
    const terms = logProbs.mul(smoothed).mul(classWeight ?? 1);
    const loss = terms.sum(classDim).neg();
    return reduce(loss, reduction);
  }
  assertClassTargets("crossEntropy", input, target, ignoreIndex);
  return classIndexLoss(logProbs, target, weight, ignoreIndex, reduction, labelSmoothing);
}

function assertSameShape(op: string, input: Tensor, target: Tensor): void {
  if (input.ndim !== target.ndim || input.shape.some((dim, axis) => dim !== target.shape[axis])) {
    throw new RangeError(
      `${op}: input ${formatShape(input.shape)} and target ${formatShape(target.shape)} must have the same shape`,
    );
  }
}

/** Mean squared error `(input − target)²`, reduced (default mean). Shapes must match. */
export function mseLoss(
  input: Tensor,
  target: Tensor,
  { reduction = "mean" }: { reduction?: Reduction } = {},
): Tensor {
  assertFloat(input, "mseLoss input");
  assertReduction(reduction, "mseLoss");
  assertSameShape("mseLoss", input, target);
  return reduce(input.sub(target).square(), reduction);
}

/** Options of `binaryCrossEntropyWithLogits`. */
export interface BceWithLogitsOptions {
  /** Rescales each element's loss (broadcast to the input); default none. */
  weight?: Tensor | null;
  /** Weight of the positive term per class (broadcast along the last dim); default none. */
  posWeight?: Tensor | null;
  /** Default `"mean"`. */
  reduction?: Reduction;
}

/**
 * Binary cross entropy on logits x with targets y in [0, 1], computed stably:
 * `ℓ = (1 − y)·x + (1 + (p − 1)·y)·softplus(−x)` with p = posWeight (1 if none), times `weight`,
 * reduced. Its gradient is `(1 + (p − 1)·y)·σ(x) − p·y` (σ(x) − y without posWeight) everywhere,
 * x = 0 included.
 */
export function binaryCrossEntropyWithLogits(
  input: Tensor,
  target: Tensor,
  { weight = null, posWeight = null, reduction = "mean" }: BceWithLogitsOptions = {},
): Tensor {
  assertFloat(input, "binaryCrossEntropyWithLogits input");
  assertReduction(reduction, "binaryCrossEntropyWithLogits");
  assertSameShape("binaryCrossEntropyWithLogits", input, target);
  // softplus(−x) = m + log(e^(−m) + e^(−x−m)) for any m; m = max(−x, 0) keeps exp from
  // overflowing. The value does not depend on m, so m is a detached constant and the gradient is
  // exactly −e^(−x−m)/Σ = −σ(−x), also at x = 0, where the abs/relu form (zero subgradients) lost the −½.
  const shift = input.neg().relu().detach();
  const softplusNegative = shift.neg().exp().add(input.neg().sub(shift).exp()).log().add(shift);
  const logWeight = posWeight === null ? null : posWeight.sub(1).mul(target).add(1);
  let loss = target
    .neg()
    .add(1)
    .mul(input)
    .add(logWeight === null ? softplusNegative : softplusNegative.mul(logWeight));
  if (weight !== null) loss = loss.mul(weight);
  return reduce(loss, reduction);
}
