// The micro-benchmark timer: warm-up, then runs whose value is the median call time (WORKLOADS.md).
import { performance } from "node:perf_hooks";
import { type Stat, summarize } from "./result-format.ts";

/** How `timeCalls` spends its time. `PEER_TIMING` is the method the peers were measured with. */
export interface TimingOptions {
  /** Runs per case; the reported value is the median of the run medians. */
  runs: number;
  /** Each run makes as many calls as fit in about this long… */
  targetRunMs: number;
  /** …but at least this many… */
  minCalls: number;
  /** …and at most this many. */
  maxCalls: number;
  /** Warm-up lasts at least this long and `minWarmupCalls` calls. */
  warmupMs: number;
  minWarmupCalls: number;
  /** A call slower than this gets 1 warm-up and `slowCallsPerRun` calls per run. */
  slowCallMs: number;
  slowCallsPerRun: number;
}

/** WORKLOADS.md: 3 runs of ≥5 calls filling 300–500 ms; calls over 0.4 s get 1 warm-up and 2 calls per run. */
export const PEER_TIMING: TimingOptions = {
  runs: 3,
  targetRunMs: 400,
  minCalls: 5,
  maxCalls: 1000,
  warmupMs: 200,
  minWarmupCalls: 3,
  slowCallMs: 400,
  slowCallsPerRun: 2,
};

/** What `timeCalls` measured. */
export interface CallTimes {
  /** Median over runs of each run's median call time, with the min–max over runs. */
  ms: Stat;
  /**
   * The same runs timed by the process's CPU time (user + system, all threads) per call: close to
   * the idle-machine wall time when other processes compete for the cores.
   */
  cpuMs: Stat;
  repsPerRun: number[];
}

/** CPU time (user + system) this process has used, in ms. */
export function cpuTimeMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/** One call to time; an asynchronous call is awaited (backends that compute asynchronously settle in it). */
export type TimedCall = () => void | Promise<void>;

async function timeOne(call: TimedCall): Promise<number> {
  const start = performance.now();
  const pending = call();
  if (pending !== undefined) await pending;
  return performance.now() - start;
}

/**
 * Times `call` the peers' way: warm up (until `warmupMs` and `minWarmupCalls` have passed),
 * then `runs` runs; a run's value is the median of its calls, and the result is the median of
 * the runs with their min and max.
 */
export async function timeCalls(call: TimedCall, options: TimingOptions = PEER_TIMING): Promise<CallTimes> {
  const warmup = [await timeOne(call)];
  let callsPerRun: number;
  if (warmup[0] > options.slowCallMs) {
    callsPerRun = options.slowCallsPerRun;
  } else {
    let spent = warmup[0];
    while (warmup.length < options.minWarmupCalls || spent < options.warmupMs) {
      const ms = await timeOne(call);
      warmup.push(ms);
      spent += ms;
    }
    const typical = Math.max(summarize(warmup.slice(-options.minWarmupCalls)).median, 1e-6);
    callsPerRun = Math.min(
      options.maxCalls,
      Math.max(options.minCalls, Math.round(options.targetRunMs / typical)),
    );
  }
  const runMedians: number[] = [];
  const runCpuMeans: number[] = [];
  const repsPerRun: number[] = [];
  for (let run = 0; run < options.runs; run++) {
    const times: number[] = [];
    const cpuStart = cpuTimeMs();
    for (let i = 0; i < callsPerRun; i++) times.push(await timeOne(call));
    runCpuMeans.push((cpuTimeMs() - cpuStart) / callsPerRun);
    runMedians.push(summarize(times).median);
    repsPerRun.push(callsPerRun);
  }
  return { ms: summarize(runMedians), cpuMs: summarize(runCpuMeans), repsPerRun };
}
