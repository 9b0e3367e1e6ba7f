// Per-layer summaries of activations: mean, standard deviation and the fraction of saturated units.
import type { Activation } from "./build-mlp.ts";

/**
 * A sigmoid output below this or above 1 − this is saturated: σ′ = y(1 − y) < 0.0196 there, under
 * 8% of its peak 0.25, so almost no gradient flows back through it.
 */
export const SIGMOID_SATURATION = 0.02;

/** Summary of one layer's activations over a probe batch. */
export interface LayerStats {
  /** 1-based hidden layer number. */
  layer: number;
  mean: number;
  /** Population standard deviation over every unit and sample. */
  std: number;
  /**
   * Fraction of values that pass (almost) no gradient: sigmoid outputs outside
   * [0.02, 0.98] (see {@link SIGMOID_SATURATION}), ReLU outputs equal to 0.
   */
  saturatedFraction: number;
}

/** Mean, std and saturated fraction of `values` (one layer's activations), accumulated in float64. */
export function layerStats(layer: number, values: Float32Array, activation: Activation): LayerStats {
  let sum = 0;
  let saturated = 0;
  for (const value of values) {
    sum += value;
    if (isSaturated(value, activation)) saturated++;
  }
  const mean = sum / values.length;
  let squares = 0;
  for (const value of values) squares += (value - mean) ** 2;
  return {
    layer,
    mean,
    std: Math.sqrt(squares / values.length),
    saturatedFraction: saturated / values.length,
  };
}

function isSaturated(value: number, activation: Activation): boolean {
  switch (activation) {
    case "sigmoid":
      return value < SIGMOID_SATURATION || value > 1 - SIGMOID_SATURATION;
    case "relu":
      return value === 0;
    default:
      return activation satisfies never;
  }
}
