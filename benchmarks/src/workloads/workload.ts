// What every workload is: an id, a title, and a run on one backend configuration.

import type { BackendConfig } from "../backend-configs.ts";
import { loadAverage } from "../environment.ts";
import type { BenchResult, MicroResult, Stat, WorkloadId } from "../result-format.ts";
import { mapStat } from "../result-format.ts";
import type { CallTimes, TimingOptions } from "../timing.ts";

/** What a workload gets to run with. */
export interface WorkloadContext {
  backend: BackendConfig;
  timing: TimingOptions;
  /** Progress lines (the CLI prints them; tests drop them). */
  log: (line: string) => void;
}

/** A workload of WORKLOADS.md, ready to run on any backend configuration. */
export interface Workload {
  id: WorkloadId;
  title: string;
  run(context: WorkloadContext): Promise<BenchResult[]>;
}

/** The work of one call: floating-point operations (reported as GFLOP/s) or bytes moved (GB/s). */
export type WorkPerCall = { flops: number } | { bytes: number };

/** A micro-benchmark row from measured call times and the work one call does. */
export function microResult(
  context: WorkloadContext,
  workload: WorkloadId,
  caseName: string,
  times: CallTimes,
  work: WorkPerCall,
): MicroResult {
  // amount per millisecond / 1e6 = giga-amount per second.
  const perSecond = (amount: number): Stat => mapStat(times.ms, (ms) => amount / (ms * 1e6));
  const perCpuSecond = (amount: number): Stat => mapStat(times.cpuMs, (ms) => amount / (ms * 1e6));
  const rate = "flops" in work ? { gflops: perSecond(work.flops) } : { gbps: perSecond(work.bytes) };
  const cpuRate = "flops" in work ? { gflops: perCpuSecond(work.flops) } : { gbps: perCpuSecond(work.bytes) };
  return {
    config: context.backend.config,
    workload,
    case: caseName,
    ms: times.ms,
    ...rate,
    repsPerRun: times.repsPerRun,
    cpuTime: { ms: times.cpuMs, ...cpuRate },
    loadavg: loadAverage(),
  };
}
