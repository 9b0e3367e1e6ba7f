// InstanceNorm1d/2d: every (sample, channel) normalized over its spatial dims; optional γ, β and running statistics.
import { formatShape, type Tensor } from "@normgrad/core";
import { instanceNorm } from "../functional/instance-norm.ts";
import { NormBase, type NormLayerOptions } from "./batch-norm.ts";

/**
 * Instance normalization (PyTorch's `_InstanceNorm`): each (sample, channel) plane is normalized
 * over its spatial dims with the biased variance, then `y = x̂·γ[c] + β[c]`. Defaults differ from
 * BatchNorm: `affine: false`, `trackRunningStats: false`. With running statistics, training
 * updates them (the batch mean of the planes' statistics, unbiased variance) and eval uses them;
 * as in PyTorch, `numBatchesTracked` is not counted. Unbatched input (no N dim) is accepted.
 */
export abstract class InstanceNorm extends NormBase {
  constructor(numFeatures: number, options: NormLayerOptions = {}) {
    super(numFeatures, options, { affine: false, trackRunningStats: false });
    if (this.trackRunningStats && this.momentum === null) {
      throw new RangeError(
        `${this.typeName}: momentum null (a cumulative average) is not supported with trackRunningStats, ` +
          "as in PyTorch; pass a number such as 0.1",
      );
    }
  }

  /** The rank of an unbatched input (C, *spatial). */
  protected abstract get unbatchedRank(): number;

  /** The input layout for error messages, e.g. `(N, C, H, W) or (C, H, W)`. */
  protected abstract get layoutText(): string;

  forward(x: Tensor): Tensor {
    const rank = this.unbatchedRank;
    if (x.ndim !== rank && x.ndim !== rank + 1) {
      throw new RangeError(
        `${this.typeName} expects a ${this.layoutText} input, got shape ${formatShape(x.shape)}`,
      );
    }
    if (x.ndim === rank) return this.forward(x.unsqueeze(0)).squeeze(0);
    // As PyTorch: a channel count that differs from numFeatures only matters when something is per channel.
    if (this.affine || this.trackRunningStats) this.assertChannels(x, 1);
    return instanceNorm(x, {
      runningMean: this.runningMean,
      runningVar: this.runningVar,
      weight: this.weight,
      bias: this.bias,
      useInputStats: this.training || !this.trackRunningStats,
      momentum: this.momentum ?? 0,
      eps: this.eps,
    });
  }
}

/** InstanceNorm over (N, C, L) or (C, L): statistics per (sample, channel) over L. */
export class InstanceNorm1d extends InstanceNorm {
  protected get unbatchedRank(): number {
    return 2;
  }

  protected get layoutText(): string {
    return "3-D (N, C, L) or 2-D (C, L)";
  }
}

/** InstanceNorm over (N, C, H, W) or (C, H, W): statistics per (sample, channel) over H and W. */
export class InstanceNorm2d extends InstanceNorm {
  protected get unbatchedRank(): number {
    return 3;
  }

  protected get layoutText(): string {
    return "4-D (N, C, H, W) or 3-D (C, H, W)";
  }
}
