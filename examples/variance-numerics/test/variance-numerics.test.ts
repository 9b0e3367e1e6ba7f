// The variance-numerics study in smoke mode: its results file, tables and plots.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main, type NumericsResults } from "../src/index.ts";

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

describe("variance-numerics in smoke mode", () => {
  const out = mkdtempSync(join(tmpdir(), "normgrad-numerics-"));
  let results: NumericsResults;
  beforeAll(async () => {
    results = await main({ smoke: true, quiet: true, out });
  }, 60_000);
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it("writes the JSON with the config and one row per ratio and algorithm", () => {
    const json = JSON.parse(readFileSync(join(out, "variance-numerics.json"), "utf8"));
    expect(json.config).toMatchObject({ seed: 0, trials: 3, samples: 256, dtype: "float32", correction: 0 });
    expect(json.config.ratios).toHaveLength(7);
    expect(json.rows).toHaveLength(7 * 3);
    for (const row of json.rows) {
      expect(Object.keys(row).sort()).toEqual(
        [
          "algorithm",
          "maxRelativeError",
          "meanRelativeError",
          "negativeCount",
          "ratio",
          "trials",
          "zeroCount",
        ].sort(),
      );
    }
  });

  it("writes the Markdown table linking to the docs", () => {
    const markdown = readFileSync(join(out, "variance-numerics.md"), "utf8");
    expect(markdown).toContain("| mean / std | two-pass | Welford | one-pass |");
    expect(markdown).toMatch(/\[docs\/normalization\.md\]\(.*docs\/normalization\.md\)/);
  });

  it.each(["relative-error", "negative-variances"])("renders %s as SVG and PNG", (name) => {
    expect(readFileSync(join(out, `${name}.svg`), "utf8")).toMatch(/^<svg[^>]*>/);
    const png = readFileSync(join(out, `${name}.png`));
    expect([...png.subarray(0, 8)]).toEqual(PNG_SIGNATURE);
    expect(png.length).toBeGreaterThan(10_000);
  });

  it("finds two-pass exact to float32 rounding and one-pass failing from mean/std 1e4 on", () => {
    for (const row of results.rows) {
      if (row.algorithm === "two-pass") expect(row.maxRelativeError).toBeLessThan(1e-6);
      if (row.algorithm === "one-pass" && row.ratio >= 1e4)
        expect(row.meanRelativeError).toBeGreaterThan(0.1);
    }
  });

  it("rejects a bad trial count", async () => {
    await expect(main({ trials: 0, quiet: true, out })).rejects.toThrow(
      "trials must be a positive integer, got 0",
    );
  });
});
