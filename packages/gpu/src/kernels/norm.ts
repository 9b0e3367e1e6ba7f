// Fused normalization kernels (BatchNorm, LayerNorm, GroupNorm, InstanceNorm): block-wise shifted statistics, Chan merges, normalize, backward.
import type { NormBlocks, NormStatistics } from "@normgrad/core";
import type { GpuBuffer } from "../gpu-buffer.ts";
import { emitCoordinates, emitDivision, KernelSource } from "../kernel-source.ts";

/**
 * Elements each first-pass thread reduces. The statistics run in two passes: blocks of this many
 * elements give (mean, M₂) each, then every statistic merges its blocks with Chan's formula.
 */
export const NORM_BLOCK = 256;

/** Emits `name` = the address of element `e` of statistic `k`: `k·run + ⌊e/run⌋·C·inner + e mod run`. */
function emitElementAddress(source: KernelSource, g: NormBlocks, k: string, e: string, name: string): void {
  emitDivision(source, e, source.number(g.run), `${name}s`, `${name}t`);
  const rowLength = source.number(g.channels * g.inner);
  source.line(`const ${name} = ${k} * ${source.number(g.run)} + ${name}s * ${rowLength} + ${name}t;`);
}

/**
 * First pass, one thread per (statistic k, block b): over the block's elements d = x − x_k0
 * (x_k0 = the statistic's first element, so d is exact where the data sit far from zero), the
 * block mean (`means` null) or its M₂ = Σ(d − mean)² − (Σ(d − mean))²/n (reading the means
 * from the first call), divided by n with `perElement` (the biased variance, when one block
 * holds the whole statistic).
 */
export function normPartialSource(
  x: GpuBuffer,
  means: GpuBuffer | null,
  g: NormBlocks,
  blocks: number,
  perElement = false,
): KernelSource {
  const source = new KernelSource();
  const xs = source.array(x);
  const ms = means && source.array(means);
  const count = source.number(g.count);
  source.line("const i = this.thread.x;");
  emitDivision(source, "i", source.number(blocks), "k", "b");
  source.line(
    `const shift = ${xs}[k * ${source.number(g.run)}];`,
    `const start = b * ${NORM_BLOCK};`,
    `const n = Math.min(${NORM_BLOCK}, ${count} - start);`,
    `const centre = ${ms === null ? "0" : `${ms}[i]`};`,
    "let sum = 0;",
    "let squares = 0;",
    `for (let t = 0; t < ${NORM_BLOCK}; t++) {`,
    "const e = Math.min(start + t, start + n - 1);",
  );
  emitElementAddress(source, g, "k", "e", "at");
  source.line(
    `const d = ${xs}[at] - shift - centre;`,
    "const inBlock = t < n ? 1 : 0;",
    "sum += inBlock === 1 ? d : 0;",
    "squares += inBlock === 1 ? d * d : 0;",
    "}",
    `return ${ms === null ? "sum / n" : `Math.max(squares - (sum * sum) / n, 0)${perElement ? " / n" : ""}`};`,
  );
  return source;
}

/**
 * Second pass, one thread per statistic: Chan's merge of its blocks,
 * `δ = μ_b − μ, μ += δ·n_b/n, M₂ += M₂_b + δ²·n_a·n_b/n`. Returns the shifted mean
 * (`output: "mean"`) or the biased variance M₂/m (`output: "variance"`).
 */
export function normMergeSource(
  means: GpuBuffer,
  squares: GpuBuffer,
  g: NormBlocks,
  blocks: number,
  output: "mean" | "variance",
): KernelSource {
  const source = new KernelSource();
  const [ms, ss] = [source.array(means), source.array(squares)];
  const [count, blockCount] = [source.number(g.count), source.number(blocks)];
  source.line(
    "const k = this.thread.x;",
    "let n = 0;",
    "let mean = 0;",
    "let m2 = 0;",
    `for (let b = 0; b < ${blockCount}; b++) {`,
    `const nb = Math.min(${NORM_BLOCK}, ${count} - b * ${NORM_BLOCK});`,
    `const at = k * ${blockCount} + b;`,
    "const total = n + nb;",
    `const delta = ${ms}[at] - mean;`,
    "mean += (delta * nb) / total;",
    `m2 += ${ss}[at] + (delta * delta * n * nb) / total;`,
    "n = total;",
    "}",
    `return ${output === "variance" ? `Math.max(m2 / ${count}, 0)` : "mean"};`,
  );
  return source;
}

/** `mean = x_k0 + shifted mean`, per statistic (float32: the part the output keeps). */
export function normMeanSource(x: GpuBuffer, shiftedMean: GpuBuffer, g: NormBlocks): KernelSource {
  const source = new KernelSource();
  const [xs, ms] = [source.array(x), source.array(shiftedMean)];
  source.line(`return ${xs}[this.thread.x * ${source.number(g.run)}] + ${ms}[this.thread.x];`);
  return source;
}

/** How x is centred: by the statistic's first element and shifted mean (exact), or by a given mean. */
export type Centring =
  | { readonly kind: "shifted"; readonly shiftedMean: GpuBuffer }
  | { readonly kind: "mean"; readonly mean: GpuBuffer };

/**
 * Emits, for the element at `at` (x value `x`, channel `c`, outer index `o`): `k` (its statistic)
 * and `xhat` = (x − μ_k)/√(σ²_k + eps).
 */
function emitNormalized(
  source: KernelSource,
  g: NormBlocks,
  xs: string,
  centring: Centring,
  variance: string,
  eps: string,
  o: string,
  c: string,
  x: string,
): void {
  const centre = source.array(centring.kind === "shifted" ? centring.shiftedMean : centring.mean);
  emitDivision(source, c, source.number(g.channelsPerBlock), "group", "unused");
  source.line(`const k = ${o} * ${source.number(g.statStride)} + group;`);
  source.line(
    centring.kind === "shifted"
      ? `const centred = (${x} - ${xs}[k * ${source.number(g.run)}]) - ${centre}[k];`
      : `const centred = ${x} - ${centre}[k];`,
    `const xhat = centred / Math.sqrt(${variance}[k] + ${eps});`,
  );
}

/** y = x̂·weight[c] + bias[c], one element per thread (a null weight is 1, a null bias 0). */
export function normOutputSource(
  x: GpuBuffer,
  g: NormBlocks,
  centring: Centring,
  variance: GpuBuffer,
  weight: GpuBuffer | null,
  bias: GpuBuffer | null,
  eps: number,
): KernelSource {
  const source = new KernelSource();
  const xs = source.array(x);
  const vs = source.array(variance);
  const ws = weight && source.array(weight);
  const bs = bias && source.array(bias);
  source.line("const i = this.thread.x;");
  const [o, c] = emitCoordinates(source, [g.outer, g.channels, g.inner], "i", "c");
  source.line(`const value = ${xs}[i];`);
  emitNormalized(source, g, xs, centring, vs, source.number(eps), o, c, "value");
  source.line(`return xhat${ws === null ? "" : ` * ${ws}[${c}]`}${bs === null ? "" : ` + ${bs}[${c}]`};`);
  return source;
}

/**
 * Per-channel sums over (outer, inner), one per thread: Σdy (dbias, `which` 0) or Σdy·x̂
 * (dweight, `which` 1). Each outer index's run of `inner` is summed into its own partial first.
 */
export function normChannelSumsSource(
  dy: GpuBuffer,
  x: GpuBuffer,
  g: NormBlocks,
  centring: Centring,
  variance: GpuBuffer,
  eps: number,
  which: 0 | 1,
): KernelSource {
  const source = new KernelSource();
  const [ds, xs, vs] = [source.array(dy), source.array(x), source.array(variance)];
  const epsName = source.number(eps);
  const [channels, inner] = [source.number(g.channels), source.number(g.inner)];
  source.line("const channel = this.thread.x;", `const which = ${source.number(which)};`);
  source.line("let total = 0;", `for (let o = 0; o < ${source.number(g.outer)}; o++) {`, "let row = 0;");
  source.line(
    `for (let t = 0; t < ${inner}; t++) {`,
    `const at = (o * ${channels} + channel) * ${inner} + t;`,
  );
  emitNormalized(source, g, xs, centring, vs, epsName, "o", "channel", `${xs}[at]`);
  source.line(`row += which === 0 ? ${ds}[at] : ${ds}[at] * xhat;`, "}", "total += row;", "}");
  source.line("return total;");
  return source;
}

/**
 * Per-statistic sums for dx with groups, `j < K`: Σĝ, `j ≥ K`: Σĝ·x̂, where ĝ = dy·weight[c]
 * (a null weight is 1), over each statistic's contiguous run.
 */
export function normGroupSumsSource(
  dy: GpuBuffer,
  x: GpuBuffer,
  g: NormBlocks,
  centring: Centring,
  variance: GpuBuffer,
  weight: GpuBuffer | null,
  eps: number,
): KernelSource {
  const source = new KernelSource();
  const [ds, xs, vs] = [source.array(dy), source.array(x), source.array(variance)];
  const ws = weight && source.array(weight);
  const epsName = source.number(eps);
  const [statistics, count, inner, channels] = [
    source.number(g.statistics),
    source.number(g.count),
    source.number(g.inner),
    source.number(g.channels),
  ];
  source.line("const j = this.thread.x;");
  emitDivision(source, "j", statistics, "which", "stat");
  emitDivision(source, "stat", source.number(g.statStride), "o", "gi");
  source.line("let total = 0;", `for (let e = 0; e < ${count}; e++) {`, `const at = stat * ${count} + e;`);
  emitDivision(source, "at", inner, "plane", "unusedInner");
  emitDivision(source, "plane", channels, "unusedOuter", "channel");
  emitNormalized(source, g, xs, centring, vs, epsName, "o", "channel", `${xs}[at]`);
  source.line(
    `const gradient = ${ds}[at]${ws === null ? "" : ` * ${ws}[channel]`};`,
    "total += which === 0 ? gradient : gradient * xhat;",
    "}",
    "return total;",
  );
  return source;
}

/** Where dx finds Σĝ (`first[k]`) and Σĝx̂ (`second[secondStart + k]`) per statistic. */
export interface NormSums {
  readonly first: GpuBuffer;
  readonly second: GpuBuffer;
  readonly secondStart: number;
}

/**
 * dx, one element per thread, with ĝ = dy·weight[c] and s = 1/√(σ² + eps):
 * `dx = s·(ĝ − Σĝ/m − x̂·Σĝx̂/m)` when the statistics came from x (`sums`; for BatchNorm they are
 * Σdy, Σdy·x̂ per channel, and weight[c] factors out), else `dx = s·ĝ`.
 */
export function normInputGradSource(
  dy: GpuBuffer,
  x: GpuBuffer,
  g: NormBlocks,
  centring: Centring,
  variance: GpuBuffer,
  weight: GpuBuffer | null,
  sums: NormSums | null,
  eps: number,
): KernelSource {
  const source = new KernelSource();
  const [ds, xs, vs] = [source.array(dy), source.array(x), source.array(variance)];
  const ws = weight && source.array(weight);
  const ss = sums && source.array(sums.first);
  const second = sums && (sums.second === sums.first ? ss : source.array(sums.second));
  const epsName = source.number(eps);
  source.line("const i = this.thread.x;");
  const [o, c] = emitCoordinates(source, [g.outer, g.channels, g.inner], "i", "c");
  emitNormalized(source, g, xs, centring, vs, epsName, o, c, `${xs}[i]`);
  const scale = ws === null ? "1" : `${ws}[${c}]`;
  source.line(`const gradient = ${ds}[i] * ${scale};`, `const s = 1 / Math.sqrt(${vs}[k] + ${epsName});`);
  if (ss === null) {
    source.line("return s * gradient;");
    return source;
  }
  const sumScale = g.kind === "per-channel" ? `${scale} * ` : "";
  const [secondStart, count] = [source.number(sums?.secondStart ?? 0), source.number(g.count)];
  source.line(
    `const sumG = ${sumScale}${ss}[k];`,
    `const sumGX = ${sumScale}${second}[${secondStart} + k];`,
    `return s * (gradient - sumG / ${count} - (xhat * sumGX) / ${count});`,
  );
  return source;
}

/** GLSL-safe finiteness: NaN fails every comparison, ±∞ exceeds the largest float32. */
const FINITE = (value: string): string => `Math.abs(${value}) <= 3.4028234663852886e38`;

/**
 * Running statistics' refusal flag (one output): 1 when any channel's batch mean or scaled
 * variance, or next value `(1 − m)·running + m·batch`, is not finite, else 0.
 */
export function runningRefusedSource(
  running: NormStatistics<GpuBuffer>,
  batch: NormStatistics<GpuBuffer>,
  momentum: number,
  varianceScale: number,
): KernelSource {
  const source = new KernelSource();
  const [rm, rv, bm, bv] = [running.mean, running.variance, batch.mean, batch.variance].map((b) =>
    source.array(b),
  );
  const [channels, m, scale] = [running.mean.size, momentum, varianceScale].map((v) => source.number(v));
  source.line(
    "let refused = 0;",
    `for (let c = 0; c < ${channels}; c++) {`,
    `  const mean = ${bm}[c];`,
    `  const variance = ${bv}[c] * ${scale};`,
    `  const nextMean = (1 - ${m}) * ${rm}[c] + ${m} * mean;`,
    `  const nextVariance = (1 - ${m}) * ${rv}[c] + ${m} * variance;`,
    `  const finite = ${FINITE("mean")} && ${FINITE("variance")} && ${FINITE("nextMean")} && ${FINITE("nextVariance")} ? 1 : 0;`,
    "  refused = Math.max(refused, 1 - finite);",
    "}",
    "return refused;",
  );
  return source;
}

/** One running statistic after the masked update: `refused ? running : (1 − m)·running + m·scale·batch`. */
export function runningUpdateSource(
  running: GpuBuffer,
  batch: GpuBuffer,
  refused: GpuBuffer,
  momentum: number,
  scale: number,
): KernelSource {
  const source = new KernelSource();
  const [r, b, flag] = [running, batch, refused].map((buffer) => source.array(buffer));
  const [m, s] = [momentum, scale].map((v) => source.number(v));
  source.line(
    "const c = this.thread.x;",
    `return ${flag}[0] > 0 ? ${r}[c] : (1 - ${m}) * ${r}[c] + ${m} * (${b}[c] * ${s});`,
  );
  return source;
}
