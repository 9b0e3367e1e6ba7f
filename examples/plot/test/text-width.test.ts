// estimateTextWidth: label widths for chart layout without a browser.
import { describe, expect, it } from "vitest";
import { estimateTextWidth, vegaTextWidth } from "../src/text-width.ts";

describe("estimateTextWidth", () => {
  it.each([
    ["", 0],
    ["i", 0.3 * 10],
    ["0", 0.64 * 10],
    ["W", 0.95 * 10],
    ["a b", (0.62 + 0.3 + 0.62) * 10],
  ])("measures %j at 10 px", (text, width) => {
    expect(estimateTextWidth(text, 10)).toBeCloseTo(width, 10);
  });

  it("widens bold text", () => {
    expect(estimateTextWidth("loss", 12, { bold: true })).toBeCloseTo(
      1.1 * estimateTextWidth("loss", 12),
      10,
    );
  });
});

describe("vegaTextWidth", () => {
  it("measures the widest line of a multi-line item in its font size and weight", () => {
    const item = { text: ["ab", "abcd"], fontSize: 10, fontWeight: "bold" };
    expect(vegaTextWidth(item)).toBeCloseTo(estimateTextWidth("abcd", 10, { bold: true }), 10);
    expect(vegaTextWidth({ fontSize: 10 }, 12.5)).toBeCloseTo(estimateTextWidth("12.5", 10), 10);
  });
});
