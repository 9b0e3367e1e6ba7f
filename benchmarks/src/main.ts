// `pnpm bench [--workload W2] [--backend cpu] [--mlp-runs 3] [--cnn-runs 1] [--out DIR]`: W1–W5 on every configuration.
import path from "node:path";
import { parseArgs } from "node:util";
import { BACKEND_CONFIGS, isBackendName } from "./backend-configs.ts";
import { runBenchmarks, writeResultFiles } from "./run-benchmarks.ts";
import { defaultWorkloads, isWorkloadId } from "./workloads/index.ts";

const packageRoot = path.resolve(import.meta.dirname, "..");

function listOption(values: readonly string[] | undefined): string[] {
  return (values ?? []).flatMap((value) => value.split(",")).filter((value) => value !== "");
}

const { values } = parseArgs({
  options: {
    workload: { type: "string", multiple: true },
    backend: { type: "string", multiple: true },
    "mlp-runs": { type: "string", default: "3" },
    "cnn-runs": { type: "string", default: "1" },
    out: { type: "string" },
  },
});

function runCount(value: string, option: string): number {
  const count = Number(value);
  if (!Number.isInteger(count) || count < 1)
    throw new Error(`--${option} must be a positive integer, got "${value}"`);
  return count;
}

const workloadIds = listOption(values.workload);
const backendNames = listOption(values.backend);
for (const id of workloadIds) {
  if (!isWorkloadId(id)) throw new Error(`unknown workload "${id}": use W1, W2, W3, W4 or W5`);
}
for (const name of backendNames) {
  if (!isBackendName(name)) {
    throw new Error(`unknown backend "${name}": use ${BACKEND_CONFIGS.map((c) => c.name).join(", ")}`);
  }
}
const workloads = defaultWorkloads({
  mlpRuns: runCount(values["mlp-runs"], "mlp-runs"),
  cnnRuns: runCount(values["cnn-runs"], "cnn-runs"),
}).filter((w) => workloadIds.length === 0 || workloadIds.includes(w.id));
const backends = BACKEND_CONFIGS.filter((b) => backendNames.length === 0 || backendNames.includes(b.name));

// A partial run goes to the git-ignored scratch folder so it never replaces a full committed result.
const outDirectory = path.resolve(
  values.out ?? path.join(packageRoot, workloadIds.length === 0 ? "results" : "results/local"),
);
const outcome = await runBenchmarks({ workloads, backends, log: (line) => console.log(line) });
for (const written of writeResultFiles(outcome.files, outDirectory)) console.log(`wrote ${written}`);
for (const { config, reason } of outcome.skipped) console.log(`skipped ${config}: ${reason}`);
