// Runs workloads on backend configurations and assembles one result file per configuration.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";
import type { BackendConfig } from "./backend-configs.ts";
import { describeEnvironment, loadAverage } from "./environment.ts";
import type { BenchResult, ResultFile } from "./result-format.ts";
import { PEER_TIMING, type TimingOptions } from "./timing.ts";
import type { Workload } from "./workloads/workload.ts";

/** What to run and how. */
export interface RunOptions {
  workloads: readonly Workload[];
  backends: readonly BackendConfig[];
  /** Default: the peers' method (`PEER_TIMING`). */
  timing?: TimingOptions;
  /** Progress lines; default silent. */
  log?: (line: string) => void;
}

/** A configuration that could not run, and why. */
export interface SkippedConfig {
  config: string;
  reason: string;
}

/** What a run produced. */
export interface RunOutcome {
  files: ResultFile[];
  skipped: SkippedConfig[];
}

/**
 * Runs every workload on every configuration that can start here. A configuration whose device
 * cannot start is skipped with its reason (printed by the CLI), never failed.
 */
export async function runBenchmarks(options: RunOptions): Promise<RunOutcome> {
  const log = options.log ?? (() => {});
  const timing = options.timing ?? PEER_TIMING;
  const files: ResultFile[] = [];
  const skipped: SkippedConfig[] = [];
  for (const backend of options.backends) {
    const reason = await backend.prepare();
    if (reason !== null) {
      skipped.push({ config: backend.config, reason });
      continue;
    }
    log(`== ${backend.config}: ${backend.description}`);
    const env = describeEnvironment();
    const start = performance.now();
    const results: BenchResult[] = [];
    for (const workload of options.workloads) {
      results.push(...(await workload.run({ backend, timing, log })));
    }
    files.push({
      config: backend.config,
      description: backend.description,
      threads: backend.threads,
      env: { ...env, loadavgEnd: loadAverage() },
      wallSec: (performance.now() - start) / 1000,
      results,
    });
  }
  return { files, skipped };
}

/** Writes each result file as `<directory>/<config>.json` and returns the paths. */
export function writeResultFiles(files: readonly ResultFile[], directory: string): string[] {
  mkdirSync(directory, { recursive: true });
  return files.map((file) => {
    const target = path.join(directory, `${file.config}.json`);
    writeFileSync(target, `${JSON.stringify(file, null, 1)}\n`);
    return target;
  });
}
