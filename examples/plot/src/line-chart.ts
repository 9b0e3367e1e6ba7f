// Line charts: one line per series, optionally the mean over repeated runs with a spread band.
import type { TopLevelSpec } from "vega-lite";
import {
  type AxisOptions,
  type CategoryOptions,
  categoryEncoding,
  type DataRow,
  type FacetOptions,
  type FrameOptions,
  facetEncoding,
  quantitativeEncoding,
  titleOf,
} from "./chart-options.ts";
import { CHART_CONFIG } from "./theme.ts";

/**
 * The spread drawn around the mean line: "stdev" (mean ± one standard deviation), "stderr"
 * (mean ± standard error) or "minmax" (from the smallest to the largest run). On a log axis
 * prefer "minmax": mean − std can fall below zero, where a log scale has no place for it.
 */
export type BandExtent = "stdev" | "stderr" | "minmax";

/** Options of {@link lineChart}. */
export interface LineChartOptions extends FrameOptions {
  data: readonly DataRow[];
  x: AxisOptions;
  y: AxisOptions;
  /** One coloured line per value of this field (with a legend). */
  color?: CategoryOptions;
  /** One dash pattern per value of this field (e.g. train vs test). */
  dash?: CategoryOptions;
  /** One panel per value of this field. */
  facet?: FacetOptions;
  /**
   * Aggregate the rows sharing an x and a series (e.g. the seeds of a run): draw their mean as
   * the line and this extent as a shaded band. Default: no aggregation, rows are drawn as they are.
   */
  band?: BandExtent;
  /** Mark each data point with a dot. Default false. */
  points?: boolean;
}

/**
 * A multi-series line chart as a Vega-Lite spec: `x` against `y`, one line per `color` × `dash`
 * value, optionally faceted, with linear, log or symlog axes. With `band`, every line is the mean
 * over the rows it aggregates, drawn over a band showing their spread. Width 420, height 260 by default.
 */
export function lineChart(options: LineChartOptions): TopLevelSpec {
  const { data, band, facet } = options;
  const x = quantitativeEncoding(options.x);
  const y = quantitativeEncoding(options.y);
  const series = {
    ...(options.color ? { color: colorEncoding(options.color) } : {}),
    ...(options.dash
      ? {
          strokeDash: {
            ...categoryEncoding(options.dash),
            legend: { symbolType: "stroke", symbolStrokeColor: "#444" },
          },
        }
      : {}),
  };
  const line = {
    mark: { type: "line" as const, point: options.points ?? false },
    encoding: { x, y: band === undefined ? y : { ...y, aggregate: "mean" as const }, ...series },
  };
  const layers = band === undefined ? [line] : [bandLayer(band, x, y, options.color), line];
  const size = { width: options.width ?? 420, height: options.height ?? 260 };
  if (facet === undefined) {
    return { ...titleOf(options), config: CHART_CONFIG, data: { values: [...data] }, ...size, layer: layers };
  }
  return {
    ...titleOf(options),
    config: CHART_CONFIG,
    data: { values: [...data] },
    facet: facetEncoding(facet),
    ...(facet.columns === undefined ? {} : { columns: facet.columns }),
    spec: { ...size, layer: layers },
  };
}

function bandLayer(
  band: BandExtent,
  x: ReturnType<typeof quantitativeEncoding>,
  y: ReturnType<typeof quantitativeEncoding>,
  color: CategoryOptions | undefined,
) {
  const fill = color ? { color: colorEncoding(color) } : {};
  if (band === "minmax") {
    return {
      mark: { type: "area" as const, opacity: 0.25 },
      encoding: {
        x,
        y: { ...y, aggregate: "min" as const },
        y2: { field: y.field, aggregate: "max" as const },
        ...fill,
      },
    };
  }
  return { mark: { type: "errorband" as const, extent: band, opacity: 0.25 }, encoding: { x, y, ...fill } };
}

/** Both layers share one legend; opaque stroke symbols show the lines, not the faint band. */
function colorEncoding(color: CategoryOptions) {
  return { ...categoryEncoding(color), legend: { symbolType: "stroke", symbolOpacity: 1 } };
}
