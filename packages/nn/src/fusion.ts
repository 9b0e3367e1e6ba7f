// Folding eval-mode BatchNorm into the layer before it (or, for a Linear, after it) for inference.
import { Generator, noGrad, type Tensor } from "@normgrad/core";
import { BatchNorm, BatchNorm1d, BatchNorm2d } from "./layers/batch-norm.ts";
import { Sequential, type TensorModule } from "./layers/container.ts";
import { Conv2d } from "./layers/conv2d.ts";
import { Linear } from "./layers/linear.ts";
import type { AnyModule } from "./module.ts";

/** A float64 copy on the CPU, where float64 always exists (GPU.js has float32 only). */
function precise(tensor: Tensor): Tensor {
  return tensor.to("cpu").to("float64");
}

/** Copies a float64 result into `target`, converting to its dtype before moving it to its device. */
function assign(target: Tensor, value: Tensor): void {
  target.copy_(value.to(target.dtype));
}

/** The eval-mode BatchNorm as `y = scale·x + shift` per channel, in float64. */
interface ChannelAffine {
  scale: Tensor;
  shift: Tensor;
}

/**
 * `scale = γ/√(σ² + ε)` and `shift = β − μ·scale` from the running statistics (γ = 1, β = 0
 * when the BatchNorm is not affine). Refuses a BatchNorm in training mode or without running
 * statistics, since it then normalizes with each batch's own statistics, which no fixed
 * weights can reproduce.
 */
function bnAsAffine(bn: BatchNorm, where: string): ChannelAffine {
  assertEval(bn, where);
  const { runningMean, runningVar } = bn;
  if (runningMean === null || runningVar === null) {
    throw new Error(
      `${where}: ${bn} has no running statistics (trackRunningStats: false), so it normalizes with each ` +
        "batch's statistics even in eval mode and cannot be folded into fixed weights",
    );
  }
  return noGrad(() => {
    const scale = precise(runningVar).add(bn.eps).rsqrt();
    const gamma = bn.weight === null ? null : precise(bn.weight);
    const beta = bn.bias === null ? null : precise(bn.bias);
    const gammaScale = gamma === null ? scale : scale.mul(gamma);
    const shift = precise(runningMean).mul(gammaScale).neg();
    return { scale: gammaScale, shift: beta === null ? shift : shift.add(beta) };
  });
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

/** A new Linear with the given float64 weight and bias, in `like`'s dtype and device, in eval mode. */
function linearWith(like: Linear, weight: Tensor, bias: Tensor): Linear {
  // A private generator: initializing the new layer must not advance the global random stream.
  const fused = new Linear(weight.shape[1], weight.shape[0], {
    dtype: like.weight.dtype,
    device: like.weight.device,
    generator: new Generator(0),
  });
  noGrad(() => {
    assign(fused.weight, weight);
    if (fused.bias !== null) assign(fused.bias, bias);
  });
  return fused.eval();
}

/**
 * Folds an eval-mode BatchNorm that follows a Linear into a new Linear, computed in float64:
 * `W' = W·γ/√(σ² + ε)` (row by row), `b' = (b − μ)·γ/√(σ² + ε) + β` (b = 0 without bias,
 * γ = 1 and β = 0 for a non-affine BatchNorm). The inputs are not modified. Exact when the
 * BatchNorm's channels are the Linear's output features, i.e. the Linear's output is (N, F).
 */
export function fuseLinearBn(linear: Linear, bn: BatchNorm): Linear {
  const where = "fuseLinearBn";
  assertEval(linear, where);
  assertFeatures(linear.outFeatures, bn, `Linear(${linear.inFeatures}, ${linear.outFeatures})`, where);
  const { scale, shift } = bnAsAffine(bn, where);
  return noGrad(() => {
    const weight = precise(linear.weight).mul(scale.reshape([-1, 1]));
    const bias = linear.bias === null ? shift : precise(linear.bias).mul(scale).add(shift);
    return linearWith(linear, weight, bias);
  });
}

/**
 * Folds an eval-mode BatchNorm2d that follows a Conv2d into a new Conv2d (same stride,
 * padding, dilation and groups), computed in float64: `W' = W·γ/√(σ² + ε)` per output channel,
 * `b' = (b − μ)·γ/√(σ² + ε) + β`. The inputs are not modified.
 */
export function fuseConvBn(conv: Conv2d, bn: BatchNorm): Conv2d {
  const where = "fuseConvBn";
  assertEval(conv, where);
  assertFeatures(conv.outChannels, bn, `Conv2d(${conv.inChannels}, ${conv.outChannels})`, where);
  const { scale, shift } = bnAsAffine(bn, where);
  const fused = new Conv2d(conv.inChannels, conv.outChannels, conv.kernelSize, {
    stride: conv.stride,
    padding: conv.padding,
    dilation: conv.dilation,
    groups: conv.groups,
    dtype: conv.weight.dtype,
    device: conv.weight.device,
    generator: new Generator(0),
  });
  noGrad(() => {
    assign(fused.weight, precise(conv.weight).mul(scale.reshape([-1, 1, 1, 1])));
    if (fused.bias !== null) {
      assign(fused.bias, conv.bias === null ? shift : precise(conv.bias).mul(scale).add(shift));
    }
  });
  return fused.eval();
}

/**
 * Folds an eval-mode BatchNorm1d *forward* into the Linear after it:
 * `W₂·(s⊙y + t) + b₂ = (W₂·diag(s))·y + (W₂·t + b₂)`, exact because a Linear sees every
 * input feature as it is. (A Conv2d after the BatchNorm would not fold exactly: its zero
 * padding pads the BatchNorm's output, where zeros would have to become t.)
 */
export function fuseBnLinear(bn: BatchNorm, linear: Linear): Linear {
  const where = "fuseBnLinear";
  assertEval(linear, where);
  if (linear.inFeatures !== bn.numFeatures) {
    throw new RangeError(
      `${where}: ${bn} normalizes ${bn.numFeatures} features but the Linear takes ${linear.inFeatures}`,
    );
  }
  const { scale, shift } = bnAsAffine(bn, where);
  return noGrad(() => {
    const weight64 = precise(linear.weight);
    const folded = weight64.matmul(shift);
    const bias = linear.bias === null ? folded : precise(linear.bias).add(folded);
    return linearWith(linear, weight64.mul(scale.reshape([1, -1])), bias);
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
