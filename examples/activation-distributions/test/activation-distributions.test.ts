// The activation-distributions study in smoke mode: its results file, tables and plots.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ActivationResults, main } from "../src/index.ts";

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

describe("activation-distributions in smoke mode", () => {
  const out = mkdtempSync(join(tmpdir(), "normgrad-activations-"));
  let results: ActivationResults;
  beforeAll(async () => {
    results = await main({ smoke: true, quiet: true, out });
  }, 60_000);
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it("writes the JSON with every variant's training and per-layer statistics", () => {
    const json = JSON.parse(readFileSync(join(out, "activation-distributions.json"), "utf8"));
    expect(json.config).toMatchObject({ steps: 3, depth: 10, width: 100, sigmoidSaturation: 0.02 });
    expect(
      json.variants.map((v: { activation: string; batchNorm: boolean }) => [v.activation, v.batchNorm]),
    ).toEqual([
      ["sigmoid", false],
      ["sigmoid", true],
      ["relu", false],
      ["relu", true],
    ]);
    for (const variant of json.variants) {
      expect(variant.losses).toHaveLength(3);
      expect(variant.testAccuracy).toBeGreaterThanOrEqual(0);
      for (const phase of ["init", "trained"]) {
        expect(variant.layers[phase]).toHaveLength(10);
        for (const stats of variant.layers[phase]) {
          expect(Object.keys(stats).sort()).toEqual(["layer", "mean", "saturatedFraction", "std"]);
        }
      }
    }
  });

  it("writes the Markdown tables", () => {
    const markdown = readFileSync(join(out, "activation-distributions.md"), "utf8");
    expect(markdown).toContain("| model | hidden weights | first loss | last loss | test accuracy |");
    expect(markdown).toContain("## sigmoid: activations per hidden layer");
    expect(markdown).toContain("## relu: activations per hidden layer");
  });

  it.each(["sigmoid-histograms", "relu-histograms", "training-loss"])("renders %s as SVG and PNG", (name) => {
    expect(readFileSync(join(out, `${name}.svg`), "utf8")).toMatch(/^<svg[^>]*>/);
    const png = readFileSync(join(out, `${name}.png`));
    expect([...png.subarray(0, 8)]).toEqual(PNG_SIGNATURE);
    expect(png.length).toBeGreaterThan(10_000);
  });

  it("shows at initialization what BatchNorm fixes: sigmoid saturation and a shrinking ReLU signal", () => {
    const layersOf = (activation: string, batchNorm: boolean) =>
      results.variants.find((v) => v.activation === activation && v.batchNorm === batchNorm)?.layers.init ??
      [];
    const deepSigmoid = layersOf("sigmoid", false).slice(2);
    const deepSigmoidBn = layersOf("sigmoid", true).slice(2);
    expect(Math.min(...deepSigmoid.map((s) => s.saturatedFraction))).toBeGreaterThan(0.3);
    expect(Math.max(...deepSigmoidBn.map((s) => s.saturatedFraction))).toBeLessThan(0.05);
    const relu = layersOf("relu", false);
    const reluBn = layersOf("relu", true);
    expect(relu[9].std / relu[0].std).toBeLessThan(0.2);
    expect(reluBn[9].std / reluBn[0].std).toBeGreaterThan(0.5);
  });

  it("rejects a probe larger than the test set", async () => {
    await expect(main({ smoke: true, quiet: true, out, probeSize: 5000 })).rejects.toThrow(
      "probeSize 5000 exceeds the 2004 test digits",
    );
  });
});
