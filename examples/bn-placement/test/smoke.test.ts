// The study's smoke run end to end: results files with their fields, valid plots, folding, and a target MLP accuracy.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseStudyArgs } from "../src/parse-study-args.ts";
import { runStudy, STUDY_FILES, type StudyOutput } from "../src/run-study.ts";
import type { StudyResult } from "../src/study-result.ts";

/** The MLP's best variant must reach this after one epoch on 512 digits (chance is 10%). */
const MLP_TARGET_ACCURACY = 0.7;

const outDir = mkdtempSync(join(tmpdir(), "bn-placement-smoke-"));
let output: StudyOutput;
let written: StudyResult;

beforeAll(async () => {
  const parsed = parseStudyArgs(["--smoke", "--out", outDir], { cwd: process.cwd(), defaultOutDir: outDir });
  if (parsed.command !== "run") throw new Error("expected a run");
  output = await runStudy(parsed.config, { log: null, progressStream: null });
  written = JSON.parse(readFileSync(join(outDir, STUDY_FILES.json), "utf8"));
  // The machine's 2 cores are shared: give the smoke run room beyond vitest's 10 s hook default.
}, 900_000);

afterAll(() => rmSync(outDir, { recursive: true, force: true }));

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

describe("bn-placement smoke run", () => {
  it("writes study.json with every run's per-epoch record", () => {
    expect(written).toMatchObject({
      schemaVersion: 1,
      mode: "smoke",
      dataset: { name: "mnist", testSize: 200 },
    });
    expect(written.runs).toHaveLength(2 * 3 * 2);
    for (const run of written.runs) {
      expect(run.epochs).toHaveLength(1);
      expect(Object.keys(run.epochs[0]).sort()).toEqual(
        [
          "epoch",
          "samplesPerSecond",
          "seconds",
          "testAccuracy",
          "testLoss",
          "trainAccuracy",
          "trainLoss",
        ].sort(),
      );
      expect(run.epochs[0].samplesPerSecond).toBeGreaterThan(0);
      expect(run.cpuSeconds).toBeGreaterThan(0);
    }
    expect(written.totalSeconds).toBeGreaterThan(0);
  });

  it("summarises every model × variant with mean ± std and names a winner per model", () => {
    expect(written.summaries.map((summary) => `${summary.model} ${summary.variant}`)).toEqual([
      "mlp none",
      "mlp bn-relu",
      "mlp relu-bn",
      "cnn none",
      "cnn bn-relu",
      "cnn relu-bn",
    ]);
    for (const summary of written.summaries) expect(summary.finalTestAccuracy).toMatchObject({ n: 2 });
    expect(written.comparisons.map((comparison) => comparison.model)).toEqual(["mlp", "cnn"]);
    for (const comparison of written.comparisons) {
      expect(comparison.against).toHaveLength(2);
      for (const pair of comparison.against) expect(typeof pair.exceedsSpread).toBe("boolean");
    }
    expect(written.spreadCriterion).toContain("Welch");
  });

  it("beats the target accuracy with the MLP", () => {
    const mlp = written.summaries.filter((summary) => summary.model === "mlp");
    expect(Math.max(...mlp.map((summary) => summary.finalTestAccuracy.mean))).toBeGreaterThan(
      MLP_TARGET_ACCURACY,
    );
    for (const summary of mlp) expect(summary.finalTestAccuracy.mean).toBeGreaterThan(0.4);
  });

  it("records the learning-rate sweep and the small-batch run", () => {
    expect(written.lrSweep?.points.map((point) => `${point.variant} ${point.lr}`)).toEqual([
      "none 0.03",
      "none 1",
      "bn-relu 0.03",
      "bn-relu 1",
      "relu-bn 0.03",
      "relu-bn 1",
    ]);
    expect(written.lrSweep?.tolerance).toHaveLength(3);
    expect(written.smallBatch?.summaries.map((summary) => `${summary.norm} ${summary.batchSize}`)).toEqual([
      "batch 4",
      "group 4",
      "layer 4",
      "batch 16",
      "group 16",
      "layer 16",
    ]);
  });

  it("folds bn-relu without changing the predictions, and explains relu-bn", () => {
    const records = written.folding?.records ?? [];
    expect(records.map((record) => `${record.model} ${record.variant}`)).toEqual([
      "mlp bn-relu",
      "mlp relu-bn",
      "cnn bn-relu",
      "cnn relu-bn",
    ]);
    for (const record of records.filter((candidate) => candidate.variant === "bn-relu")) {
      expect(record.batchNormLayersLeft).toBe(0);
      expect(record.maxAbsLogitDifference).toBeLessThan(1e-3);
      expect(Math.abs(record.testAccuracyAfter - record.testAccuracyBefore)).toBeLessThanOrEqual(1 / 200);
      expect(record.layersAfter.length).toBeLessThan(record.layersBefore.length);
    }
    const cnnReluBn = records.find((record) => record.model === "cnn" && record.variant === "relu-bn");
    expect(cnnReluBn?.batchNormLayersLeft).toBe(2);
    expect(cnnReluBn?.decisions.filter((decision) => decision.action === "kept")).toHaveLength(2);
    expect(cnnReluBn?.accuracyIfFoldedAcrossRelu).toEqual(expect.any(Number));
    expect(written.folding?.reluBnExplanation).toContain("ReLU is not");
  });

  it("writes study.md with the tables", () => {
    const markdown = readFileSync(join(outDir, STUDY_FILES.markdown), "utf8");
    expect(markdown).toContain("| variant | test acc % |");
    expect(markdown).toContain("## Learning-rate sweep");
    expect(markdown).toContain("## Small batches");
    expect(markdown).toContain("## Folding BatchNorm after training");
    for (const stem of Object.values(STUDY_FILES.plots)) expect(markdown).toContain(`(${stem}.png)`);
  });

  it.each(Object.values(STUDY_FILES.plots))("writes %s as a valid SVG and PNG", (stem) => {
    const svg = readFileSync(join(outDir, `${stem}.svg`), "utf8");
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg.trimEnd().endsWith("</svg>")).toBe(true);
    expect(svg).toContain('xmlns="http://www.w3.org/2000/svg"');
    const png = readFileSync(join(outDir, `${stem}.png`));
    expect([...png.subarray(0, 8)]).toEqual(PNG_SIGNATURE);
    expect(png.subarray(12, 16).toString("ascii")).toBe("IHDR");
    expect(png.readUInt32BE(16)).toBeGreaterThan(100);
    expect(png.readUInt32BE(20)).toBeGreaterThan(100);
    expect(png.subarray(-8, -4).toString("ascii")).toBe("IEND");
    expect(output.files).toContain(join(outDir, `${stem}.png`));
  });
});
