// SyncBatchNorm (BatchNorm over every replica's batch) and convertSyncBatchnorm, which swaps it in for a model's BatchNorm layers.
import { formatShape, noGrad, type Tensor } from "@normgrad/core";
import { syncBatchNorm } from "../functional/sync-batch-norm.ts";
import { type AnyModule, Module } from "../module.ts";
import { getProcessGroup, type ProcessGroup } from "../process-group.ts";
import { BatchNorm, type NormLayerOptions } from "./batch-norm.ts";
import { ModuleList, Sequential } from "./container.ts";

/** Options of {@link SyncBatchNorm}: BatchNorm's, plus the group to synchronize over. */
export interface SyncBatchNormOptions extends NormLayerOptions {
  /** The replicas whose batches are normalized together (default: the group of `initProcessGroup`, looked up at each forward). */
  processGroup?: ProcessGroup | null;
}

/**
 * Batch normalization whose training statistics span the batches of every replica of a
 * data-parallel run (PyTorch's `SyncBatchNorm`): each rank's per-channel (count, mean, M₂) are
 * gathered and merged by Chan's formula (see `mergeMoments`), so
 * `y = (x − μ)/√(σ² + eps)·γ + β` uses the μ and σ² of the whole global batch, and the running
 * statistics take its unbiased variance M₂/(n − 1) with the global count n. Backward all-reduces
 * Σdy and Σdy·x̂. Input (N, C, *) of rank ≥ 2. In eval mode, or when no process group is
 * initialized (or its world size is 1), it is exactly BatchNorm, as PyTorch falls back.
 * Options: BatchNorm's (`eps` 1e-5, `momentum` 0.1, `affine` true, `trackRunningStats` true) and
 * `processGroup` (default: the initialized one).
 *
 * ```ts
 * const bn = new SyncBatchNorm(16);              // no group initialized: plain BatchNorm
 * const y = bn.forward(randn([8, 16, 4, 4]));
 * ```
 */
export class SyncBatchNorm extends BatchNorm {
  /** The group given at construction; null: the initialized one at each forward. */
  readonly processGroup: ProcessGroup | null;

  constructor(numFeatures: number, { processGroup = null, ...options }: SyncBatchNormOptions = {}) {
    super(numFeatures, options);
    this.processGroup = processGroup;
  }

  protected checkInputDim(x: Tensor): void {
    if (x.ndim < 2) {
      throw new RangeError(
        `SyncBatchNorm expects an input of shape (N, C, *), got shape ${formatShape(x.shape)}`,
      );
    }
  }

  override forward(x: Tensor): Tensor {
    const group = this.processGroup ?? getProcessGroup();
    if (!this.training || group === null || group.worldSize === 1) return super.forward(x);
    this.checkInputDim(x);
    this.assertChannels(x, 1);
    const { runningMean, runningVar, numBatchesTracked } = this;
    const momentum = this.momentum ?? (numBatchesTracked === null ? 0 : 1 / (numBatchesTracked.item() + 1));
    const output = syncBatchNorm(x, runningMean, runningVar, {
      weight: this.weight,
      bias: this.bias,
      momentum,
      eps: this.eps,
      group,
    });
    if (numBatchesTracked !== null) noGrad(() => numBatchesTracked.add_(1));
    return output;
  }
}

/** A SyncBatchNorm with `bn`'s configuration that shares its parameters and buffers (PyTorch shares them too). */
function syncCopyOf(bn: BatchNorm, processGroup: ProcessGroup | null): SyncBatchNorm {
  const { numFeatures, eps, momentum, affine, trackRunningStats } = bn;
  const device = bn.weight?.device ?? bn.runningMean?.device ?? "cpu";
  const sync = new SyncBatchNorm(numFeatures, {
    eps,
    momentum,
    affine,
    trackRunningStats,
    device,
    processGroup,
  });
  sync.weight = bn.weight;
  sync.bias = bn.bias;
  sync.runningMean = bn.runningMean;
  sync.runningVar = bn.runningVar;
  sync.numBatchesTracked = bn.numBatchesTracked;
  sync.train(bn.training);
  return sync;
}

/**
 * Replaces every BatchNorm1d/2d/3d in `module` by a {@link SyncBatchNorm} with the same options
 * that shares its γ, β and running statistics, so an optimizer built before the conversion still
 * updates them (PyTorch's `convert_sync_batchnorm`). Returns the converted module: a new
 * SyncBatchNorm when `module` is itself a BatchNorm, else `module`, changed in place (children
 * held in fields, Sequential and ModuleList alike). A field declared as `BatchNorm1d` then holds a
 * SyncBatchNorm, as in PyTorch. `processGroup` (default: the one initialized at each forward).
 */
export function convertSyncBatchnorm(module: BatchNorm, processGroup?: ProcessGroup | null): SyncBatchNorm;
/** Converts `module`'s BatchNorm descendants in place and returns `module` (see the BatchNorm overload). */
export function convertSyncBatchnorm<M extends AnyModule>(module: M, processGroup?: ProcessGroup | null): M;
export function convertSyncBatchnorm(module: AnyModule, processGroup: ProcessGroup | null = null): AnyModule {
  if (module instanceof BatchNorm && !(module instanceof SyncBatchNorm))
    return syncCopyOf(module, processGroup);
  if (module instanceof Sequential) {
    for (const [index, child] of [...module].entries())
      module.set(index, convertSyncBatchnorm(child, processGroup));
    return module;
  }
  if (module instanceof ModuleList) {
    for (const [index, child] of [...module].entries())
      module.set(index, convertSyncBatchnorm(child, processGroup));
    return module;
  }
  for (const [field, child] of Object.entries(module)) {
    if (!(child instanceof Module)) continue;
    const converted = convertSyncBatchnorm(child, processGroup);
    if (converted !== child) Reflect.set(module, field, converted);
  }
  return module;
}
