// Folding eval-mode BatchNorm into the layer before it (or, for a Linear, after it) for inference.
import { type Device, Generator, getBackend, noGrad, type Tensor, tidy } from "@normgrad/core";
import { BatchNorm, BatchNorm1d, BatchNorm2d } from "./layers/batch-norm.ts";
import { Sequential, type TensorModule } from "./layers/container.ts";
import { Conv2d } from "./layers/conv2d.ts";
import { Linear } from "./layers/linear.ts";
import type { AnyModule } from "./module.ts";

/**
 * The dtype folding computes in on `device`: float64 where the device has it (the CPU), else
 * float32 (GPU.js). Folding stays on the device, with tensor ops only: moving values to the
 * host would need a synchronous read, which asynchronous devices (GPU.js webgpu, webasm with
 * threads) refuse.
 */
function foldDType(device: Device): "float64" | "float32" {
  return getBackend(device).dtypes.includes("float64") ? "float64" : "float32";
}

/** The eval-mode BatchNorm as `y = (x − μ)·scale + β` per channel, in the fold's dtype. */
interface ChannelAffine {
  /** `γ/√(σ² + ε)` (γ = 1 when the BatchNorm is not affine). */
  scale: Tensor;
  /** The running mean μ. */
  mean: Tensor;
  /** β, or null when the BatchNorm is not affine. */
  beta: Tensor | null;
}

/** A BatchNorm's running statistics, checked present. */
interface RunningStats {
  mean: Tensor;
  variance: Tensor;
}

/**
 * Refuses a BatchNorm in training mode or without running statistics, since it then
 * normalizes with each batch's own statistics, which no fixed weights can reproduce, and one
 * on another device than the layer (`layer`, on `device`) it is folded with.
 */
function foldableStats(bn: BatchNorm, device: Device, layer: string, where: string): RunningStats {
  assertEval(bn, where);
  const { runningMean, runningVar } = bn;
  if (runningMean === null || runningVar === null) {
    throw new Error(
      `${where}: ${bn} has no running statistics (trackRunningStats: false), so it normalizes with each ` +
        "batch's statistics even in eval mode and cannot be folded into fixed weights",
    );
  }
  if (runningMean.device !== device) {
    throw new Error(
      `${where}: the ${layer} is on device "${device}" but ${bn} is on "${runningMean.device}": ` +
        `move both to one device first, e.g. bn.to("${device}")`,
    );
  }
  return { mean: runningMean, variance: runningVar };
}

/** `bn` as a ChannelAffine, computed on its device in the fold's dtype. */
function bnAsAffine(bn: BatchNorm, { mean, variance }: RunningStats): ChannelAffine {
  const dtype = foldDType(mean.device);
  const rsqrt = variance.to(dtype).add(bn.eps).rsqrt();
  return {
    scale: bn.weight === null ? rsqrt : rsqrt.mul(bn.weight.to(dtype)),
    mean: mean.to(dtype),
    beta: bn.bias === null ? null : bn.bias.to(dtype),
  };
}

/**
 * `(b − μ)·scale + β`, the folded bias (b = 0 for a layer without bias). Subtracting μ first,
 * as PyTorch's `fuse_conv_bn_weights` does, keeps float32 accurate: b − μ is exact when b ≈ μ
 * (Sterbenz), where `b·scale − μ·scale` would lose the digits they share.
 */
function foldedBias(bias: Tensor | null, { scale, mean, beta }: ChannelAffine): Tensor {
  const centred = bias === null ? mean.neg() : bias.to(mean.dtype).sub(mean);
  const scaled = centred.mul(scale);
  return beta === null ? scaled : scaled.add(beta);
}

function assertEval(module: AnyModule, where: string): void {
  if (module.training) {
    throw new Error(
      `${where}: fusion is for inference only, and ${module.typeName} is in training mode: call eval() first`,
    );
  }
}

function assertFeatures(produced: number, bn: BatchNorm, what: string, where: string): void {
  if (produced !== bn.numFeatures) {
    throw new RangeError(
      `${where}: the ${what} has ${produced} output channels but ${bn} normalizes ${bn.numFeatures}`,
    );
  }
}

/**
 * Fills the new layer's weight and bias from `compute`, inside a `tidy` so that the
 * intermediates are freed on the device, and returns the layer in eval mode.
 */
function fill<L extends Linear | Conv2d>(layer: L, compute: () => { weight: Tensor; bias: Tensor }): L {
  tidy(() =>
    noGrad(() => {
      const { weight, bias } = compute();
      layer.weight.copy_(weight);
      layer.bias?.copy_(bias);
    }),
  );
  layer.eval();
  return layer;
}

/** A new Linear (with bias) of `like`'s shape, dtype and device, its values to be filled by `fill`. */
function linearLike(like: Linear): Linear {
  // A private generator: initializing the new layer must not advance the global random stream.
  return new Linear(like.inFeatures, like.outFeatures, {
    dtype: like.weight.dtype,
    device: like.weight.device,
    generator: new Generator(0),
  });
}

/**
 * Folds an eval-mode BatchNorm that follows a Linear into a new Linear:
 * `W' = W·γ/√(σ² + ε)` (row by row), `b' = (b − μ)·γ/√(σ² + ε) + β` (b = 0 without bias,
 * γ = 1 and β = 0 for a non-affine BatchNorm). The inputs are not modified. Exact when the
 * BatchNorm's channels are the Linear's output features, i.e. the Linear's output is (N, F).
 *
 * Computed on the layers' device with tensor ops (no values are read, so it works on
 * asynchronous devices too): in float64 where the device has it (the CPU; the result is then
 * rounded once to the layer's dtype), else in float32 (GPU.js). There each folded weight is
 * within about 5·2⁻²⁴ of its exact value relative to its size (five roundings: σ² + ε, √, 1/x,
 * ·γ, ·W, where √ and division are correctly rounded, as in WebAssembly and the GPUs tested;
 * GLSL and WGSL allow a few ulp more), and each bias within about 6·2⁻²⁴ of
 * `|(b − μ)·γ/√(σ² + ε)| + |β|`: b − μ is exact when b ≈ μ, so no digits are lost there.
 */
export function fuseLinearBn(linear: Linear, bn: BatchNorm): Linear {
  const where = "fuseLinearBn";
  assertEval(linear, where);
  const layer = `Linear(${linear.inFeatures}, ${linear.outFeatures})`;
  assertFeatures(linear.outFeatures, bn, layer, where);
  const stats = foldableStats(bn, linear.weight.device, layer, where);
  return fill(linearLike(linear), () => {
    const affine = bnAsAffine(bn, stats);
    return {
      weight: linear.weight.to(affine.scale.dtype).mul(affine.scale.reshape([-1, 1])),
      bias: foldedBias(linear.bias, affine),
    };
  });
}

/**
 * Folds an eval-mode BatchNorm2d that follows a Conv2d into a new Conv2d (same stride,
 * padding, dilation and groups): `W' = W·γ/√(σ² + ε)` per output channel,
 * `b' = (b − μ)·γ/√(σ² + ε) + β`. The inputs are not modified. Computed on the layers' device
 * in float64 where it has it, else in float32, with the precision `fuseLinearBn` states.
 */
export function fuseConvBn(conv: Conv2d, bn: BatchNorm): Conv2d {
  const where = "fuseConvBn";
  assertEval(conv, where);
  const layer = `Conv2d(${conv.inChannels}, ${conv.outChannels})`;
  assertFeatures(conv.outChannels, bn, layer, where);
  const stats = foldableStats(bn, conv.weight.device, layer, where);
  const fused = new Conv2d(conv.inChannels, conv.outChannels, conv.kernelSize, {
    stride: conv.stride,
    padding: conv.padding,
    dilation: conv.dilation,
    groups: conv.groups,
    dtype: conv.weight.dtype,
    device: conv.weight.device,
    generator: new Generator(0),
  });
  return fill(fused, () => {
    const affine = bnAsAffine(bn, stats);
    return {
      weight: conv.weight.to(affine.scale.dtype).mul(affine.scale.reshape([-1, 1, 1, 1])),
      bias: foldedBias(conv.bias, affine),
    };
  });
}

/**
 * Folds an eval-mode BatchNorm1d *forward* into the Linear after it:
 * `W₂·(s⊙y + t) + b₂ = (W₂·diag(s))·y + (W₂·t + b₂)` with `s = γ/√(σ² + ε)` and
 * `t = β − μ·s`, exact because a Linear sees every input feature as it is. (A Conv2d after the
 * BatchNorm would not fold exactly: its zero padding pads the BatchNorm's output, where zeros
 * would have to become t.) Computed on the layers' device in float64 where it has it, else in
 * float32: the weights as `fuseLinearBn` states, the bias with the error of the product W₂·t.
 */
export function fuseBnLinear(bn: BatchNorm, linear: Linear): Linear {
  const where = "fuseBnLinear";
  assertEval(linear, where);
  if (linear.inFeatures !== bn.numFeatures) {
    throw new RangeError(
      `${where}: ${bn} normalizes ${bn.numFeatures} features but the Linear takes ${linear.inFeatures}`,
    );
  }
  const layer = `Linear(${linear.inFeatures}, ${linear.outFeatures})`;
  const stats = foldableStats(bn, linear.weight.device, layer, where);
  return fill(linearLike(linear), () => {
    const affine = bnAsAffine(bn, stats);
    const weight = linear.weight.to(affine.scale.dtype);
    const folded = weight.matmul(foldedBias(null, affine));
    return {
      weight: weight.mul(affine.scale.reshape([1, -1])),
      bias: linear.bias === null ? folded : linear.bias.to(folded.dtype).add(folded),
    };
  });
}

/** What `fuseModel` did with one module or pair (paths are the modules' names in the input). */
export interface FusionNote {
  /** The names of the modules concerned, e.g. `["0", "1"]`. */
  modules: string[];
  action: "folded" | "kept";
  /** Why, in words. */
  reason: string;
}

/** The result of `fuseModel`. */
export interface FusionResult {
  model: Sequential;
  notes: FusionNote[];
}

function describeAt(items: readonly TensorModule[], index: number): string {
  const module = items[index];
  return module === undefined ? "nothing" : `${module.typeName} at ${index}`;
}

/**
 * Folds every eval-mode BatchNorm of a Sequential (and of Sequentials inside it) into a
 * neighbouring layer, returning a new Sequential and a note per decision:
 * - Linear → BatchNorm1d and Conv2d → BatchNorm2d fold into the layer before;
 * - a BatchNorm1d → Linear folds forward into the Linear after it (exact);
 * - anything else, e.g. ReLU → BatchNorm2d → Conv2d, is kept and the note says why.
 * Modules that are not folded are shared with the input, which is left unchanged.
 */
export function fuseModel(sequential: Sequential): FusionResult {
  return fuseSequential(sequential, "");
}

function fuseSequential(sequential: Sequential, prefix: string): FusionResult {
  const items = [...sequential];
  const name = (index: number) => `${prefix}${index}`;
  const modules: TensorModule[] = [];
  const notes: FusionNote[] = [];
  for (let i = 0; i < items.length; i++) {
    const module = items[i];
    const next = items[i + 1];
    if (module instanceof Sequential) {
      const inner = fuseSequential(module, `${name(i)}.`);
      modules.push(inner.model);
      notes.push(...inner.notes);
      continue;
    }
    const fused =
      module instanceof Linear && next instanceof BatchNorm1d
        ? { module: fuseLinearBn(module, next), reason: "BatchNorm1d folded into the Linear before it" }
        : module instanceof Conv2d && next instanceof BatchNorm2d
          ? { module: fuseConvBn(module, next), reason: "BatchNorm2d folded into the Conv2d before it" }
          : module instanceof BatchNorm1d && next instanceof Linear
            ? {
                module: fuseBnLinear(module, next),
                reason:
                  "BatchNorm1d folded forward into the Linear after it (exact: a Linear has no padding)",
              }
            : null;
    if (fused !== null) {
      modules.push(fused.module);
      notes.push({ modules: [name(i), name(i + 1)], action: "folded", reason: fused.reason });
      i++;
      continue;
    }
    if (module instanceof BatchNorm) {
      const after =
        next instanceof Conv2d
          ? `and folding it forward into the Conv2d at ${i + 1} would not be exact (that conv's zero padding ` +
            "would have to pad with the BatchNorm's shift instead)"
          : `and ${describeAt(items, i + 1)} after it cannot absorb it`;
      notes.push({
        modules: [name(i)],
        action: "kept",
        reason:
          `${module.typeName} at ${i} follows ${describeAt(items, i - 1)}, not a layer it can fold into ` +
          `(only a Linear or Conv2d directly before it; a ReLU between them is not linear), ${after}`,
      });
    }
    modules.push(module);
  }
  const model = new Sequential(...modules);
  // Only the container's own flag: the modules it shares with the input keep theirs.
  model.training = sequential.training;
  return { model, notes };
}
