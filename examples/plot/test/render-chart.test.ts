// renderChart: Vega-Lite specs rendered headless to SVG and PNG files.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Resvg } from "@resvg/resvg-js";
import { afterAll, describe, expect, it } from "vitest";
import { histogram, histogramGrid, lineChart, renderChart, renderSvg, svgToPng } from "../src/index.ts";

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

const seedRows = [0, 1, 2].flatMap((seed) =>
  [1, 10, 100, 1000].flatMap((step) => [
    { step, seed, variant: "with BN", loss: 1 / step + 0.01 * seed },
    { step, seed, variant: "without BN", loss: 2 / step + 0.02 * seed },
  ]),
);

const charts = {
  "line chart, log axes": lineChart({
    title: "Loss",
    data: seedRows,
    x: { field: "step", title: "training step", scale: "log" },
    y: { field: "loss", title: "training loss", scale: "log" },
    color: { field: "variant", title: "model" },
  }),
  "mean ± stdev band over seeds, faceted": lineChart({
    data: seedRows,
    x: { field: "step", title: "training step" },
    y: { field: "loss", title: "training loss" },
    color: { field: "variant", title: "model" },
    facet: { field: "variant", title: "panel" },
    band: "stdev",
  }),
  "histogram grid": histogramGrid({
    data: ["relu", "relu + BN"].flatMap((variant) =>
      [1, 2].flatMap((layer) =>
        histogram([0, 0.5, 1, 1.5, layer], { bins: 4 }).map((bin) => ({ variant, layer, ...bin })),
      ),
    ),
    column: { field: "layer", title: "layer" },
    row: { field: "variant", title: null },
    x: { title: "activation" },
  }),
};

describe("renderSvg and svgToPng", () => {
  it.each(Object.entries(charts))("%s renders to an SVG with its labels and a PNG", async (_, spec) => {
    const svg = await renderSvg(spec);
    expect(svg.startsWith("<svg")).toBe(true);
    // resvg parses the document, so a malformed SVG throws here.
    const parsed = new Resvg(svg);
    expect(parsed.width).toBeGreaterThan(100);
    const png = svgToPng(svg);
    expect([...png.subarray(0, 8)]).toEqual(PNG_SIGNATURE);
    expect(png.length).toBeGreaterThan(5_000);
    // IHDR holds the width at byte 16: twice the SVG's at the default scale.
    expect(Buffer.from(png).readUInt32BE(16)).toBe(Math.round(parsed.width * 2));
  });

  it("writes the axis titles and the legend into the SVG", async () => {
    const svg = await renderSvg(charts["line chart, log axes"]);
    for (const text of ["training step", "training loss", "model", "with BN", "without BN", "Loss"]) {
      expect(svg).toContain(`>${text}</text>`);
    }
  });

  it("raises Vega-Lite's warnings as errors", async () => {
    const spec = lineChart({ data: [{ a: 0, b: 1 }], x: { field: "a", scale: "log" }, y: { field: "b" } });
    await expect(
      renderSvg({ ...spec, encoding: { shape: { field: "a", type: "nominal" } } }),
    ).rejects.toThrow(/Vega-Lite rejected the chart spec/);
  });

  it("rejects a non-positive scale", () => {
    expect(() =>
      svgToPng('<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>', { scale: 0 }),
    ).toThrow("svgToPng: scale must be positive, got 0");
  });
});

describe("renderChart", () => {
  const dir = mkdtempSync(join(tmpdir(), "normgrad-plot-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("writes basePath.svg and basePath.png", async () => {
    const { svgPath, pngPath } = await renderChart(
      charts["line chart, log axes"],
      join(dir, "nested", "loss"),
    );
    expect(svgPath).toBe(join(dir, "nested", "loss.svg"));
    expect(readFileSync(svgPath, "utf8")).toMatch(/^<svg/);
    expect([...readFileSync(pngPath).subarray(0, 8)]).toEqual(PNG_SIGNATURE);
  });
});
