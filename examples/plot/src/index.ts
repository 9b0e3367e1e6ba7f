// @normgrad/plot: Vega-Lite charts for the examples, rendered headless to SVG and PNG.
export type { AxisOptions, CategoryOptions, DataRow, FacetOptions, FrameOptions } from "./chart-options.ts";
export type { HistogramBin, HistogramGridOptions, HistogramOptions } from "./histogram-grid.ts";
export { histogram, histogramGrid } from "./histogram-grid.ts";
export type { BandExtent, LineChartOptions } from "./line-chart.ts";
export { lineChart } from "./line-chart.ts";
export { markdownTable } from "./markdown-table.ts";
export type { PngOptions, RenderedChart } from "./render-chart.ts";
export { renderChart, renderSvg, svgToPng } from "./render-chart.ts";
export { CHART_CONFIG, FONT_FAMILY } from "./theme.ts";
