// The BatchNorm lab's Web Worker: loads the bundled digits, picks the backend, and trains the three variants in lockstep, reporting as it goes.
import { canUseWasmGemm } from "@normgrad/core";
import { decodeMnistIdx } from "@normgrad/data";
import type { BackendInfo, FromWorker, LabDataUrls, ToWorker } from "../lab-protocol.ts";
import type { LabSettings } from "../lab-settings.ts";
import { type LabData, LockstepTrainer } from "../lockstep-trainer.ts";

/** How often (at most) the worker evaluates and sends histograms: often enough to look live, rarely enough to cost little. */
const EVALUATION_INTERVAL_MS = 500;

/** The newest run the page asked for; an older run's loop stops (and frees its networks) when it sees a newer one. */
let latestRun = -1;
/** The trainer of the run whose loop is going, for `inspect`. */
let current: { run: number; trainer: LockstepTrainer } | null = null;
let paused = false;
let wakeUp: (() => void) | null = null;
let dataPromise: Promise<LabData> | null = null;
/** The GPU.js backend, started at most once per worker (its kernels stay compiled across runs). */
let gpuPromise: Promise<BackendInfo> | null = null;

function post(message: FromWorker): void {
  postMessage(message);
}

async function fetchBytes(url: string): Promise<Uint8Array> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`could not load ${url}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

async function loadData(urls: LabDataUrls): Promise<LabData> {
  const [trainImages, trainLabels, testImages, testLabels] = await Promise.all(
    [urls.trainImages, urls.trainLabels, urls.testImages, urls.testLabels].map(fetchBytes),
  );
  const train = decodeMnistIdx(trainImages, trainLabels, {
    imagesFile: urls.trainImages,
    labelsFile: urls.trainLabels,
  });
  const test = decodeMnistIdx(testImages, testLabels, {
    imagesFile: urls.testImages,
    labelsFile: urls.testLabels,
  });
  return {
    trainImages: train.images,
    trainLabels: train.labels,
    testImages: test.images,
    testLabels: test.labels,
  };
}

function cpuBackend(reason: string): BackendInfo {
  // The gemm's wasm SIMD path exists wherever the browser validates SIMD modules (every current one).
  const simd = canUseWasmGemm(64, 784, 256);
  return { device: "cpu", label: `CPU · ${simd ? "WebAssembly SIMD" : "JavaScript"}`, reason };
}

/**
 * The renderer of a hardware GPU this worker could reach, or why there is none: WebGPU with a
 * non-fallback adapter, else WebGL2 on an OffscreenCanvas whose renderer is not a software
 * rasterizer (SwiftShader, llvmpipe), which would be slower than the CPU backend.
 */
async function hardwareGpu(): Promise<{ found: boolean; detail: string }> {
  if ("gpu" in navigator && navigator.gpu !== undefined) {
    const adapter = await navigator.gpu.requestAdapter().catch(() => null);
    if (adapter !== null && !adapter.info.isFallbackAdapter) {
      return { found: true, detail: `WebGPU (${adapter.info.vendor || "adapter"})` };
    }
  }
  if (typeof OffscreenCanvas === "undefined")
    return { found: false, detail: "no OffscreenCanvas in workers" };
  const gl = new OffscreenCanvas(1, 1).getContext("webgl2");
  if (gl === null) return { found: false, detail: "no WebGL2 (GPU disabled or absent)" };
  const debug = gl.getExtension("WEBGL_debug_renderer_info");
  const renderer = String(gl.getParameter(debug === null ? gl.RENDERER : debug.UNMASKED_RENDERER_WEBGL));
  return /swiftshader|llvmpipe|software|basic render/i.test(renderer)
    ? { found: false, detail: `WebGL2 is software-rendered (${renderer})` }
    : { found: true, detail: `WebGL2 on ${renderer}` };
}

async function startGpu(reason: string): Promise<BackendInfo> {
  gpuPromise ??= import("@normgrad/gpu").then(async ({ initGpu }) => {
    const { mode } = await initGpu({ mode: "auto" });
    return { device: "gpu", label: `GPU.js · ${mode}`, reason };
  });
  return gpuPromise;
}

/** The backend `wanted` names; `auto` takes GPU.js only where a hardware GPU renders. */
async function chooseBackend(wanted: LabSettings["backend"]): Promise<BackendInfo> {
  switch (wanted) {
    case "cpu":
      return cpuBackend("chosen in the settings");
    case "gpu":
      return startGpu("chosen in the settings");
    case "auto": {
      const gpu = await hardwareGpu();
      if (!gpu.found) return cpuBackend(`auto: ${gpu.detail}`);
      try {
        return await startGpu(`auto: ${gpu.detail}`);
      } catch (error) {
        gpuPromise = null;
        return cpuBackend(`auto: GPU.js could not start (${error instanceof Error ? error.message : error})`);
      }
    }
    default:
      return wanted satisfies never;
  }
}

/** Lets queued messages (pause, a new start) in between steps. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

async function train(run: number, settings: LabSettings, urls: LabDataUrls): Promise<void> {
  dataPromise ??= loadData(urls);
  const data = await dataPromise;
  const backend = await chooseBackend(settings.backend);
  if (run !== latestRun) return;
  const trainer = new LockstepTrainer(data, settings, backend.device);
  current = { run, trainer };
  post({
    kind: "started",
    run,
    backend,
    trainDigits: data.trainLabels.length,
    testDigits: data.testLabels.length,
  });
  const stepTimes: number[] = [];
  let lastEvaluation = Number.NEGATIVE_INFINITY;
  while (run === latestRun && trainer.step < settings.steps) {
    if (paused) {
      await new Promise<void>((resolve) => {
        wakeUp = resolve;
      });
      continue;
    }
    const evaluate =
      performance.now() - lastEvaluation >= EVALUATION_INTERVAL_MS || trainer.step + 1 === settings.steps;
    const report = await trainer.trainStep(evaluate);
    const now = performance.now();
    stepTimes.push(now);
    while (stepTimes.length > 1 && now - stepTimes[0] > 2000) stepTimes.shift();
    const stepsPerSecond = stepTimes.length > 1 ? ((stepTimes.length - 1) * 1000) / (now - stepTimes[0]) : 0;
    post({ kind: "step", run, report, stepsPerSecond });
    if (evaluate) {
      post({ kind: "evaluation", run, report: await trainer.evaluate() });
      lastEvaluation = performance.now();
    }
    await nextTurn();
  }
  if (run === latestRun) post({ kind: "finished", run, steps: trainer.step });
  trainer.dispose();
}

addEventListener("message", (event: MessageEvent<ToWorker>) => {
  const message = event.data;
  switch (message.kind) {
    case "start":
      latestRun = message.run;
      paused = false;
      wakeUp?.();
      train(message.run, message.settings, message.data).catch((error: unknown) => {
        post({
          kind: "failed",
          run: message.run,
          message: error instanceof Error ? error.message : String(error),
        });
      });
      return;
    case "pause":
      paused = true;
      return;
    case "resume":
      paused = false;
      wakeUp?.();
      return;
    case "inspect":
      if (current?.run === message.run) current.trainer.inspect(message.inspection);
      return;
    default:
      message satisfies never;
  }
});
