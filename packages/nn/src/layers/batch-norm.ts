// BatchNorm1d/2d/3d and their shared base: γ, β, running statistics and the PyTorch bookkeeping around F.batchNorm.
import { formatShape, noGrad, ones, type Tensor, zeros } from "@normgrad/core";
import { batchNorm } from "../functional/batch-norm.ts";
import { assertFloat, assertPositiveInt, type FactoryOptions } from "../functional/validate.ts";
import { Buffer, Module, Parameter } from "../module.ts";
import { formatPythonBool, formatPythonFloat } from "../repr.ts";

/** Options of the BatchNorm and InstanceNorm layers. */
export interface NormLayerOptions extends Pick<FactoryOptions, "dtype" | "device"> {
  /** Added to the variance under the square root (default 1e-5). */
  eps?: number;
  /**
   * m in `running = (1 − m)·running + m·batch` (default 0.1, PyTorch's convention; Keras' 0.99
   * is 1 − m). `null`: a cumulative average, m = 1/numBatchesTracked.
   */
  momentum?: number | null;
  /** Learn a per-channel scale γ (`weight`) and shift β (`bias`) (default true for BatchNorm). */
  affine?: boolean;
  /** Keep running statistics for eval mode (default true for BatchNorm). */
  trackRunningStats?: boolean;
}

/**
 * What BatchNorm and InstanceNorm share (PyTorch's `_NormBase`): `weight` (γ, ones) and `bias`
 * (β, zeros) when affine; the buffers `runningMean` (zeros), `runningVar` (ones) and
 * `numBatchesTracked` (int32 0) when tracking running statistics, else null.
 */
export abstract class NormBase extends Module {
  /** γ, the per-channel scale (ones at first); null unless `affine`. */
  weight: Parameter | null;
  /** β, the per-channel shift (zeros at first); null unless `affine`. */
  bias: Parameter | null;
  /** The running mean eval mode normalizes with (zeros at first); null unless `trackRunningStats`. */
  runningMean: Buffer | null;
  /** The running (unbiased) variance eval mode normalizes with (ones at first); null unless `trackRunningStats`. */
  runningVar: Buffer | null;
  /** Training batches seen (int32, 0 at first); null unless `trackRunningStats`. */
  numBatchesTracked: Buffer | null;
  /** C, the channels (features) normalized. */
  readonly numFeatures: number;
  /** Added to the variance under the square root (option, default 1e-5). */
  readonly eps: number;
  /** Weight of each batch in the running statistics (option, default 0.1; null: cumulative average). */
  readonly momentum: number | null;
  /** Whether γ and β are learned (option; default true for BatchNorm, false for InstanceNorm). */
  readonly affine: boolean;
  /** Whether running statistics are kept for eval mode (option; default true for BatchNorm, false for InstanceNorm). */
  readonly trackRunningStats: boolean;

  protected constructor(
    numFeatures: number,
    {
      eps = 1e-5,
      momentum = 0.1,
      affine,
      trackRunningStats,
      dtype = "float32",
      device = "cpu",
    }: NormLayerOptions,
    defaults: { affine: boolean; trackRunningStats: boolean },
  ) {
    super();
    assertPositiveInt(numFeatures, `${new.target.name} numFeatures`);
    if (!(eps >= 0 && Number.isFinite(eps))) {
      throw new RangeError(`${new.target.name}: eps must be a finite number ≥ 0, got ${eps}`);
    }
    if (momentum !== null && !(momentum >= 0 && momentum <= 1)) {
      throw new RangeError(
        `${new.target.name}: momentum must be in [0, 1] (PyTorch's convention: 0.1 keeps 90% of the running ` +
          `value; Keras' 0.99 is momentum 0.01) or null for a cumulative average, got ${momentum}`,
      );
    }
    if (dtype === "int32")
      throw new TypeError(`${new.target.name}: dtype must be float32 or float64, got int32`);
    this.numFeatures = numFeatures;
    this.eps = eps;
    this.momentum = momentum;
    this.affine = affine ?? defaults.affine;
    this.trackRunningStats = trackRunningStats ?? defaults.trackRunningStats;
    const options = { dtype, device };
    this.weight = this.affine ? new Parameter(ones([numFeatures], options)) : null;
    this.bias = this.affine ? new Parameter(zeros([numFeatures], options)) : null;
    this.runningMean = this.trackRunningStats ? new Buffer(zeros([numFeatures], options)) : null;
    this.runningVar = this.trackRunningStats ? new Buffer(ones([numFeatures], options)) : null;
    this.numBatchesTracked = this.trackRunningStats
      ? new Buffer(zeros([], { dtype: "int32", device }))
      : null;
  }

  /** Running mean 0, running variance 1, no batches tracked. */
  resetRunningStats(): void {
    noGrad(() => {
      this.runningMean?.zero_();
      this.runningVar?.fill_(1);
      this.numBatchesTracked?.zero_();
    });
  }

  /** Resets the running statistics and sets γ to 1 and β to 0. */
  resetParameters(): void {
    this.resetRunningStats();
    noGrad(() => {
      this.weight?.fill_(1);
      this.bias?.zero_();
    });
  }

  /** Version 2 added `num_batches_tracked`, as in PyTorch. */
  override get stateVersion(): number {
    return 2;
  }

  /**
   * A version-1 state dict, or one without a version (a plain map, a file written by PyTorch),
   * may lack `num_batches_tracked`: it then starts at 0, as PyTorch 1.13 loads one.
   */
  protected override upgradeStateDict(
    state: Map<string, Tensor>,
    prefix: string,
    fromVersion: number | null,
  ): void {
    const key = `${prefix}num_batches_tracked`;
    if ((fromVersion === null || fromVersion < 2) && this.numBatchesTracked !== null && !state.has(key)) {
      state.set(key, zeros([], { dtype: "int32", device: this.numBatchesTracked.device }));
    }
  }

  /** Throws unless x has a channel dim (`channelAxis`) of `numFeatures`. */
  protected assertChannels(x: Tensor, channelAxis: number): void {
    assertFloat(x, `${this.typeName} input`);
    if (x.shape[channelAxis] !== this.numFeatures) {
      throw new RangeError(
        `${this.typeName}(${this.numFeatures}) expects ${this.numFeatures} channels at dim ${channelAxis}, ` +
          `got input of shape ${formatShape(x.shape)}`,
      );
    }
  }

  override extraRepr(): string {
    const momentum = this.momentum === null ? "None" : formatPythonFloat(this.momentum);
    return (
      `${this.numFeatures}, eps=${formatPythonFloat(this.eps)}, momentum=${momentum}, ` +
      `affine=${formatPythonBool(this.affine)}, track_running_stats=${formatPythonBool(this.trackRunningStats)}`
    );
  }
}

/**
 * Batch normalization over the channel dim (PyTorch's `_BatchNorm`):
 * `y = (x − E[x])/√(Var[x] + eps)·γ + β`, with statistics per channel over the batch and
 * spatial dims. In training it uses the batch mean and biased variance and updates the running
 * statistics with the unbiased variance (`running = (1 − momentum)·running + momentum·batch`,
 * counting `numBatchesTracked`); in eval it uses the running statistics, or the batch's when
 * `trackRunningStats` is false. A batch whose statistics are not finite (NaN or ±∞ in the input)
 * throws and leaves the running statistics unchanged. The subclasses only check the input's rank.
 */
export abstract class BatchNorm extends NormBase {
  constructor(numFeatures: number, options: NormLayerOptions = {}) {
    super(numFeatures, options, { affine: true, trackRunningStats: true });
  }

  /** Throws unless x has the rank this class normalizes, naming the expected layout. */
  protected abstract checkInputDim(x: Tensor): void;

  forward(x: Tensor): Tensor {
    this.checkInputDim(x);
    this.assertChannels(x, 1);
    const { runningMean, runningVar, numBatchesTracked } = this;
    const updating = this.training && numBatchesTracked !== null;
    // momentum null: the cumulative average over the batches seen, this one included. It stays a
    // device tensor so that asynchronous devices never have to read the count.
    const cumulative =
      this.momentum === null && updating
        ? noGrad(() =>
            numBatchesTracked
              .add(1)
              .to(numBatchesTracked.backend.dtypes.includes("float64") ? "float64" : "float32")
              .reciprocal(),
          )
        : null;
    const momentum = this.momentum ?? cumulative ?? 0;
    const useBatchStatistics = this.training || runningMean === null;
    const output = batchNorm(x, runningMean, runningVar, {
      weight: this.weight,
      bias: this.bias,
      training: useBatchStatistics,
      momentum,
      eps: this.eps,
    });
    cumulative?.dispose();
    if (updating) noGrad(() => numBatchesTracked.add_(1));
    return output;
  }
}

/**
 * BatchNorm over (N, C) or (N, C, L): statistics per channel over N (and L).
 *
 * ```ts
 * const bn = new BatchNorm1d(100);           // eps 1e-5, momentum 0.1, affine, tracking
 * const y = bn.forward(randn([32, 100]));    // training mode: batch statistics
 * bn.eval();                                 // now the running statistics
 * ```
 */
export class BatchNorm1d extends BatchNorm {
  protected checkInputDim(x: Tensor): void {
    if (x.ndim !== 2 && x.ndim !== 3) {
      throw new RangeError(
        `BatchNorm1d expects a 2-D (N, C) or 3-D (N, C, L) input, got shape ${formatShape(x.shape)}`,
      );
    }
  }
}

/**
 * BatchNorm over (N, C, H, W): statistics per channel over N, H and W (PyTorch's `BatchNorm2d`).
 * Options ({@link NormLayerOptions}): `eps` (1e-5), `momentum` (0.1, or null for a cumulative
 * average), `affine` (true), `trackRunningStats` (true), `dtype` ("float32"), `device` ("cpu").
 *
 * ```ts
 * const bn = new BatchNorm2d(16, { momentum: 0.01 });
 * const y = bn.forward(randn([8, 16, 28, 28]));   // training mode: batch statistics
 * ```
 */
export class BatchNorm2d extends BatchNorm {
  protected checkInputDim(x: Tensor): void {
    if (x.ndim !== 4) {
      throw new RangeError(`BatchNorm2d expects a 4-D (N, C, H, W) input, got shape ${formatShape(x.shape)}`);
    }
  }
}

/** BatchNorm over (N, C, D, H, W): statistics per channel over N, D, H and W. */
export class BatchNorm3d extends BatchNorm {
  protected checkInputDim(x: Tensor): void {
    if (x.ndim !== 5) {
      throw new RangeError(
        `BatchNorm3d expects a 5-D (N, C, D, H, W) input, got shape ${formatShape(x.shape)}`,
      );
    }
  }
}
