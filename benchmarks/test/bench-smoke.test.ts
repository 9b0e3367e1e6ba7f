// Smoke test: the runner on a tiny matmul, and the report generator on hand-made result files.
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  BACKEND_CONFIGS,
  type BackendConfig,
  buildReport,
  HARDWARE_LIMITS_FILE,
  isTrainingResult,
  MNIST_MLP,
  matmulWorkload,
  type ResultFile,
  readHardwareLimits,
  readResultDirectory,
  runBenchmarks,
  type TimingOptions,
  trainingWorkload,
  writeResultFiles,
} from "../src/index.ts";

const TINY_TIMING: TimingOptions = {
  runs: 3,
  targetRunMs: 1,
  minCalls: 2,
  maxCalls: 3,
  warmupMs: 0,
  minWarmupCalls: 1,
  slowCallMs: 1000,
  slowCallsPerRun: 2,
};
const cpu = BACKEND_CONFIGS.find((config) => config.name === "cpu")!;
const unavailable: BackendConfig = {
  ...cpu,
  name: "gpu-headlessgl",
  config: "normgrad-unavailable",
  prepare: () => Promise.resolve("no device here"),
};
const scratch = mkdtempSync(path.join(os.tmpdir(), "normgrad-bench-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("runner", () => {
  it("times W1 at N=8 on the CPU, skips a configuration that cannot start, and round-trips the file", async () => {
    const outcome = await runBenchmarks({
      workloads: [matmulWorkload([8])],
      backends: [cpu, unavailable],
      timing: TINY_TIMING,
    });
    expect(outcome.skipped).toEqual([{ config: "normgrad-unavailable", reason: "no device here" }]);
    expect(outcome.files.map((file) => file.config)).toEqual(["normgrad-cpu"]);
    const [result] = outcome.files[0].results;
    expect(result).toMatchObject({ config: "normgrad-cpu", workload: "W1", case: "matmul N=8" });
    if (isTrainingResult(result)) throw new Error("W1 produced a training row");
    expect(result.repsPerRun).toHaveLength(3);
    expect(result.ms.n).toBe(3);
    expect(result.gflops?.median).toBeGreaterThan(0);
    // GFLOP/s is 2N³ / t with t in ms.
    expect(result.gflops?.median).toBeCloseTo((2 * 8 ** 3) / (result.ms.median * 1e6), 12);
    expect(result.cpuTime?.ms.n).toBe(3);

    writeResultFiles(outcome.files, scratch);
    const [read] = readResultDirectory(scratch, "normgrad");
    expect(read.file).toEqual(outcome.files[0]);
    expect(read.description).toBe(cpu.description);
  });
});

describe("training runner", () => {
  it("trains the W4 MLP for one epoch on 1024 samples and reports throughput and test accuracy", async () => {
    const oneEpoch = trainingWorkload({ ...MNIST_MLP, epochs: 1 }, { runs: 1, trainLimit: 1024 });
    const [result] = await oneEpoch.run({ backend: cpu, timing: TINY_TIMING, log: () => {} });
    if (!isTrainingResult(result)) throw new Error("W4 produced a micro-benchmark row");
    expect(result).toMatchObject({
      workload: "W4",
      case: "MNIST MLP bs=128 3 ep",
      nTrain: 1024,
      nTest: 2004,
    });
    expect(result.statBasis).toBe("1 run(s) x 3 segments");
    // 8 steps of 128, the first 5 untimed: one timed step per third.
    expect(result.runs[0]).toMatchObject({ seed: 1, steps: 8, timedSteps: 3 });
    expect(result.samplesPerSec.n).toBe(3);
    expect(result.samplesPerSec.median).toBeGreaterThan(0);
    expect(result.testAccPerEpochMedian).toHaveLength(1);
    // Ten classes: even one epoch on 1024 digits is far above chance.
    expect(result.finalTestAcc.median).toBeGreaterThan(0.5);
  });
});

describe("report", () => {
  const fixtures = path.join(import.meta.dirname, "fixtures", "peers");
  const ours: ResultFile = {
    config: "normgrad-cpu",
    description: "normgrad CPU backend",
    threads: 1,
    env: { date: "2026-11-25T00:00:00.000Z", cpu: "AMD EPYC", ncpu: 2, loadavg: [0.5, 0.4, 0.3] },
    results: [
      {
        config: "normgrad-cpu",
        workload: "W1",
        case: "matmul N=8",
        ms: { median: 0.25, min: 0.24, max: 0.26, n: 3 },
        gflops: { median: 2, min: 1.9, max: 2.1, n: 3 },
        repsPerRun: [5, 5, 5],
        cpuTime: {
          ms: { median: 1 / 6, min: 0.16, max: 0.17, n: 3 },
          gflops: { median: 3, min: 2.9, max: 3.1, n: 3 },
        },
        loadavg: [0.61, 0.4, 0.3],
      },
      {
        config: "normgrad-cpu",
        workload: "W4",
        case: "MNIST MLP bs=128 3 ep",
        samplesPerSec: { median: 2000, min: 1900, max: 2100, n: 3 },
        cpuSamplesPerSec: { median: 2500, min: 2400, max: 2600, n: 3 },
        statBasis: "3 runs",
        skipSteps: 5,
        finalTestAcc: { median: 0.5, min: 0.45, max: 0.55, n: 3 },
        testAccPerEpochMedian: [0.3, 0.4, 0.5],
        nTrain: 7996,
        nTest: 2004,
        runs: [],
        loadavg: [0.7, 0.5, 0.3],
      },
    ],
  };
  const report = buildReport({
    normgrad: [{ file: ours, family: "normgrad", description: "normgrad CPU backend" }],
    peers: readResultDirectory(fixtures, "peer"),
    limits: readHardwareLimits(path.join(fixtures, HARDWARE_LIMITS_FILE)),
    generatedAt: "2026-11-25",
  });
  const line = (start: string) => report.split("\n").find((text) => text.startsWith(start));

  it("lists normgrad first with its ratios to the best JS peer and PyTorch, its share of FMA peak and its load", () => {
    // 2 GFLOP/s vs tfjs-cpu's 0.5 and torch's 50; FMA peak 100; 3 GFLOP/s by CPU time.
    expect(line("| matmul N=8 | **normgrad-cpu** |")).toBe(
      "| matmul N=8 | **normgrad-cpu** | 2.00 (1.90–2.10) | 0.25 (0.24–0.26) | 4.00× | 0.040× | 2.0% | 3.00 (6.00×) | 0.61 |",
    );
    expect(line("|  | tfjs-cpu (best JS) |")).toContain("| 1.00× | 0.010× |");
    expect(line("|  | torch-t1-openblas-omp |")).toContain("| 100× | 1.00× | 50% |");
  });

  it("shows test accuracy per epoch and flags a configuration far below PyTorch's accuracy", () => {
    expect(line("| **normgrad-cpu** |")).toContain(
      "| 30.00 / 40.00 / 50.00 | 45.00–55.00 | ⚠ 44.5 points below PyTorch | 2.42 (2.4%) | 2500.0 (2.50×) | 0.70 |",
    );
    expect(line("| tfjs-cpu (best JS) |")).toContain("| ok |");
  });

  it("sums up each normgrad case against the best JS peer and PyTorch", () => {
    expect(line("| W1 matmul N=8 |")).toBe(
      "| W1 matmul N=8 | normgrad-cpu | 2.00 GFLOP/s | tfjs-cpu 0.50 | 4.00× | 6.00× | 50.00 | 0.040× |",
    );
    expect(line("| W4 MNIST MLP bs=128 3 ep |")).toBe(
      "| W4 MNIST MLP bs=128 3 ep | normgrad-cpu | 2000.0 samples/s | tfjs-cpu 1000.0 | 2.00× | 2.50× | 40000.0 | 0.050× |",
    );
  });

  it("names the hardware limits and every configuration with its load", () => {
    expect(report).toContain("AVX2 FMA peak 100.0 GFLOP/s with 1 thread, 200.0 with 2; memcpy 25.00 GB/s");
    expect(report).toContain(
      "- normgrad-cpu (W1, W4): normgrad CPU backend; measured 2026-11-25, load 0.50/0.40/0.30",
    );
    expect(report).toContain("- tfjs-cpu (W1, W4): tfjs, tfjsVersion=4.22.0, backend=cpu, threads=1;");
  });
});
