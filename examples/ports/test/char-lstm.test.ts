// The character-level LSTM port: the batch order the PyTorch reference shares, and a short run that learns.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { batchOffsets, CHAR_TEXT_URL, charLstm } from "../src/index.ts";

describe("character-level LSTM port", () => {
  it("draws the batches the reference script draws: fixed offsets inside the text", () => {
    expect(batchOffsets(1, 3, 1000, 64)).toEqual([
      7919 % 935,
      (7919 + 104729) % 935,
      (7919 + 2 * 104729) % 935,
    ]);
    const length = readFileSync(CHAR_TEXT_URL, "utf8").length;
    for (const offset of batchOffsets(17, 32, length, 64)) {
      expect(offset).toBeGreaterThanOrEqual(0);
      expect(offset + 65).toBeLessThanOrEqual(length);
    }
  });

  it("learns: 12 Adam steps take the loss from ln(vocabulary) down, and it continues a prompt", () => {
    const vocabulary = new Set(readFileSync(CHAR_TEXT_URL, "utf8")).size;
    const { trainLosses, validationLosses, sample } = charLstm({ steps: 12, lr: 0.01, logInterval: 12 });
    expect(trainLosses[0].loss).toBeCloseTo(Math.log(vocabulary), 0);
    expect(trainLosses[11].loss).toBeLessThan(trainLosses[0].loss - 0.5);
    expect(validationLosses).toHaveLength(1);
    expect(validationLosses[0].loss).toBeLessThan(trainLosses[0].loss);
    expect(sample.startsWith("The ")).toBe(true);
    expect(sample).toHaveLength(4 + 120);
  }, 120_000);
});
