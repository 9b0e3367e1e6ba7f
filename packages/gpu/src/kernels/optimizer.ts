// Fused optimizer updates (SGD with momentum, Adam/AdamW): one kernel per updated tensor, hyperparameters as uniforms.
import type { AdamStepOptions, SgdStepOptions } from "@normgrad/core";
import type { GpuBuffer } from "../gpu-buffer.ts";
import { KernelSource } from "../kernel-source.ts";

/** Emits `const g = ±grad + λ·p`: the gradient the update uses (grad and p read at the flat index i). */
function emitGradient(
  source: KernelSource,
  grad: GpuBuffer,
  p: string,
  weightDecay: number,
  maximize: boolean,
): void {
  const g = source.array(grad);
  source.line(
    "const i = this.thread.x;",
    `const g = ${g}[i] * ${source.number(maximize ? -1 : 1)} + ${source.number(weightDecay)} * ${p};`,
  );
}

/** SGD's momentum buffer: `b ← first ? g : μ·b + (1 − τ)·g`, with g = ±∇ + λ·p. */
export function sgdMomentumSource(
  param: GpuBuffer,
  grad: GpuBuffer,
  buffer: GpuBuffer,
  o: SgdStepOptions,
): KernelSource {
  const source = new KernelSource();
  const [p, b] = [source.array(param), source.array(buffer)];
  emitGradient(source, grad, `${p}[i]`, o.weightDecay, o.maximize);
  const [first, momentum, keep] = [o.firstStep ? 1 : 0, o.momentum, 1 - o.dampening].map((v) =>
    source.number(v),
  );
  source.line(`return ${first} === 1 ? g : ${momentum} * ${b}[i] + ${keep} * g;`);
  return source;
}

/** SGD's parameter: `p ← p − lr·d`, d = g (no momentum), b (momentum) or g + μ·b (Nesterov), b the new buffer. */
export function sgdParameterSource(
  param: GpuBuffer,
  grad: GpuBuffer,
  buffer: GpuBuffer | null,
  o: SgdStepOptions,
): KernelSource {
  const source = new KernelSource();
  const p = source.array(param);
  const b = buffer && source.array(buffer);
  emitGradient(source, grad, `${p}[i]`, o.weightDecay, o.maximize);
  const lr = source.number(o.lr);
  if (b === null) {
    source.line(`return ${p}[i] - ${lr} * g;`);
  } else {
    const [nesterov, momentum] = [source.number(o.nesterov ? 1 : 0), source.number(o.momentum)];
    source.line(`return ${p}[i] - ${lr} * (${nesterov} === 1 ? g + ${momentum} * ${b}[i] : ${b}[i]);`);
  }
  return source;
}

/** Adam's moments: `m ← β₁m + (1 − β₁)g` (`which: "first"`) or `v ← β₂v + (1 − β₂)g²` (`"second"`). */
export function adamMomentSource(
  param: GpuBuffer,
  grad: GpuBuffer,
  moment: GpuBuffer,
  which: "first" | "second",
  o: AdamStepOptions,
): KernelSource {
  const second = which === "second";
  const source = new KernelSource();
  const [p, previous] = [source.array(param), source.array(moment)];
  emitGradient(source, grad, `${p}[i]`, o.decoupledWeightDecay ? 0 : o.weightDecay, o.maximize);
  const beta = source.number(second ? o.beta2 : o.beta1);
  source.line(`return ${beta} * ${previous}[i] + (1 - ${beta}) * ${second ? "g * g" : "g"};`);
  return source;
}

/** AMSGrad's running maximum of the second moment. */
export function elementwiseMaxSource(a: GpuBuffer, b: GpuBuffer): KernelSource {
  const source = new KernelSource();
  const [x, y] = [source.array(a), source.array(b)];
  source.line(`return Math.max(${x}[this.thread.x], ${y}[this.thread.x]);`);
  return source;
}

/**
 * Adam's parameter: `p ← p·(1 − lr·λ)` first for AdamW, then
 * `p ← p − lr/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + eps)` with the new moments (v the AMSGrad
 * maximum when on).
 */
export function adamParameterSource(
  param: GpuBuffer,
  m: GpuBuffer,
  v: GpuBuffer,
  o: AdamStepOptions,
): KernelSource {
  const source = new KernelSource();
  const [p, ms, vs] = [source.array(param), source.array(m), source.array(v)];
  const decay = source.number(o.decoupledWeightDecay ? 1 - o.lr * o.weightDecay : 1);
  const stepSize = source.number(o.lr / (1 - o.beta1 ** o.step));
  const correction = source.number(Math.sqrt(1 - o.beta2 ** o.step));
  const eps = source.number(o.eps);
  source.line(
    "const i = this.thread.x;",
    `return ${p}[i] * ${decay} - ${stepSize} * ${ms}[i] / (Math.sqrt(${vs}[i]) / ${correction} + ${eps});`,
  );
  return source;
}
