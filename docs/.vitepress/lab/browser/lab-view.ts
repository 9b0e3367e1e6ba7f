// The BatchNorm lab's page: its controls (kept in the URL), the training worker, and the live plots.
import labData from "virtual:lab-mnist";
import type { FromWorker, ToWorker } from "../lab-protocol.ts";
import {
  BATCH_SIZES,
  HIDDEN_WIDTH,
  type LabSettings,
  LEARNING_RATES,
  labSettingsQuery,
  MAX_DEPTH,
  parseLabSettings,
  sameRun,
} from "../lab-settings.ts";
import {
  type ActivationHistogram,
  type EvaluationReport,
  LAB_VARIANTS,
  type LabVariant,
  type Moments,
  type StepReport,
} from "../lockstep-trainer.ts";
import { drawHistogram, drawLineChart, type LineSeries, type Point } from "./lab-charts.ts";

/** Each variant's colour in every plot. */
const COLORS: { readonly [Variant in LabVariant]: string } = {
  none: "#8c8c8c",
  "bn-relu": "#2f6fdb",
  "relu-bn": "#e07b24",
};

/** Weight of the past in the smoothed training curves (one batch's loss is noisy). */
const SMOOTHING = 0.9;

const NORM_SHORT: { readonly [Norm in LabSettings["norm"]]: string } = {
  batch: "BN",
  group: "GN",
  layer: "LN",
};
const ACTIVATION_SHORT: { readonly [Activation in LabSettings["activation"]]: string } = {
  relu: "ReLU",
  sigmoid: "sigmoid",
};

/** A variant's name under the current settings: `none`, `BN→ReLU`, `ReLU→BN` (or GN/LN, sigmoid). */
export function variantName(variant: LabVariant, settings: LabSettings): string {
  const norm = NORM_SHORT[settings.norm];
  const activation = ACTIVATION_SHORT[settings.activation];
  switch (variant) {
    case "none":
      return `no norm (Linear→${activation})`;
    case "bn-relu":
      return `${norm}→${activation}`;
    case "relu-bn":
      return `${activation}→${norm}`;
    default:
      return variant satisfies never;
  }
}

/** An element with attributes and children, the way the lab builds its DOM. */
function element<Tag extends keyof HTMLElementTagNameMap>(
  tag: Tag,
  attributes: Record<string, string> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[Tag] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

function select(name: string, options: readonly (readonly [string, string])[]): HTMLSelectElement {
  return element("select", { name }, ...options.map(([value, label]) => element("option", { value }, label)));
}

function slider(name: string, stops: number): HTMLInputElement {
  return element("input", { name, type: "range", min: "0", max: String(stops - 1), step: "1" });
}

function labelled(text: string, control: HTMLElement, output?: HTMLOutputElement): HTMLLabelElement {
  return element("label", {}, element("span", {}, text), control, ...(output === undefined ? [] : [output]));
}

/** The stop of `stops` nearest to `value` (a URL may name a rate between the slider's stops). */
function nearestStop(stops: readonly number[], value: number): number {
  let best = 0;
  for (let i = 1; i < stops.length; i++) {
    if (Math.abs(Math.log(stops[i] / value)) < Math.abs(Math.log(stops[best] / value))) best = i;
  }
  return best;
}

function formatMoments({ mean, variance }: Moments): string {
  return `mean ${mean.toFixed(3)}, variance ${variance.toFixed(3)}`;
}

/** What one run has reported so far, for the plots. */
interface RunHistory {
  trainLoss: Point[][];
  trainAccuracy: Point[][];
  testLoss: Point[][];
  testAccuracy: Point[][];
  smoothedLoss: (number | null)[];
  smoothedAccuracy: (number | null)[];
  initialLoss: (number | null)[];
  diverged: (string | null)[];
  /** The inspected channel: batch mean/variance and running mean/variance at each step. */
  channel: { step: number; batch: Moments; running: Moments | null }[];
  lastStep: StepReport | null;
  lastEvaluation: EvaluationReport | null;
}

function emptyHistory(): RunHistory {
  const perVariant = <T>(make: () => T) => LAB_VARIANTS.map(make);
  return {
    trainLoss: perVariant(() => []),
    trainAccuracy: perVariant(() => []),
    testLoss: perVariant(() => []),
    testAccuracy: perVariant(() => []),
    smoothedLoss: perVariant(() => null),
    smoothedAccuracy: perVariant(() => null),
    initialLoss: perVariant(() => null),
    diverged: perVariant(() => null),
    channel: [],
    lastStep: null,
    lastEvaluation: null,
  };
}

/**
 * Builds the lab inside `root` and starts training with the settings of the page's URL. Returns
 * the function that stops it (terminates the worker) when the page goes away.
 */
export function mountLab(root: HTMLElement): () => void {
  const parsed = parseLabSettings(location.search);
  let settings: LabSettings = parsed.settings;
  let history = emptyHistory();
  let run = 0;
  let paused = false;
  let finished = false;
  let frame = 0;
  /** Whether the histograms need rebuilding (they change only with an evaluation or the settings). */
  let histogramsStale = true;

  // ---- the DOM ----
  const pauseButton = element("button", { type: "button", "data-action": "pause" }, "Pause");
  const restartButton = element("button", { type: "button", "data-action": "restart" }, "Restart");
  const status = element("span", { "data-lab": "status" }, "loading the digits…");
  const speed = element("span", { "data-lab": "speed" });
  const backend = element("span", { "data-lab": "backend" });
  const problems = element("p", { class: "ng-lab-problems", "data-lab": "problems" });
  problems.hidden = parsed.problems.length === 0;
  problems.textContent = parsed.problems.join("; ");

  const norm = select("norm", [
    ["batch", "BatchNorm"],
    ["group", "GroupNorm (8 channels per group)"],
    ["layer", "LayerNorm"],
  ]);
  const activation = select("act", [
    ["relu", "ReLU"],
    ["sigmoid", "sigmoid"],
  ]);
  const depth = element("input", {
    name: "depth",
    type: "range",
    min: "1",
    max: String(MAX_DEPTH),
    step: "1",
  });
  const depthOutput = element("output");
  const batchSize = slider("batch", BATCH_SIZES.length);
  const batchOutput = element("output");
  const lr = slider("lr", LEARNING_RATES.length);
  const lrOutput = element("output");
  const seed = element("input", { name: "seed", type: "number", min: "0", step: "1" });
  const steps = element("input", { name: "steps", type: "number", min: "1", max: "20000", step: "100" });
  const backendChoice = select("backend", [
    ["auto", "auto: GPU.js on a hardware GPU"],
    ["cpu", "CPU (WebAssembly SIMD)"],
    ["gpu", "GPU.js"],
  ]);
  const mode = select("mode", [
    ["train", "training: batch statistics"],
    ["eval", "evaluation: running statistics"],
  ]);
  const inspect = select("inspect", []);
  const layer = select("layer", []);
  const channel = element("input", {
    name: "channel",
    type: "number",
    min: "0",
    max: String(HIDDEN_WIDTH - 1),
  });

  const lossCanvas = element("canvas", { class: "ng-lab-chart", "data-chart": "loss" });
  const accuracyCanvas = element("canvas", { class: "ng-lab-chart", "data-chart": "accuracy" });
  const legend = element("tbody");
  const histogramGrid = element("div", { class: "ng-lab-histograms", "data-lab": "histograms" });
  const normalizerReadout = element("p", { class: "ng-lab-readout", "data-stat": "normalizer" });
  const outputReadout = element("p", { class: "ng-lab-readout", "data-stat": "output" });
  const meanCanvas = element("canvas", { class: "ng-lab-chart ng-lab-small", "data-chart": "channel-mean" });
  const varianceCanvas = element("canvas", {
    class: "ng-lab-chart ng-lab-small",
    "data-chart": "channel-variance",
  });

  root.replaceChildren(
    element(
      "div",
      { class: "ng-lab" },
      element("div", { class: "ng-lab-bar" }, pauseButton, restartButton, status, speed, backend),
      problems,
      element(
        "fieldset",
        { class: "ng-lab-controls" },
        element("legend", {}, "Training run (a change restarts it from the seed)"),
        labelled("Normalization", norm),
        labelled("Activation", activation),
        labelled("Hidden layers", depth, depthOutput),
        labelled("Batch size", batchSize, batchOutput),
        labelled("Learning rate", lr, lrOutput),
        labelled("Seed", seed),
        labelled("Steps", steps),
        labelled("Backend", backendChoice),
      ),
      element("h3", {}, "Loss and accuracy"),
      element(
        "p",
        { class: "ng-lab-caption" },
        "Solid: training batches (smoothed). Dashed: the test digits in eval mode.",
      ),
      lossCanvas,
      accuracyCanvas,
      element(
        "table",
        { class: "ng-lab-legend" },
        element(
          "thead",
          {},
          element(
            "tr",
            {},
            ...["variant", "train loss", "test loss", "test accuracy", ""].map((text) =>
              element("th", {}, text),
            ),
          ),
        ),
        legend,
      ),
      element("h3", {}, "Statistics: training or evaluation"),
      element(
        "fieldset",
        { class: "ng-lab-controls" },
        element("legend", {}, "What the panels below show"),
        labelled("Show", mode),
        labelled("Variant", inspect),
        labelled("Hidden layer", layer),
        labelled("Channel", channel),
      ),
      element("h4", {}, "Running vs batch statistics of one channel"),
      element(
        "p",
        { class: "ng-lab-caption" },
        "The chosen channel of the normalization layer's input: thin, each training batch's mean and variance; " +
          "thick, the running estimates eval mode normalizes with (momentum 0.1, unbiased variance).",
      ),
      normalizerReadout,
      outputReadout,
      element("div", { class: "ng-lab-pair" }, meanCanvas, varianceCanvas),
      element("h4", {}, "Hidden activations"),
      element(
        "p",
        { class: "ng-lab-caption" },
        "Each hidden layer's activation outputs (rows) in each variant (columns): bars now, grey outline at step 0 " +
          "(bar heights are square roots of counts).",
      ),
      histogramGrid,
    ),
  );

  // ---- settings ⇄ controls ⇄ URL ----
  function showSettings(): void {
    norm.value = settings.norm;
    activation.value = settings.activation;
    depth.value = String(settings.depth);
    depthOutput.value = `${settings.depth} × ${HIDDEN_WIDTH}`;
    batchSize.value = String(nearestStop(BATCH_SIZES, settings.batchSize));
    batchOutput.value = String(settings.batchSize);
    lr.value = String(nearestStop(LEARNING_RATES, settings.lr));
    lrOutput.value = String(settings.lr);
    seed.value = String(settings.seed);
    steps.value = String(settings.steps);
    backendChoice.value = settings.backend;
    mode.value = settings.mode;
    inspect.replaceChildren(
      ...(["bn-relu", "relu-bn"] as const).map((variant) =>
        element("option", { value: variant }, variantName(variant, settings)),
      ),
    );
    inspect.value = settings.inspect;
    layer.replaceChildren(
      ...Array.from({ length: settings.depth }, (_, i) =>
        element("option", { value: String(i + 1) }, String(i + 1)),
      ),
    );
    layer.value = String(settings.layer);
    channel.value = String(settings.channel);
  }

  function writeUrl(): void {
    const query = labSettingsQuery(settings);
    globalThis.history.replaceState(
      globalThis.history.state,
      "",
      `${location.pathname}${query ? `?${query}` : ""}${location.hash}`,
    );
  }

  /** The settings the controls show now (a URL's off-stop rate is kept until its slider moves). */
  function readControls(changed: EventTarget | null): LabSettings {
    const query = new URLSearchParams(labSettingsQuery(settings));
    const set = (name: string, value: string) => query.set(name, value);
    set("norm", norm.value);
    set("act", activation.value);
    set("depth", depth.value);
    set("batch", String(BATCH_SIZES[Number(batchSize.value)]));
    if (changed === lr) set("lr", String(LEARNING_RATES[Number(lr.value)]));
    set("seed", seed.value);
    set("steps", steps.value);
    set("backend", backendChoice.value);
    set("mode", mode.value);
    set("inspect", inspect.value);
    set("layer", layer.value);
    set("channel", channel.value);
    const next = parseLabSettings(query.toString());
    problems.hidden = next.problems.length === 0;
    problems.textContent = next.problems.join("; ");
    return next.settings;
  }

  // ---- the worker ----
  const worker = new Worker(new URL("./lab-worker.ts", import.meta.url), { type: "module" });
  const send = (message: ToWorker) => worker.postMessage(message);

  function start(): void {
    run++;
    history = emptyHistory();
    histogramsStale = true;
    finished = false;
    paused = false;
    pauseButton.textContent = "Pause";
    status.textContent = "starting…";
    delete status.dataset.finished;
    delete status.dataset.failed;
    send({ kind: "start", run, settings, data: labData });
    redraw();
  }

  function onControlChange(event: Event): void {
    adopt(readControls(event.target));
    writeUrl();
  }

  /** Makes `next` the lab's settings: restarts training if the run changed, else re-points the statistics panel. */
  function adopt(next: LabSettings): void {
    const restart = !sameRun(next, settings);
    const inspectionChanged =
      next.inspect !== settings.inspect || next.layer !== settings.layer || next.channel !== settings.channel;
    settings = next;
    histogramsStale = true;
    showSettings();
    if (restart) {
      start();
      return;
    }
    if (inspectionChanged) {
      history.channel = [];
      send({
        kind: "inspect",
        run,
        inspection: { inspect: settings.inspect, layer: settings.layer, channel: settings.channel },
      });
    }
    redraw();
  }

  for (const control of [
    norm,
    activation,
    depth,
    batchSize,
    lr,
    seed,
    steps,
    backendChoice,
    mode,
    inspect,
    layer,
    channel,
  ]) {
    control.addEventListener("change", onControlChange);
  }
  for (const range of [depth, batchSize, lr]) {
    range.addEventListener("input", () => {
      depthOutput.value = `${depth.value} × ${HIDDEN_WIDTH}`;
      batchOutput.value = String(BATCH_SIZES[Number(batchSize.value)]);
      lrOutput.value = String(LEARNING_RATES[Number(lr.value)]);
    });
  }
  pauseButton.addEventListener("click", () => {
    if (finished) return;
    paused = !paused;
    pauseButton.textContent = paused ? "Resume" : "Pause";
    send({ kind: paused ? "pause" : "resume" });
  });
  restartButton.addEventListener("click", start);

  function onStep(report: StepReport, stepsPerSecond: number): void {
    report.metrics.forEach((metrics, index) => {
      if ("diverged" in metrics) {
        history.diverged[index] = metrics.diverged;
        return;
      }
      history.initialLoss[index] ??= metrics.loss;
      const loss = history.smoothedLoss[index];
      const accuracy = history.smoothedAccuracy[index];
      const smoothLoss = loss === null ? metrics.loss : SMOOTHING * loss + (1 - SMOOTHING) * metrics.loss;
      const smoothAccuracy =
        accuracy === null ? metrics.accuracy : SMOOTHING * accuracy + (1 - SMOOTHING) * metrics.accuracy;
      history.smoothedLoss[index] = smoothLoss;
      history.smoothedAccuracy[index] = smoothAccuracy;
      history.trainLoss[index].push([report.step, smoothLoss]);
      history.trainAccuracy[index].push([report.step, smoothAccuracy]);
    });
    if (report.channel !== null) history.channel.push({ step: report.step, ...report.channel });
    history.lastStep = report;
    status.textContent = `step ${report.step} / ${settings.steps} · epoch ${report.epoch}`;
    speed.textContent = `${stepsPerSecond.toFixed(1)} steps/s`;
    speed.dataset.value = String(stepsPerSecond);
    scheduleRedraw();
  }

  function onEvaluation(report: EvaluationReport): void {
    report.test.forEach((metrics, index) => {
      if (metrics === null) return;
      history.testLoss[index].push([report.step, metrics.loss]);
      history.testAccuracy[index].push([report.step, metrics.accuracy]);
    });
    history.lastEvaluation = report;
    histogramsStale = true;
    scheduleRedraw();
  }

  worker.addEventListener("message", (event: MessageEvent<FromWorker>) => {
    const message = event.data;
    if (message.run !== run) return;
    switch (message.kind) {
      case "started":
        backend.textContent = message.backend.label;
        backend.title = message.backend.reason;
        backend.dataset.device = message.backend.device;
        status.textContent = `training on ${message.trainDigits} digits, testing on ${message.testDigits}`;
        return;
      case "step":
        onStep(message.report, message.stepsPerSecond);
        return;
      case "evaluation":
        onEvaluation(message.report);
        return;
      case "finished":
        finished = true;
        status.textContent = `finished: ${message.steps} steps`;
        status.dataset.finished = "true";
        return;
      case "failed":
        status.textContent = `training failed: ${message.message}`;
        status.dataset.failed = "true";
        console.error(`BatchNorm lab: ${message.message}`);
        return;
      default:
        message satisfies never;
    }
  });
  worker.addEventListener("error", (event) => {
    status.textContent = `the training worker failed: ${event.message}`;
    console.error(`BatchNorm lab worker: ${event.message}`);
  });

  // ---- drawing ----
  function scheduleRedraw(): void {
    if (frame === 0) frame = requestAnimationFrame(redraw);
  }

  function redraw(): void {
    frame = 0;
    drawCurves();
    drawLegend();
    drawStatistics();
    if (histogramsStale) drawHistograms();
    histogramsStale = false;
  }

  /** The steps axis: up to the step reached, rounded up to a round number, so early curves are not squeezed left. */
  function stepsAxis(): number {
    const reached = Math.max(100, history.lastStep?.step ?? 0);
    const unit = 10 ** Math.floor(Math.log10(reached));
    return Math.min(settings.steps, Math.ceil(reached / (unit / 2)) * (unit / 2));
  }

  function drawCurves(): void {
    const xMax = stepsAxis();
    const lossCeiling = Math.max(2.5, ...history.initialLoss.map((loss) => (loss === null ? 0 : loss * 1.1)));
    const lines = (train: Point[][], test: Point[][]): LineSeries[] =>
      LAB_VARIANTS.flatMap((variant, index) => [
        { points: train[index], color: COLORS[variant] },
        { points: test[index], color: COLORS[variant], dash: [4, 3], width: 1.5 },
      ]);
    drawLineChart(lossCanvas, lines(history.trainLoss, history.testLoss), {
      xMax,
      yMin: 0,
      yMax: lossCeiling,
      format: (value) => value.toFixed(1),
    });
    drawLineChart(accuracyCanvas, lines(history.trainAccuracy, history.testAccuracy), {
      xMax,
      yMin: 0,
      yMax: 1,
      format: (value) => `${Math.round(value * 100)}%`,
    });
  }

  function drawLegend(): void {
    legend.replaceChildren(
      ...LAB_VARIANTS.map((variant, index) => {
        const test = history.testLoss[index].at(-1);
        const accuracy = history.testAccuracy[index].at(-1);
        const row = element(
          "tr",
          { "data-variant": variant },
          element(
            "td",
            {},
            element("span", { class: "ng-lab-swatch", style: `background:${COLORS[variant]}` }),
            variantName(variant, settings),
          ),
          element("td", {}, history.smoothedLoss[index]?.toFixed(3) ?? "–"),
          element("td", {}, test === undefined ? "–" : test[1].toFixed(3)),
          element("td", {}, accuracy === undefined ? "–" : `${(accuracy[1] * 100).toFixed(1)}%`),
          element("td", { class: "ng-lab-diverged" }, history.diverged[index] ?? ""),
        );
        const initial = history.initialLoss[index];
        const smoothed = history.smoothedLoss[index];
        if (initial !== null) row.dataset.initialLoss = String(initial);
        if (smoothed !== null) row.dataset.loss = String(smoothed);
        if (history.diverged[index] !== null) row.dataset.diverged = "true";
        return row;
      }),
    );
  }

  function drawStatistics(): void {
    const evaluation = history.lastEvaluation;
    const layerName = `${variantName(settings.inspect, settings)}, hidden layer ${settings.layer}, channel ${settings.channel}`;
    if (evaluation?.channel == null) {
      normalizerReadout.textContent = `${layerName}: waiting for the first evaluation…`;
      outputReadout.textContent = "";
    } else if (evaluation.channel.normalizer === null) {
      normalizerReadout.textContent =
        `${layerName}: ${NORM_SHORT[settings.norm]} normalizes each sample with its own statistics, ` +
        "so it has no running statistics and computes the same in training and evaluation.";
      outputReadout.textContent = `Its output on 256 test digits: ${formatMoments(evaluation.channel.output[settings.mode])}.`;
    } else {
      const source = settings.mode === "train" ? "the batch's own statistics" : "the running statistics";
      normalizerReadout.textContent =
        `${layerName} (${settings.mode} mode) normalizes with ${source}: ` +
        `${formatMoments(evaluation.channel.normalizer[settings.mode])}.`;
      outputReadout.textContent =
        settings.mode === "train"
          ? "On 256 test digits normalized with their own statistics, its output has " +
            `${formatMoments(evaluation.channel.output.train)}: exactly standardized, then scaled by γ and shifted by β.`
          : "On 256 test digits normalized with the running statistics, its output has " +
            `${formatMoments(evaluation.channel.output.eval)}: standardized only as far as the running ` +
            "statistics match these digits.";
    }
    normalizerReadout.dataset.mode = settings.mode;
    const points = history.channel;
    const line = (
      pick: (entry: RunHistory["channel"][number]) => number | undefined,
      width: number,
    ): LineSeries => ({
      points: points.flatMap((entry) => {
        const value = pick(entry);
        return value === undefined ? [] : [[entry.step, value] satisfies Point];
      }),
      color: COLORS[settings.inspect],
      width,
    });
    const range = (values: number[]) => {
      const finite = values.filter(Number.isFinite);
      if (finite.length === 0) return { yMin: 0, yMax: 1 };
      const low = Math.min(...finite);
      const high = Math.max(...finite);
      const pad = (high - low) * 0.1 || 0.1;
      return { yMin: low - pad, yMax: high + pad };
    };
    const xMax = stepsAxis();
    const means = [line((entry) => entry.batch.mean, 0.75), line((entry) => entry.running?.mean, 2.5)];
    const variances = [
      line((entry) => entry.batch.variance, 0.75),
      line((entry) => entry.running?.variance, 2.5),
    ];
    drawLineChart(meanCanvas, means, {
      xMax,
      ...range(means.flatMap((series) => series.points.map((point) => point[1]))),
      format: (value) => `μ ${value.toFixed(2)}`,
    });
    drawLineChart(varianceCanvas, variances, {
      xMax,
      ...range(variances.flatMap((series) => series.points.map((point) => point[1]))),
      format: (value) => `σ² ${value.toFixed(2)}`,
    });
  }

  function drawHistograms(): void {
    const evaluation = history.lastEvaluation;
    const histograms =
      evaluation === null
        ? null
        : settings.mode === "train"
          ? evaluation.trainHistograms
          : evaluation.evalHistograms;
    const cells: HTMLElement[] = LAB_VARIANTS.map((variant) =>
      element("div", { class: "ng-lab-head" }, variantName(variant, settings)),
    );
    const drawings: (() => void)[] = [];
    for (let block = 0; block < settings.depth; block++) {
      LAB_VARIANTS.forEach((variant, index) => {
        const histogram: ActivationHistogram | undefined = histograms?.[index]?.[block];
        const canvas = element("canvas", { class: "ng-lab-histogram" });
        const stuck = settings.activation === "sigmoid" ? "saturated" : "zero";
        const caption =
          histogram === undefined
            ? history.diverged[index] === null
              ? "waiting…"
              : "diverged"
            : `layer ${block + 1}: mean ${histogram.mean.toFixed(2)}, std ${histogram.std.toFixed(2)}, ${Math.round(100 * histogram.stuckFraction)}% ${stuck}`;
        cells.push(
          element(
            "figure",
            { "data-variant": variant, "data-layer": String(block + 1) },
            canvas,
            element("figcaption", {}, caption),
          ),
        );
        if (histogram !== undefined) drawings.push(() => drawHistogram(canvas, histogram, COLORS[variant]));
      });
    }
    histogramGrid.replaceChildren(...cells);
    for (const draw of drawings) draw();
  }

  showSettings();
  writeUrl();
  const onResize = () => {
    histogramsStale = true;
    scheduleRedraw();
  };
  addEventListener("resize", onResize);
  /**
   * A link to this page with other settings (the lessons below the lab) would only change the URL
   * under VitePress's router, which keeps the page mounted: take its settings here instead.
   */
  const onLinkClick = (event: MouseEvent) => {
    const link = event.target instanceof Element ? event.target.closest("a") : null;
    if (link === null || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey) return;
    const target = new URL(link.href, location.href);
    // `/lab` and `/lab.html` are the same page (VitePress's links carry the extension, clean URLs do not).
    const page = (url: URL | Location) => url.pathname.replace(/\.html$/, "");
    if (target.origin !== location.origin || page(target) !== page(location)) return;
    // Compared with the lab's own settings, not with the address bar: VitePress's router listens
    // on the same phase and may already have pushed the URL (leaving this page mounted).
    const next = parseLabSettings(target.search);
    if (JSON.stringify(next.settings) === JSON.stringify(settings)) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    if (location.href !== target.href)
      globalThis.history.pushState(globalThis.history.state, "", target.href);
    adoptParsed(next);
    root.scrollIntoView({ block: "start" });
  };
  /** Makes parsed settings the lab's, with the values the URL had refused named. */
  const adoptParsed = (next: ReturnType<typeof parseLabSettings>) => {
    problems.hidden = next.problems.length === 0;
    problems.textContent = next.problems.join("; ");
    adopt(next.settings);
  };
  /** The settings of the page's URL (after Back or Forward). */
  const adoptUrl = () => adoptParsed(parseLabSettings(location.search));
  addEventListener("click", onLinkClick, { capture: true });
  addEventListener("popstate", adoptUrl);
  start();
  return () => {
    removeEventListener("click", onLinkClick, { capture: true });
    removeEventListener("popstate", adoptUrl);
    removeEventListener("resize", onResize);
    cancelAnimationFrame(frame);
    worker.terminate();
  };
}
