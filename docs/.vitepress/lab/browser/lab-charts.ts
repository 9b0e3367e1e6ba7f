// The BatchNorm lab's plots on canvas: line charts over training steps and activation histograms.
import type { ActivationHistogram } from "../lockstep-trainer.ts";

/** A point (step, value). */
export type Point = readonly [number, number];

/** One line of a chart. */
export interface LineSeries {
  points: readonly Point[];
  color: string;
  /** CSS pixels; default 1.5. */
  width?: number;
  /** Canvas dash pattern; default solid. */
  dash?: number[];
}

/** The axes of a line chart: steps 0…xMax across, values yMin…yMax up (values beyond are clipped). */
export interface ChartAxes {
  xMax: number;
  yMin: number;
  yMax: number;
  /** Formats the value labels. */
  format: (value: number) => string;
}

const MARGIN = { left: 44, right: 8, top: 8, bottom: 20 };
const AXIS_COLOR = "#8c8c8c";
const GRID_COLOR = "rgba(140, 140, 140, 0.25)";

/** The canvas sized to its CSS box at the device's pixel ratio, its context scaled to CSS pixels. */
function prepare(canvas: HTMLCanvasElement): {
  context: CanvasRenderingContext2D;
  width: number;
  height: number;
} {
  const ratio = globalThis.devicePixelRatio || 1;
  const width = canvas.clientWidth;
  const height = canvas.clientHeight;
  if (canvas.width !== Math.round(width * ratio)) canvas.width = Math.round(width * ratio);
  if (canvas.height !== Math.round(height * ratio)) canvas.height = Math.round(height * ratio);
  const context = canvas.getContext("2d");
  if (context === null) throw new Error("the lab needs a 2D canvas context");
  context.setTransform(ratio, 0, 0, ratio, 0, 0);
  context.clearRect(0, 0, width, height);
  context.font = "11px system-ui, sans-serif";
  return { context, width, height };
}

/** At most `limit` of `points`, evenly strided, the last always kept (drawing 20,000 points per frame is wasted work). */
function thinned(points: readonly Point[], limit: number): readonly Point[] {
  if (points.length <= limit) return points;
  const stride = points.length / limit;
  const kept = Array.from({ length: limit }, (_, i) => points[Math.floor(i * stride)]);
  kept.push(points[points.length - 1]);
  return kept;
}

/** Draws `series` over `axes`, with three value gridlines and the step range labelled. */
export function drawLineChart(
  canvas: HTMLCanvasElement,
  series: readonly LineSeries[],
  axes: ChartAxes,
): void {
  const { context, width, height } = prepare(canvas);
  const plotWidth = width - MARGIN.left - MARGIN.right;
  const plotHeight = height - MARGIN.top - MARGIN.bottom;
  const xMax = Math.max(axes.xMax, 1);
  const span = axes.yMax - axes.yMin || 1;
  const x = (step: number) => MARGIN.left + (step / xMax) * plotWidth;
  const y = (value: number) => {
    const clipped = Math.min(axes.yMax, Math.max(axes.yMin, value));
    return MARGIN.top + (1 - (clipped - axes.yMin) / span) * plotHeight;
  };
  context.fillStyle = AXIS_COLOR;
  context.strokeStyle = GRID_COLOR;
  context.lineWidth = 1;
  context.textBaseline = "middle";
  context.textAlign = "right";
  for (const fraction of [0, 0.5, 1]) {
    const value = axes.yMin + fraction * span;
    context.beginPath();
    context.moveTo(MARGIN.left, y(value));
    context.lineTo(width - MARGIN.right, y(value));
    context.stroke();
    context.fillText(axes.format(value), MARGIN.left - 4, y(value));
  }
  context.textBaseline = "top";
  context.textAlign = "left";
  context.fillText("0", MARGIN.left, height - MARGIN.bottom + 4);
  context.textAlign = "right";
  context.fillText(`step ${xMax}`, width - MARGIN.right, height - MARGIN.bottom + 4);
  for (const line of series) {
    const points = thinned(line.points, Math.max(2, Math.floor(plotWidth)));
    if (points.length === 0) continue;
    context.strokeStyle = line.color;
    context.lineWidth = line.width ?? 1.5;
    context.setLineDash(line.dash ?? []);
    context.beginPath();
    points.forEach(([step, value], index) => {
      if (index === 0) context.moveTo(x(step), y(value));
      else context.lineTo(x(step), y(value));
    });
    if (points.length === 1) context.arc(x(points[0][0]), y(points[0][1]), 1.5, 0, 2 * Math.PI);
    context.stroke();
  }
  context.setLineDash([]);
}

/**
 * Draws a histogram as bars in `color`, with the step-0 histogram in the same bins as a grey
 * outline. Bar heights are square roots of the counts, so a tall spike (ReLU's zeros) does not
 * flatten the rest; `low` and `high` label the ends.
 */
export function drawHistogram(
  canvas: HTMLCanvasElement,
  histogram: ActivationHistogram,
  color: string,
): void {
  const { context, width, height } = prepare(canvas);
  const bottom = height - 14;
  const tallest = Math.sqrt(Math.max(1, ...histogram.counts, ...histogram.initialCounts));
  const barWidth = width / histogram.counts.length;
  const barHeight = (count: number) => (Math.sqrt(count) / tallest) * (bottom - 2);
  context.fillStyle = color;
  histogram.counts.forEach((count, bin) => {
    const h = barHeight(count);
    context.fillRect(bin * barWidth + 0.5, bottom - h, Math.max(1, barWidth - 1), h);
  });
  context.strokeStyle = AXIS_COLOR;
  context.lineWidth = 1;
  context.beginPath();
  histogram.initialCounts.forEach((count, bin) => {
    const top = bottom - barHeight(count);
    if (bin === 0) context.moveTo(0, top);
    else context.lineTo(bin * barWidth, top);
    context.lineTo((bin + 1) * barWidth, top);
  });
  context.stroke();
  context.fillStyle = AXIS_COLOR;
  context.textBaseline = "top";
  context.textAlign = "left";
  context.fillText(histogram.low.toPrecision(2), 0, bottom + 2);
  context.textAlign = "right";
  context.fillText(histogram.high.toPrecision(2), width, bottom + 2);
}
