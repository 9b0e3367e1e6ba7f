// The consumer test's browser page (bundled by esbuild): trains on the CPU backend, then on GPU.js, and shows both.
import {
  BatchNorm1d,
  CrossEntropyLoss,
  canUseWasmGemm,
  DataLoader,
  fit,
  fromBytes,
  Generator,
  getNumThreads,
  getThreadsUnavailableReason,
  Linear,
  manualSeed,
  noGrad,
  ReLU,
  randn,
  Sequential,
  SGD,
  TensorDataset,
  tensor,
  toBytes,
} from "normgrad";
import { initGpu } from "normgrad/gpu";

const CLASSES = 3;
const PER_CLASS = 128;

/** Three Gaussian blobs in 16 dimensions, one per class. */
function blobs() {
  const generator = new Generator(7);
  const centres = randn([CLASSES, 16], { generator }).mul(0.6);
  const noise = randn([CLASSES * PER_CLASS, 16], { generator });
  const labels = tensor(
    Array.from({ length: CLASSES * PER_CLASS }, (_, i) => i % CLASSES),
    { dtype: "int32" },
  );
  const inputs = noise.add(centres.indexSelect(0, labels));
  return { inputs, labels };
}

async function train(device) {
  manualSeed(0);
  const { inputs, labels } = blobs();
  const model = new Sequential(
    new Linear(16, 64),
    new BatchNorm1d(64),
    new ReLU(),
    new Linear(64, CLASSES),
  ).to(device);
  const loader = new DataLoader(new TensorDataset(inputs, labels), { batchSize: 32, shuffle: true, device });
  const history = await fit(model, {
    train: loader,
    optimizer: new SGD(model.parameters(), { lr: 0.05, momentum: 0.9 }),
    lossFn: new CrossEntropyLoss(),
    epochs: 4,
    progress: false,
  });
  model.eval();
  const x = inputs.to(device);
  const logits = noGrad(() => model.forward(x));
  // Weights survive a safetensors round trip in the browser (no file system involved).
  const restored = fromBytes(toBytes(model.to("cpu")));
  return {
    firstLoss: history[0].trainLoss,
    lastLoss: history.at(-1).trainLoss,
    accuracy: history.at(-1).trainAccuracy,
    logitsShape: logits.shape.join("×"),
    savedTensors: restored.size,
  };
}

function show(row) {
  const tr = document.createElement("tr");
  tr.dataset.backend = row.backend;
  for (const value of [
    row.backend,
    row.mode,
    row.firstLoss.toFixed(4),
    row.lastLoss.toFixed(4),
    `${(100 * row.accuracy).toFixed(1)}%`,
  ]) {
    const td = document.createElement("td");
    td.textContent = value;
    tr.append(td);
  }
  document.querySelector("#runs").append(tr);
}

async function main() {
  const results = [];
  const cpuMode = canUseWasmGemm(32, 16, 64) ? "wasm-simd gemm" : "js gemm";
  // A page's main thread without cross-origin isolation: the CPU backend falls back to one thread.
  const threads = { count: getNumThreads(), unavailable: getThreadsUnavailableReason() };
  const cpu = { backend: "cpu", mode: cpuMode, threads, ...(await train("cpu")) };
  show(cpu);
  results.push(cpu);
  const { mode } = await initGpu({ mode: "auto" });
  const gpu = { backend: "gpu", mode, ...(await train("gpu")) };
  show(gpu);
  results.push(gpu);
  document.querySelector("#status").textContent = "done";
  return results;
}

window.normgradResults = main().catch((error) => {
  document.querySelector("#status").textContent = `failed: ${error.stack ?? error}`;
  throw error;
});
