// layerStats: mean, std and saturated fraction of a layer's outputs.
import { describe, expect, it } from "vitest";
import { type Activation, layerStats } from "../src/index.ts";

const cases: [Activation, number[], { mean: number; saturatedFraction: number }][] = [
  ["sigmoid", [0.01, 0.5, 0.99, 0.5], { mean: 0.5, saturatedFraction: 0.5 }],
  ["relu", [0, 0, 1, 3], { mean: 1, saturatedFraction: 0.5 }],
];

describe("layerStats", () => {
  it.each(cases)("summarizes %s activations", (activation, values, expected) => {
    const stats = layerStats(3, Float32Array.from(values), activation);
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    const std = Math.sqrt(values.reduce((sum, v) => sum + (v - mean) ** 2, 0) / values.length);
    expect(stats.layer).toBe(3);
    expect(stats.mean).toBeCloseTo(expected.mean, 6);
    expect(stats.std).toBeCloseTo(std, 6);
    expect(stats.saturatedFraction).toBe(expected.saturatedFraction);
  });
});
