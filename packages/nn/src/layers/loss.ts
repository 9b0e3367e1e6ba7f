// Loss modules: CrossEntropyLoss, NLLLoss, MSELoss, L1Loss, SmoothL1Loss, HuberLoss, KLDivLoss, BCELoss, BCEWithLogitsLoss (weights are buffers).
import type { Tensor } from "@normgrad/core";
import {
  binaryCrossEntropy,
  binaryCrossEntropyWithLogits,
  crossEntropy,
  huberLoss,
  type KlDivReduction,
  klDiv,
  l1Loss,
  mseLoss,
  nllLoss,
  smoothL1Loss,
} from "../functional/loss.ts";
import { assertIgnoreIndex, assertReduction, type Reduction } from "../functional/validate.ts";
import { Buffer, Module } from "../module.ts";

/** Options of the class-index losses. */
export interface ClassLossOptions {
  /** Per-class weights [C], saved in the state dict as `weight`; default none. */
  weight?: Tensor | null;
  /** Targets equal to this integer are skipped (no loss, no gradient); default −100. */
  ignoreIndex?: number;
  /** Default `"mean"`. */
  reduction?: Reduction;
}

/** Cross entropy of logits against class indices or probabilities (see `F.crossEntropy`). */
export class CrossEntropyLoss extends Module<[Tensor, Tensor], Tensor> {
  weight: Buffer | null;
  readonly ignoreIndex: number;
  readonly reduction: Reduction;
  readonly labelSmoothing: number;

  constructor({
    weight = null,
    ignoreIndex = -100,
    reduction = "mean",
    labelSmoothing = 0,
  }: ClassLossOptions & { labelSmoothing?: number } = {}) {
    super();
    assertReduction(reduction, "CrossEntropyLoss");
    assertIgnoreIndex(ignoreIndex, "CrossEntropyLoss");
    if (!(labelSmoothing >= 0 && labelSmoothing <= 1)) {
      throw new RangeError(`CrossEntropyLoss: labelSmoothing must be in [0, 1], got ${labelSmoothing}`);
    }
    this.weight = weight === null ? null : new Buffer(weight);
    this.ignoreIndex = ignoreIndex;
    this.reduction = reduction;
    this.labelSmoothing = labelSmoothing;
  }

  forward(input: Tensor, target: Tensor): Tensor {
    return crossEntropy(input, target, {
      weight: this.weight,
      ignoreIndex: this.ignoreIndex,
      reduction: this.reduction,
      labelSmoothing: this.labelSmoothing,
    });
  }
}

/** Negative log-likelihood of log-probabilities against class indices (see `F.nllLoss`). */
export class NLLLoss extends Module<[Tensor, Tensor], Tensor> {
  weight: Buffer | null;
  readonly ignoreIndex: number;
  readonly reduction: Reduction;

  constructor({ weight = null, ignoreIndex = -100, reduction = "mean" }: ClassLossOptions = {}) {
    super();
    assertReduction(reduction, "NLLLoss");
    assertIgnoreIndex(ignoreIndex, "NLLLoss");
    this.weight = weight === null ? null : new Buffer(weight);
    this.ignoreIndex = ignoreIndex;
    this.reduction = reduction;
  }

  forward(input: Tensor, target: Tensor): Tensor {
    return nllLoss(input, target, {
      weight: this.weight,
      ignoreIndex: this.ignoreIndex,
      reduction: this.reduction,
    });
  }
}

/** Mean squared error (see `F.mseLoss`). */
export class MSELoss extends Module<[Tensor, Tensor], Tensor> {
  readonly reduction: Reduction;

  constructor({ reduction = "mean" }: { reduction?: Reduction } = {}) {
    super();
    assertReduction(reduction, "MSELoss");
    this.reduction = reduction;
  }

  forward(input: Tensor, target: Tensor): Tensor {
    return mseLoss(input, target, { reduction: this.reduction });
  }
}

/** Binary cross entropy on logits (see `F.binaryCrossEntropyWithLogits`); `weight`, `posWeight` are buffers. */
export class BCEWithLogitsLoss extends Module<[Tensor, Tensor], Tensor> {
  weight: Buffer | null;
  posWeight: Buffer | null;
  readonly reduction: Reduction;

  constructor({
    weight = null,
    posWeight = null,
    reduction = "mean",
  }: { weight?: Tensor | null; posWeight?: Tensor | null; reduction?: Reduction } = {}) {
    super();
    assertReduction(reduction, "BCEWithLogitsLoss");
    this.weight = weight === null ? null : new Buffer(weight);
    this.posWeight = posWeight === null ? null : new Buffer(posWeight);
    this.reduction = reduction;
  }

  forward(input: Tensor, target: Tensor): Tensor {
    return binaryCrossEntropyWithLogits(input, target, {
      weight: this.weight,
      posWeight: this.posWeight,
      reduction: this.reduction,
    });
  }
}

/** Mean absolute error (see `F.l1Loss`). */
export class L1Loss extends Module<[Tensor, Tensor], Tensor> {
  readonly reduction: Reduction;

  constructor({ reduction = "mean" }: { reduction?: Reduction } = {}) {
    super();
    assertReduction(reduction, "L1Loss");
    this.reduction = reduction;
  }

  forward(input: Tensor, target: Tensor): Tensor {
    return l1Loss(input, target, { reduction: this.reduction });
  }
}

/** Smooth L1 loss: quadratic below `beta` (default 1), linear above (see `F.smoothL1Loss`). */
export class SmoothL1Loss extends Module<[Tensor, Tensor], Tensor> {
  readonly reduction: Reduction;
  readonly beta: number;

  constructor({ reduction = "mean", beta = 1 }: { reduction?: Reduction; beta?: number } = {}) {
    super();
    assertReduction(reduction, "SmoothL1Loss");
    if (!(beta >= 0)) throw new RangeError(`SmoothL1Loss: beta must be non-negative, got ${beta}`);
    this.reduction = reduction;
    this.beta = beta;
  }

  forward(input: Tensor, target: Tensor): Tensor {
    return smoothL1Loss(input, target, { reduction: this.reduction, beta: this.beta });
  }
}

/** Huber loss: quadratic below `delta` (default 1), linear with slope delta above (see `F.huberLoss`). */
export class HuberLoss extends Module<[Tensor, Tensor], Tensor> {
  readonly reduction: Reduction;
  readonly delta: number;

  constructor({ reduction = "mean", delta = 1 }: { reduction?: Reduction; delta?: number } = {}) {
    super();
    assertReduction(reduction, "HuberLoss");
    if (!(delta > 0 && delta < Number.POSITIVE_INFINITY))
      throw new RangeError(`HuberLoss: delta must be positive and finite, got ${delta}`);
    this.reduction = reduction;
    this.delta = delta;
  }

  forward(input: Tensor, target: Tensor): Tensor {
    return huberLoss(input, target, { reduction: this.reduction, delta: this.delta });
  }
}

/**
 * Kullback–Leibler divergence of log-probabilities from a target distribution (see `F.klDiv`);
 * default reduction `"mean"` as PyTorch's, `"batchmean"` for the true divergence per sample.
 */
export class KLDivLoss extends Module<[Tensor, Tensor], Tensor> {
  readonly reduction: KlDivReduction;
  readonly logTarget: boolean;

  constructor({
    reduction = "mean",
    logTarget = false,
  }: { reduction?: KlDivReduction; logTarget?: boolean } = {}) {
    super();
    if (reduction !== "batchmean") assertReduction(reduction, "KLDivLoss");
    this.reduction = reduction;
    this.logTarget = logTarget;
  }

  forward(input: Tensor, target: Tensor): Tensor {
    return klDiv(input, target, { reduction: this.reduction, logTarget: this.logTarget });
  }
}

/** Binary cross entropy of probabilities, logs clamped at −100 (see `F.binaryCrossEntropy`); `weight` is a buffer. */
export class BCELoss extends Module<[Tensor, Tensor], Tensor> {
  weight: Buffer | null;
  readonly reduction: Reduction;

  constructor({ weight = null, reduction = "mean" }: { weight?: Tensor | null; reduction?: Reduction } = {}) {
    super();
    assertReduction(reduction, "BCELoss");
    this.weight = weight === null ? null : new Buffer(weight);
    this.reduction = reduction;
  }

  forward(input: Tensor, target: Tensor): Tensor {
    return binaryCrossEntropy(input, target, { weight: this.weight, reduction: this.reduction });
  }
}
