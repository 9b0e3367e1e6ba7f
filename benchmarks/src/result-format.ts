// The JSON result format shared with the peers' result files (../peers), and the summary statistic.

/** A summary over repeated measurements: the median, the extremes and how many values. */
export interface Stat {
  median: number;
  min: number;
  max: number;
  n: number;
}

/** The workloads of WORKLOADS.md (W1js and W4nobn appear only in peers' files). */
export type WorkloadId = "W1" | "W2" | "W3" | "W4" | "W5";

/** A micro-benchmark row (W1–W3): time per call and its derived rate. */
export interface MicroResult {
  config: string;
  workload: string;
  case: string;
  ms: Stat;
  /** W1: 2N³ / t. */
  gflops?: Stat;
  /** W2/W3: 4 · numel · 4 bytes / t. */
  gbps?: Stat;
  repsPerRun: number[];
  /** normgrad only: the same runs timed by CPU time (see `CallTimes.cpuMs`) and the rate from it. */
  cpuTime?: { ms: Stat; gflops?: Stat; gbps?: Stat };
  note?: string;
  /** `os.loadavg()` when the case finished. */
  loadavg: number[];
}

/** One training run of W4/W5. */
export interface TrainingRun {
  seed: number;
  samplesPerSec: number;
  /** Throughput over 3 contiguous thirds of the timed steps. */
  segmentSamplesPerSec: number[];
  /** The timed steps' samples over the CPU time (user + system) they took. */
  cpuSamplesPerSec: number;
  /** Test accuracy (0–1) after each epoch. */
  testAcc: number[];
  /** Mean training loss of each epoch. */
  trainLoss: number[];
  /** Wall time of each epoch's training steps (evaluation excluded). */
  epochMs: number[];
  steps: number;
  timedSteps: number;
}

/** A training row (W4/W5): throughput after the first `skipSteps` steps, and accuracy per epoch. */
export interface TrainingResult {
  config: string;
  workload: string;
  case: string;
  samplesPerSec: Stat;
  /** normgrad only: throughput by CPU time over the runs. */
  cpuSamplesPerSec?: Stat;
  /** "3 runs" or "1 run(s) x 3 segments": what the spread of `samplesPerSec` is over. */
  statBasis: string;
  skipSteps: number;
  optimizer?: string;
  model?: string;
  finalTestAcc: Stat;
  testAccPerEpochMedian: number[];
  nTrain: number;
  nTest: number;
  runs: TrainingRun[];
  note?: string;
  loadavg: number[];
}

/** Any row of a result file. */
export type BenchResult = MicroResult | TrainingResult;

/** Where and when a result file was measured. */
export interface Environment {
  date: string;
  node?: string;
  cpu: string;
  ncpu: number;
  loadavg: number[];
  loadavgEnd?: number[];
}

/** A whole result file: one configuration (a peer, or a normgrad backend/mode) and its rows. */
export interface ResultFile {
  config: string;
  /** One line on the configuration (normgrad's files; the report derives one for the peers'). */
  description?: string;
  /** Threads the configuration computes with (peers' files carry it; normgrad's CPU backend uses 1). */
  threads?: number;
  env: Environment;
  wallSec?: number;
  results: BenchResult[];
}

/** The summary of a list of measurements. Throws on an empty list: a statistic of nothing is a bug. */
export function summarize(values: readonly number[]): Stat {
  if (values.length === 0) throw new RangeError("summarize needs at least one value");
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
  return { median, min: sorted[0], max: sorted[sorted.length - 1], n: sorted.length };
}

/** Applies `f` to a statistic of times to get one of rates; a decreasing `f` swaps min and max. */
export function mapStat(stat: Stat, f: (value: number) => number): Stat {
  const [a, b] = [f(stat.min), f(stat.max)];
  return { median: f(stat.median), min: Math.min(a, b), max: Math.max(a, b), n: stat.n };
}

/** True for a training row (it has a throughput), false for a micro-benchmark row. */
export function isTrainingResult(result: BenchResult): result is TrainingResult {
  return "samplesPerSec" in result;
}
