// The machine a result was measured on, recorded the way the peers recorded theirs.
import os from "node:os";
import type { Environment } from "./result-format.ts";

/** `os.loadavg()` rounded to two decimals (1, 5 and 15-minute averages). */
export function loadAverage(): number[] {
  return os.loadavg().map((value) => Math.round(value * 100) / 100);
}

/** Date, node version, CPU model and count, and the load average at the start. */
export function describeEnvironment(): Environment {
  const cpus = os.cpus();
  return {
    date: new Date().toISOString(),
    node: process.version,
    cpu: cpus[0]?.model.trim() ?? "unknown",
    ncpu: cpus.length,
    loadavg: loadAverage(),
  };
}
