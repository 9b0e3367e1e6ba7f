// Histograms: binning values on the host, and a grid of pre-binned histograms (one panel per field value).
import type { TopLevelSpec } from "vega-lite";
import {
  type CategoryOptions,
  type DataRow,
  type FrameOptions,
  facetEncoding,
  titleOf,
} from "./chart-options.ts";
import { CHART_CONFIG } from "./theme.ts";

/** One histogram bin: [start, end), how many values fell in it, and that count over the total. */
export interface HistogramBin {
  start: number;
  end: number;
  count: number;
  fraction: number;
}

/** Options of {@link histogram}. */
export interface HistogramOptions {
  /** Number of equal-width bins. Default 40. */
  bins?: number;
  /** [min, max] covered by the bins; values outside are clamped into the end bins. Default: the data's range. */
  range?: readonly [number, number];
}

/**
 * Bins `values` into `bins` equal-width bins over `range`. The last bin is closed, so the maximum
 * lands in it; values outside `range` go to the nearest end bin, so `fraction` always sums to 1.
 */
export function histogram(
  values: ArrayLike<number>,
  { bins = 40, range }: HistogramOptions = {},
): HistogramBin[] {
  if (!Number.isInteger(bins) || bins < 1)
    throw new RangeError(`histogram: bins must be a positive integer, got ${bins}`);
  if (values.length === 0) throw new RangeError("histogram: no values to bin");
  let [low, high] = range ?? [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];
  if (range === undefined) {
    for (let i = 0; i < values.length; i++) {
      low = Math.min(low, values[i]);
      high = Math.max(high, values[i]);
    }
  }
  if (!Number.isFinite(low) || !Number.isFinite(high) || high < low) {
    throw new RangeError(`histogram: the range must be finite with min <= max, got [${low}, ${high}]`);
  }
  // A constant input still gets a bin of non-zero width to be drawn in.
  if (high === low) high = low + 1;
  const width = (high - low) / bins;
  const counts = new Array<number>(bins).fill(0);
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (Number.isNaN(value)) throw new RangeError(`histogram: value ${i} is NaN`);
    counts[Math.min(bins - 1, Math.max(0, Math.floor((value - low) / width)))]++;
  }
  return counts.map((count, i) => ({
    start: low + i * width,
    end: i === bins - 1 ? high : low + (i + 1) * width,
    count,
    fraction: count / values.length,
  }));
}

/** Options of {@link histogramGrid}. */
export interface HistogramGridOptions extends FrameOptions {
  /** Pre-binned rows: the bin's start and end, its height, and the column (and row) it belongs to. */
  data: readonly DataRow[];
  /** One panel per value, side by side (e.g. the layer). */
  column: CategoryOptions;
  /** One row of panels per value (e.g. the model variant). Default: a single row. */
  row?: CategoryOptions;
  /** The x axis: `title`, and a fixed `domain` (default: fitted to all panels). */
  x?: { title?: string; domain?: readonly [number, number] };
  /**
   * The bar height field and its axis title. Default field "fraction" and no title (repeated on
   * every panel it crowds the grid; say what the bars count in the subtitle).
   */
  y?: { field?: string; title?: string };
  /** Field names of the bin edges. Default "start" and "end" (as {@link histogram} returns them). */
  binStart?: string;
  binEnd?: string;
  /** Each panel gets its own y scale (tall spikes do not flatten the rest). Default true. */
  independentY?: boolean;
  /** Bar colour. Default Vega's blue. */
  color?: string;
}

/**
 * A grid of histograms from pre-binned data: one panel per `column` value, one row of panels per
 * `row` value (e.g. 10 layers × the model variants). Bars span [binStart, binEnd); heights come
 * from `y.field`. Panels are 100×80 by default and share their x scale.
 */
export function histogramGrid(options: HistogramGridOptions): TopLevelSpec {
  const yField = options.y?.field ?? "fraction";
  const binStart = options.binStart ?? "start";
  const binEnd = options.binEnd ?? "end";
  const domain = options.x?.domain;
  return {
    ...titleOf(options),
    config: { ...CHART_CONFIG, axis: { ...CHART_CONFIG.axis, labelFontSize: 10, grid: false } },
    data: { values: [...options.data] },
    facet: {
      column: { ...facetEncoding(options.column), header: { labelFontSize: 12 } },
      ...(options.row
        ? { row: { ...facetEncoding(options.row), header: { labelAngle: 0, labelAlign: "left" } } }
        : {}),
    },
    spec: {
      width: options.width ?? 100,
      height: options.height ?? 80,
      mark: { type: "bar", binSpacing: 0, ...(options.color ? { color: options.color } : {}) },
      encoding: {
        x: {
          field: binStart,
          type: "quantitative",
          bin: { binned: true },
          title: options.x?.title ?? "value",
          scale: domain ? { domain: [...domain], zero: false } : { zero: false },
          axis: { tickCount: 3, labelFlush: true },
        },
        x2: { field: binEnd },
        y: { field: yField, type: "quantitative", title: options.y?.title ?? null, axis: { tickCount: 2 } },
      },
    },
    resolve: { scale: { y: options.independentY === false ? "shared" : "independent" } },
  };
}
