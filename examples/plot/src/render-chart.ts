// Rendering: Vega-Lite spec → SVG (headless Vega) → PNG (resvg), and writing both next to each other.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { Resvg, type ResvgRenderOptions } from "@resvg/resvg-js";
import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";
import { vegaTextWidth } from "./text-width.ts";

/** Options of {@link svgToPng}. */
export interface PngOptions {
  /** Pixels per SVG unit. Default 2 (sharp on high-density screens and in documents). */
  scale?: number;
  /** Extra font files to load besides the system fonts (for machines without fonts installed). */
  fontFiles?: string[];
}

/**
 * Compiles a Vega-Lite spec to Vega and renders it headless (`renderer: 'none'`) to an SVG
 * document. Vega-Lite warnings (an ignored channel, a bad scale) are raised as errors, so a
 * chart that silently lost its encoding never reaches the results folder.
 */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const logger = new CollectingLogger();
  const { spec: vegaSpec } = compile(spec, { logger });
  if (logger.messages.length > 0) {
    throw new Error(`Vega-Lite rejected the chart spec:\n  ${logger.messages.join("\n  ")}`);
  }
  useTextWidthEstimate();
  const view = new vega.View(vega.parse(vegaSpec), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Vega's text measurer (exported at run time, absent from its typings). */
function hasTextMetrics(module: object): module is { textMetrics: { width: typeof vegaTextWidth } } {
  return "textMetrics" in module && typeof module.textMetrics === "object" && module.textMetrics !== null;
}

/** Lays text out with {@link vegaTextWidth} instead of Vega's 0.8 em per character (Node has no canvas). */
function useTextWidthEstimate(): void {
  if (!hasTextMetrics(vega)) throw new Error("this Vega version no longer exports textMetrics");
  vega.textMetrics.width = vegaTextWidth;
}

type LoggerInterface = NonNullable<NonNullable<Parameters<typeof compile>[1]>["logger"]>;

/** Keeps Vega-Lite's warnings and errors instead of printing them. */
class CollectingLogger implements LoggerInterface {
  readonly messages: string[] = [];
  level(): number {
    return 0;
  }
  error(...args: unknown[]): this {
    this.messages.push(args.map(String).join(" "));
    return this;
  }
  warn(...args: unknown[]): this {
    return this.error(...args);
  }
  info(): this {
    return this;
  }
  debug(): this {
    return this;
  }
}

/**
 * Rasterizes an SVG document to PNG bytes with resvg, loading the system fonts (plus
 * `fontFiles`). Throws when no font can draw text, since a chart without its labels is unreadable.
 */
export function svgToPng(svg: string, { scale = 2, fontFiles = [] }: PngOptions = {}): Uint8Array {
  if (!(scale > 0)) throw new RangeError(`svgToPng: scale must be positive, got ${scale}`);
  const font: ResvgRenderOptions["font"] = { loadSystemFonts: true, fontFiles };
  assertFontsDrawText(font);
  return new Resvg(svg, { font, fitTo: { mode: "zoom", value: scale }, background: "white" })
    .render()
    .asPng();
}

const fontCheckSvg =
  '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20"><text x="2" y="16" font-size="16">Ag</text></svg>';
const fontsChecked = new Set<string>();

function assertFontsDrawText(font: ResvgRenderOptions["font"]): void {
  const key = JSON.stringify(font);
  if (fontsChecked.has(key)) return;
  const pixels = new Resvg(fontCheckSvg, { font }).render().pixels;
  // RGBA with a transparent background: any opaque pixel means a glyph was drawn.
  const drewText = pixels.some((value, i) => i % 4 === 3 && value > 0);
  if (!drewText) {
    throw new Error(
      "svgToPng: no font could draw text, so the PNG would have no labels. Install a font package " +
        "(e.g. fonts-dejavu-core) or pass fontFiles: ['/path/to/font.ttf'].",
    );
  }
  fontsChecked.add(key);
}

/** Paths written by {@link renderChart}. */
export interface RenderedChart {
  svgPath: string;
  pngPath: string;
}

/**
 * Renders `spec` and writes `basePath.svg` and `basePath.png` (creating the folder). Returns both
 * paths. `basePath` has no extension: `results/loss` gives `results/loss.svg` and `results/loss.png`.
 */
export async function renderChart(
  spec: TopLevelSpec,
  basePath: string,
  pngOptions: PngOptions = {},
): Promise<RenderedChart> {
  const svg = await renderSvg(spec);
  const png = svgToPng(svg, pngOptions);
  const svgPath = `${basePath}.svg`;
  const pngPath = `${basePath}.png`;
  mkdirSync(dirname(svgPath), { recursive: true });
  writeFileSync(svgPath, svg);
  writeFileSync(pngPath, png);
  return { svgPath, pngPath };
}
