// Loss modules: CrossEntropyLoss, NLLLoss, MSELoss, BCEWithLogitsLoss (class weights are buffers).
import type { Tensor } from "@normgrad/core";
import { binaryCrossEntropyWithLogits, crossEntropy, mseLoss, nllLoss } from "../functional/loss.ts";
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
