// The look shared by every normgrad chart: fonts, sizes and colours as a Vega-Lite config.
import type { Config } from "vega-lite";

/**
 * Font families tried in order. DejaVu Sans ships with most Linux distributions (and GitHub's
 * runners); the rest cover macOS and Windows. The PNG renderer loads the system fonts.
 */
export const FONT_FAMILY = "DejaVu Sans, Liberation Sans, Helvetica, Arial, sans-serif";

/** The Vega-Lite config every helper in this package starts from: white background, readable sizes. */
export const CHART_CONFIG: Config = {
  background: "white",
  padding: 8,
  font: FONT_FAMILY,
  title: { fontSize: 15, anchor: "start", subtitleFontSize: 12, subtitleColor: "#555" },
  axis: { labelFontSize: 11, titleFontSize: 12, gridColor: "#e6e6e6" },
  legend: { labelFontSize: 11, titleFontSize: 12, symbolStrokeWidth: 3, labelLimit: 320 },
  header: { labelFontSize: 12, titleFontSize: 13 },
  line: { strokeWidth: 2 },
  view: { stroke: "#bbb" },
};
