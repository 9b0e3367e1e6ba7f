// The variance-numerics study: two-pass, Welford and one-pass variance in float32 as the mean outgrows the spread.
import { mkdirSync, writeFileSync } from "node:fs";
import { basename, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { Generator, moments, randn, type Tensor, type VarianceAlgorithm } from "@normgrad/core";
import { type DataRow, lineChart, markdownTable, renderChart } from "@normgrad/plot";
import { SingleBar } from "cli-progress";

/** Options of {@link main}; every field has a default, and `smoke` shrinks them for CI. */
export interface NumericsOptions {
  /** Results folder. Default `examples/variance-numerics/results`. */
  out?: string;
  /** Seed of the data generator. Default 0. */
  seed?: number;
  /** Tiny run for tests: 4 ratios, 3 trials of 256 values. Default false. */
  smoke?: boolean;
  /** Independent samples per ratio. Default 20 (3 in smoke mode). */
  trials?: number;
  /** Values per sample. Default 4096 (256 in smoke mode). */
  samples?: number;
  /** Ratios per decade from 1 to 1e6. Default 4 (25 ratios; 1 per decade, 7 ratios, in smoke mode). */
  pointsPerDecade?: number;
  /** No progress bar and no printing. Default false. */
  quiet?: boolean;
}

/** One algorithm at one mean/std ratio, over all trials. */
export interface NumericsRow {
  /** mean / std of the data (std is 1). */
  ratio: number;
  algorithm: VarianceAlgorithm;
  /** Mean and largest |var − var₆₄| / var₆₄ over the trials. */
  meanRelativeError: number;
  maxRelativeError: number;
  /**
   * Trials where the formula gave a negative variance before `moments` clamps it to 0. Only
   * E[x²] − E[x]² can: the stable algorithms add squares, so theirs is 0 by construction.
   */
  negativeCount: number;
  /** Trials where `moments` returned exactly 0 (a negative clamped, or every bit cancelled). */
  zeroCount: number;
  trials: number;
}

/** What {@link main} computed and wrote. */
export interface NumericsResults {
  config: {
    seed: number;
    trials: number;
    samples: number;
    ratios: number[];
    dtype: "float32";
    correction: 0;
  };
  rows: NumericsRow[];
  files: { json: string; markdown: string; plots: string[] };
}

const ALGORITHMS: readonly VarianceAlgorithm[] = ["two-pass", "welford", "one-pass"];
/** Exact results (error 0) are drawn at this floor, since a log axis has no zero. */
const PLOT_FLOOR = 1e-9;
const EXAMPLE_ROOT = fileURLToPath(new URL("..", import.meta.url));

/**
 * Measures how far each variance algorithm lands from a float64 reference in float32, as the
 * data's mean grows from 1 to 1e6 standard deviations. Each sample is `ratio + N(0, 1)` rounded
 * to float32; the reference is the float64 two-pass variance of those same float32 values, so
 * only the algorithm's own rounding is measured. Writes `variance-numerics.json`,
 * `variance-numerics.md` and the plots `relative-error` and `negative-variances` (SVG + PNG).
 */
export async function main(options: NumericsOptions = {}): Promise<NumericsResults> {
  const smoke = options.smoke ?? false;
  const seed = options.seed ?? 0;
  const trials = positiveInteger("trials", options.trials ?? (smoke ? 3 : 20));
  const samples = positiveInteger("samples", options.samples ?? (smoke ? 256 : 4096));
  const pointsPerDecade = positiveInteger("pointsPerDecade", options.pointsPerDecade ?? (smoke ? 1 : 4));
  const out = options.out ?? join(EXAMPLE_ROOT, "results");
  const say = options.quiet ? () => {} : (line: string) => console.log(line);
  const ratios = Array.from({ length: 6 * pointsPerDecade + 1 }, (_, i) => 10 ** (i / pointsPerDecade));

  say(
    `variance in float32: ${ratios.length} ratios mean/std from 1 to 1e6, ${trials} trials × ${samples} values`,
  );
  const generator = new Generator(seed);
  const bar = options.quiet
    ? null
    : new SingleBar({ format: "  {bar} {value}/{total} ratios", hideCursor: true });
  bar?.start(ratios.length, 0);
  const rows: NumericsRow[] = [];
  const trialRows: DataRow[] = [];
  for (const ratio of ratios) {
    const x = randn([trials, samples], { dtype: "float64", generator }).add(ratio).to("float32");
    const reference = moments(x.to("float64"), 1).variance.dataSync();
    for (const algorithm of ALGORITHMS) {
      const variance = moments(x, 1, { algorithm }).variance.dataSync();
      const errors = Array.from(variance, (value, i) => Math.abs(value - reference[i]) / reference[i]);
      rows.push({
        ratio,
        algorithm,
        meanRelativeError: errors.reduce((sum, error) => sum + error, 0) / trials,
        maxRelativeError: Math.max(...errors),
        negativeCount: algorithm === "one-pass" ? countNegative(onePassUnclamped(x)) : 0,
        zeroCount: variance.filter((value) => value === 0).length,
        trials,
      });
      for (const [trial, error] of errors.entries()) {
        trialRows.push({ ratio, algorithm, trial, relativeError: Math.max(error, PLOT_FLOOR) });
      }
    }
    bar?.increment();
  }
  bar?.stop();

  mkdirSync(out, { recursive: true });
  const config = { seed, trials, samples, ratios, dtype: "float32" as const, correction: 0 as const };
  const json = join(out, "variance-numerics.json");
  writeFileSync(json, `${JSON.stringify({ config, rows }, null, 2)}\n`);
  const markdown = join(out, "variance-numerics.md");
  writeFileSync(markdown, report(rows, config, out));
  const plots = await plot(rows, trialRows, { trials, samples }, out);
  const files = { json, markdown, plots };

  const at1e4 = rows.find(
    (row) => row.algorithm === "one-pass" && Math.abs(Math.log10(row.ratio) - 4) < 1e-9,
  );
  if (at1e4) {
    say(
      `one-pass at mean/std = 1e4: mean relative error ${at1e4.meanRelativeError.toExponential(2)}, ` +
        `negative before the clamp in ${at1e4.negativeCount}/${trials} trials`,
    );
  }
  const shownOut = relative(process.cwd(), out);
  say(
    `wrote to ${shownOut.startsWith("..") ? out : shownOut || "."}: ${[json, markdown, ...plots].map((path) => basename(path)).join(", ")}`,
  );
  return { config, rows, files };
}

/** E[x²] − E[x]² per row, as `moments` computes it for "one-pass" but before its clamp at 0. */
function onePassUnclamped(x: Tensor): Tensor {
  return x.square().mean(1).sub(x.mean(1).square());
}

function countNegative(values: Tensor): number {
  return values.dataSync().filter((value) => value < 0).length;
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1)
    throw new RangeError(`${name} must be a positive integer, got ${value}`);
  return value;
}

/** 1, 1.78, 17.8, 1e+4, 1.78e+5: three significant digits, exponents from 10⁴ on. */
function formatRatio(ratio: number): string {
  return ratio < 1e4 ? String(Number(ratio.toPrecision(3))) : ratio.toExponential(2).replace(/\.?0+e/, "e");
}

function report(rows: readonly NumericsRow[], config: NumericsResults["config"], out: string): string {
  const find = (ratio: number, algorithm: VarianceAlgorithm) =>
    rows.find((row) => row.ratio === ratio && row.algorithm === algorithm);
  const cell = (ratio: number, algorithm: VarianceAlgorithm) =>
    find(ratio, algorithm)?.meanRelativeError.toExponential(1) ?? "";
  const table = markdownTable(
    ["mean / std", "two-pass", "Welford", "one-pass", "one-pass max", "one-pass < 0", "one-pass = 0"],
    config.ratios.map((ratio) => {
      const onePass = find(ratio, "one-pass");
      return [
        formatRatio(ratio),
        cell(ratio, "two-pass"),
        cell(ratio, "welford"),
        cell(ratio, "one-pass"),
        onePass?.maxRelativeError.toExponential(1) ?? "",
        `${onePass?.negativeCount ?? 0}/${config.trials}`,
        `${onePass?.zeroCount ?? 0}/${config.trials}`,
      ];
    }),
  );
  const docs = relative(out, join(EXAMPLE_ROOT, "..", "..", "docs", "normalization.md"));
  return [
    "# Variance in float32: two-pass vs Welford vs one-pass",
    "",
    `Data: \`mean + N(0, 1)\` rounded to float32, ${config.trials} trials of ${config.samples} values per ratio ` +
      `(seed ${config.seed}). Cells: mean relative error of the biased variance against a float64 ` +
      "two-pass reference over the same float32 values. `< 0`: trials where E[x²] − E[x]² came out negative " +
      "(moments clamps it to 0); `= 0`: trials where the variance came back as exactly 0.",
    "",
    table,
    "",
    "The CPU backend sums in float64 and rounds each mean to float32 once, so these one-pass errors are a floor: " +
      "a kernel that also accumulates in float32 does worse.",
    "",
    `Why one-pass fails, and why the norm layers use the stable forms: [docs/normalization.md](${docs}).`,
    "",
  ].join("\n");
}

async function plot(
  rows: readonly NumericsRow[],
  trialRows: readonly DataRow[],
  { trials, samples }: { trials: number; samples: number },
  out: string,
): Promise<string[]> {
  const color = { field: "algorithm", title: "algorithm", order: [...ALGORITHMS] };
  const error = await renderChart(
    lineChart({
      title: "Variance in float32: relative error vs a float64 reference",
      subtitle: `${trials} trials × ${samples} values per point; line: mean, band: min–max; exact results drawn at 1e-9`,
      data: trialRows,
      x: { field: "ratio", title: "mean / std", scale: "log" },
      y: { field: "relativeError", title: "relative error of the variance", scale: "log" },
      color,
      band: "minmax",
      points: true,
    }),
    join(out, "relative-error"),
  );
  const onePassRows = rows.filter((row) => row.algorithm === "one-pass");
  const outcomes = ["E[x²] − E[x]² < 0", "returned as 0"];
  const negative = await renderChart(
    lineChart({
      title: "One-pass variance: negative or zero",
      subtitle: `fraction of ${trials} float32 trials; two-pass and Welford never go negative`,
      data: onePassRows.flatMap((row) => [
        { ratio: row.ratio, outcome: outcomes[0], fraction: row.negativeCount / row.trials },
        { ratio: row.ratio, outcome: outcomes[1], fraction: row.zeroCount / row.trials },
      ]),
      x: { field: "ratio", title: "mean / std", scale: "log" },
      y: { field: "fraction", title: "fraction of trials", domain: [0, 1] },
      color: { field: "outcome", title: "one-pass result", order: outcomes },
      points: true,
    }),
    join(out, "negative-variances"),
  );
  return [error.svgPath, error.pngPath, negative.svgPath, negative.pngPath];
}
