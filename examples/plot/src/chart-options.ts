// The options every chart helper shares: data rows, axes, colour/dash series and facets.

/** One data row: field name → value, as Vega-Lite reads inline data. */
export type DataRow = Readonly<Record<string, string | number | boolean | null>>;

/** A quantitative axis: the field it plots and how. */
export interface AxisOptions {
  /** The data field plotted on this axis. */
  field: string;
  /** Axis title. Default: the field name. */
  title?: string;
  /** Default "linear". "log" needs strictly positive values; "symlog" also takes zero and negatives. */
  scale?: "linear" | "log" | "symlog";
  /** Fixed [min, max]. Default: fitted to the data. */
  domain?: readonly [number, number];
  /**
   * A d3-format string for the tick labels. Default: Vega's on linear axes; on log axes plain
   * numbers from 0.001 to 1000 and powers of ten beyond ("1e-7", "0.01", "1e+6").
   */
  format?: string;
}

/** A categorical field that splits the data into series (one colour, dash or panel per value). */
export interface CategoryOptions {
  field: string;
  /** Legend or header title; `null` for none. Default: the field name. */
  title?: string | null;
  /** The values in display order (also fixes their colours across charts). Default: sorted. */
  order?: readonly string[];
}

/** Small multiples: one panel per value of `field`, wrapped after `columns` panels. */
export interface FacetOptions extends CategoryOptions {
  /** Panels per row. Default: all on one row. */
  columns?: number;
}

/** Title, subtitle and the size of one plot panel in SVG units. */
export interface FrameOptions {
  title?: string;
  subtitle?: string;
  /** Width of one panel. Default depends on the chart. */
  width?: number;
  /** Height of one panel. Default depends on the chart. */
  height?: number;
}

/** The Vega-Lite encoding of a quantitative axis. */
export function quantitativeEncoding(axis: AxisOptions) {
  const scaleType = axis.scale ?? "linear";
  // Vega thins log-axis labels itself (datum.label is "" where it drops one); keep that, change the look.
  const logLabels =
    "datum.label === '' ? '' : datum.value >= 1e-3 && datum.value < 1e4 ? format(datum.value, '~g') : format(datum.value, '.0e')";
  const labels =
    axis.format !== undefined ? { format: axis.format } : scaleType === "log" ? { labelExpr: logLabels } : {};
  // On log axes the grid lines between decades are faint, so the decades stand out.
  const decade = "abs(log(datum.value) / LN10 - round(log(datum.value) / LN10)) < 1e-6";
  const grid =
    scaleType === "log" ? { gridOpacity: { condition: { test: decade, value: 1 }, value: 0.35 } } : {};
  return {
    field: axis.field,
    type: "quantitative" as const,
    title: axis.title ?? axis.field,
    scale: {
      type: scaleType,
      ...(axis.domain ? { domain: [...axis.domain] } : {}),
      // A linear axis need not reach zero (log axes never do).
      ...(scaleType === "linear" ? { zero: false } : {}),
    },
    axis: { ...labels, ...grid },
  };
}

/** The Vega-Lite encoding of a categorical channel (colour, dash, facet). */
export function categoryEncoding(category: CategoryOptions) {
  return {
    field: category.field,
    type: "nominal" as const,
    title: category.title === undefined ? category.field : category.title,
    ...(category.order ? { sort: [...category.order], scale: { domain: [...category.order] } } : {}),
  };
}

/** The Vega-Lite `facet` of small multiples (headers sorted by `order` when given). */
export function facetEncoding(facet: CategoryOptions) {
  return {
    field: facet.field,
    type: "nominal" as const,
    title: facet.title === undefined ? facet.field : facet.title,
    ...(facet.order ? { sort: [...facet.order] } : {}),
  };
}

/** The title block of a spec, or nothing when there is no title. */
export function titleOf(frame: FrameOptions) {
  if (frame.title === undefined) return {};
  return { title: { text: frame.title, ...(frame.subtitle ? { subtitle: frame.subtitle } : {}) } };
}
