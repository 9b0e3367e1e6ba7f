// `pnpm --filter @normgrad/benchmarks profile [--workload W4|W5] [--steps 40]`: where a training step's time goes.
import { type PerformanceEntry, PerformanceObserver, performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { CpuBackend, Generator, registerBackend, type Tensor } from "@normgrad/core";
import { DataLoader } from "@normgrad/data";
import { BACKEND_CONFIGS } from "./backend-configs.ts";
import { loadAverage } from "./environment.ts";
import { type KernelCategory, type KernelTally, profileBackend } from "./profiling-backend.ts";
import { cpuTimeMs } from "./timing.ts";
import { MNIST_CNN, MNIST_MLP } from "./workloads/mnist-models.ts";
import { createTrainer, mnist, type StepPhase, trainingStep } from "./workloads/training.ts";

const { values } = parseArgs({
  options: {
    workload: { type: "string", default: "W4" },
    steps: { type: "string", default: "40" },
    warmup: { type: "string", default: "10" },
  },
});
if (values.workload !== "W4" && values.workload !== "W5") {
  throw new Error(`--workload must be W4 or W5, got "${values.workload}"`);
}
const spec = values.workload === "W4" ? MNIST_MLP : MNIST_CNN;
function count(value: string, option: string, min: number): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < min) {
    throw new Error(`--${option} must be an integer of at least ${min}, got "${value}"`);
  }
  return parsed;
}
const steps = count(values.steps, "steps", 1);
const warmup = count(values.warmup, "warmup", 0);

// Every tensor from here on lives on the wrapped CPU backend.
const profiler = profileBackend(new CpuBackend());
registerBackend(profiler.backend);
const cpu = BACKEND_CONFIGS.find((config) => config.name === "cpu")!;
await cpu.prepare(); // one thread: the profile attributes time to kernels on the calling thread

const gcPauses: PerformanceEntry[] = [];
const gcObserver = new PerformanceObserver((list) => gcPauses.push(...list.getEntries()));
gcObserver.observe({ entryTypes: ["gc"] });

const { train } = mnist();
const trainer = createTrainer(spec, cpu, 1);
const loader = new DataLoader(train, {
  batchSize: spec.batchSize,
  shuffle: true,
  generator: new Generator(1),
});
let batches = loader[Symbol.iterator]();

type Phase = StepPhase | "step";
const phaseMs = new Map<StepPhase, number>();
const phaseIntervals: { phase: StepPhase; start: number; end: number }[] = [];
let profiling = false;
let current: { phase: StepPhase; start: number } | null = null;

function mark(phase: StepPhase | null): void {
  const now = performance.now();
  if (current !== null && profiling) {
    phaseMs.set(current.phase, (phaseMs.get(current.phase) ?? 0) + now - current.start);
    phaseIntervals.push({ phase: current.phase, start: current.start, end: now });
  }
  current = phase === null ? null : { phase, start: now };
  if (phase !== null) profiler.setPhase(phase);
}

/** The next batch, starting a new epoch when one ends. */
function nextBatch(): Tensor[] {
  let next = batches.next();
  if (next.done === true) {
    batches = loader[Symbol.iterator]();
    next = batches.next();
  }
  if (next.done === true) throw new Error("the training set is empty");
  return next.value;
}

async function step(): Promise<void> {
  mark("batch");
  const [images, labels] = nextBatch();
  const loss = trainingStep(trainer, images, labels, mark);
  mark("loss read");
  await loss.data();
  mark(null);
  for (const t of [loss, images, labels]) t.dispose();
}

for (let i = 0; i < warmup; i++) await step();
profiler.reset();
gcPauses.length = 0;
profiling = true;
const start = performance.now();
const cpuStart = cpuTimeMs();
for (let i = 0; i < steps; i++) await step();
const totalMs = performance.now() - start;
const totalCpuMs = cpuTimeMs() - cpuStart;
profiling = false;
// GC entries are delivered on a later turn of the event loop.
await new Promise((resolve) => setTimeout(resolve, 200));
gcObserver.disconnect();

const tallies = profiler.tallies();
const perStep = (ms: number): string => (ms / steps).toFixed(2);
const share = (ms: number): string => `${((100 * ms) / totalMs).toFixed(1)}%`;
const mb = (bytes: number): string => (bytes / steps / 2 ** 20).toFixed(2);
const sum = (items: readonly KernelTally[], key: "ms" | "bytes"): number =>
  items.reduce((a, t) => a + t[key], 0);
const gcIn = (phase: Phase): number =>
  gcPauses
    .filter((entry) =>
      phaseIntervals.some(
        (interval) =>
          (phase === "step" || interval.phase === phase) &&
          entry.startTime >= interval.start &&
          entry.startTime < interval.end,
      ),
    )
    .reduce((a, entry) => a + entry.duration, 0);
const kernelMs = sum(tallies, "ms");

console.log(`## ${spec.workload} ${spec.caseName}: ${steps} steps after ${warmup} warm-up, normgrad-cpu\n`);
console.log(
  `${perStep(totalMs)} ms per step wall clock (${((spec.batchSize * steps * 1000) / totalMs).toFixed(0)} samples/s), ` +
    `${perStep(totalCpuMs)} ms CPU time, load average ${loadAverage().join(" / ")}. Shares are of the wall clock.\n`,
);
console.log("| phase | ms/step | share | kernels ms/step | rest (frontend) ms/step | GC ms/step |");
console.log("|---|---|---|---|---|---|");
for (const [phase, ms] of phaseMs) {
  const kernels = sum(
    tallies.filter((t) => t.phase === phase),
    "ms",
  );
  console.log(
    `| ${phase} | ${perStep(ms)} | ${share(ms)} | ${perStep(kernels)} | ${perStep(ms - kernels)} | ${perStep(gcIn(phase))} |`,
  );
}

const categories = new Map<KernelCategory, KernelTally[]>();
for (const tally of tallies)
  categories.set(tally.category, [...(categories.get(tally.category) ?? []), tally]);
console.log("\n| where | ms/step | share of step | MB allocated/step |");
console.log("|---|---|---|---|");
for (const [category, items] of [...categories].sort((a, b) => sum(b[1], "ms") - sum(a[1], "ms"))) {
  console.log(
    `| ${category} | ${perStep(sum(items, "ms"))} | ${share(sum(items, "ms"))} | ${mb(sum(items, "bytes"))} |`,
  );
}
const frontendMs = totalMs - kernelMs;
console.log(
  `| frontend: autograd, views, tensor objects, optimizer loop (step − kernels) | ${perStep(frontendMs)} | ${share(frontendMs)} | |`,
);
console.log(
  `| GC pauses (${gcPauses.length}, inside the rows above) | ${perStep(gcIn("step"))} | ${share(gcIn("step"))} | |`,
);

console.log("\n| phase | kernel | calls/step | ms/step | share of step | MB/step |");
console.log("|---|---|---|---|---|---|");
for (const tally of [...tallies].sort((a, b) => b.ms - a.ms).slice(0, 15)) {
  console.log(
    `| ${tally.phase} | ${tally.kernel} | ${(tally.calls / steps).toFixed(1)} | ${perStep(tally.ms)} | ${share(tally.ms)} | ${mb(tally.bytes)} |`,
  );
}
