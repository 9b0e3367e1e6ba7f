// Fused cross-entropy of class indices: per-row log-sum-exp (with the count and range flag), the reduced loss, dx.
import type { CrossEntropyKernelOptions } from "@normgrad/core";
import type { GpuBuffer } from "../gpu-buffer.ts";
import { emitDivision, KernelSource } from "../kernel-source.ts";

/** GLSL-safe finiteness: NaN fails every comparison, ±∞ exceeds the largest float32. */
const LARGEST_FLOAT32 = "3.4028234663852886e38";

/**
 * N + 2 outputs over logits x (N, C) and targets t (N): `lse_i = m + log Σ_c exp(x[i, c] − m)`
 * (m the row's maximum, or 0 when that is infinite) for i < N, then the number of rows whose
 * target is not ignoreIndex, then 1 if such a target lies outside [0, C), else 0.
 */
export function crossEntropyRowsSource(
  x: GpuBuffer,
  target: GpuBuffer,
  rows: number,
  classes: number,
  ignoreIndex: number,
): KernelSource {
  const source = new KernelSource();
  const [xs, ts] = [source.array(x), source.array(target)];
  const [n, c, ignore] = [rows, classes, ignoreIndex].map((value) => source.number(value));
  source.line(
    "const i = this.thread.x;",
    `const row = Math.min(i, ${n} - 1);`,
    // Each thread walks either its row's classes or (the last two) every target.
    `const classCount = i < ${n} ? ${c} : 0;`,
    `const rowCount = i < ${n} ? 0 : ${n};`,
    `let peak = ${xs}[row * ${c}];`,
    "for (let p = 0; p < classCount; p++) {",
    `  peak = Math.max(peak, ${xs}[row * ${c} + p]);`,
    "}",
    `const shift = Math.abs(peak) <= ${LARGEST_FLOAT32} ? peak : 0;`,
    "let total = 0;",
    // GLSL wants each loop its own variable name.
    "for (let q = 0; q < classCount; q++) {",
    `  total += Math.exp(${xs}[row * ${c} + q] - shift);`,
    "}",
    "let counted = 0;",
    "let outside = 0;",
    "for (let r = 0; r < rowCount; r++) {",
    `  const t = ${ts}[r];`,
    `  if (t !== ${ignore}) {`,
    "    counted += 1;",
    `    if (t < 0 || t >= ${c}) {`,
    "      outside = 1;",
    "    }",
    "  }",
    "}",
    `return i < ${n} ? shift + Math.log(total) : i === ${n} ? counted : outside;`,
  );
  return source;
}

/** One output: `Σ (lse_i − x[i, t_i])` over the counted rows, divided by their count for "mean". */
export function crossEntropyLossSource(
  x: GpuBuffer,
  target: GpuBuffer,
  lse: GpuBuffer,
  rows: number,
  classes: number,
  { ignoreIndex, reduction }: CrossEntropyKernelOptions,
): KernelSource {
  const source = new KernelSource();
  const [xs, ts, ls] = [source.array(x), source.array(target), source.array(lse)];
  const [n, c, ignore] = [rows, classes, ignoreIndex].map((value) => source.number(value));
  source.line(
    "let total = 0;",
    `for (let r = 0; r < ${n}; r++) {`,
    `  const t = ${ts}[r];`,
    // A target out of range is reported by the value check; read a valid class meanwhile.
    `  const k = Math.min(Math.max(t, 0), ${c} - 1);`,
    `  total += t !== ${ignore} ? ${ls}[r] - ${xs}[r * ${c} + k] : 0;`,
    "}",
    `return ${reduction === "mean" ? `total / ${ls}[${n}]` : "total"};`,
  );
  return source;
}

/** dx (N·C outputs): `(exp(x[i, c] − lse_i) − [c = t_i])·dy`, over the count for "mean", 0 on ignored rows. */
export function crossEntropyGradSource(
  dy: GpuBuffer,
  x: GpuBuffer,
  target: GpuBuffer,
  lse: GpuBuffer,
  rows: number,
  classes: number,
  { ignoreIndex, reduction }: CrossEntropyKernelOptions,
): KernelSource {
  const source = new KernelSource();
  const [ds, xs, ts, ls] = [source.array(dy), source.array(x), source.array(target), source.array(lse)];
  const [n, c, ignore] = [rows, classes, ignoreIndex].map((value) => source.number(value));
  source.line("const i = this.thread.x;");
  emitDivision(source, "i", c, "r", "k");
  source.line(
    `const t = ${ts}[r];`,
    `const scale = t !== ${ignore} ? ${ds}[0]${reduction === "mean" ? ` / ${ls}[${n}]` : ""} : 0;`,
    `return (Math.exp(${xs}[i] - ${ls}[r]) - (k === t ? 1 : 0)) * scale;`,
  );
  return source;
}
