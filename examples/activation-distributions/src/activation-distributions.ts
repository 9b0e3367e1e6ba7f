// The activation-distributions study: per-layer activations of a deep sigmoid/ReLU MLP with and without BatchNorm.
import { mkdirSync, writeFileSync } from "node:fs";
import { basename, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { Generator, manualSeed, noGrad, type Tensor, tidy } from "@normgrad/core";
import { DataLoader, type Dataset, loadMnist, MNIST_MEAN, MNIST_STD, normalize } from "@normgrad/data";
import { CrossEntropyLoss, type Sequential } from "@normgrad/nn";
import { SGD } from "@normgrad/optim";
import {
  type DataRow,
  histogram,
  histogramGrid,
  lineChart,
  markdownTable,
  renderChart,
} from "@normgrad/plot";
import { SingleBar } from "cli-progress";
import { type Activation, buildMlp, probeActivations, type WeightInit } from "./build-mlp.ts";
import { type LayerStats, layerStats, SIGMOID_SATURATION } from "./layer-stats.ts";

/** Options of {@link main}; every field has a default, and `smoke` shrinks them for CI. */
export interface ActivationOptions {
  /** Results folder. Default `examples/activation-distributions/results`. */
  out?: string;
  /** Seed of the weights, the batch order and the probe digits. Default 0. */
  seed?: number;
  /** SGD steps per model. Default 300 (3 in smoke mode). */
  steps?: number;
  /** Default 64 (16 in smoke mode). */
  batchSize?: number;
  /** SGD learning rate (momentum 0.9). Default 0.1. */
  lr?: number;
  /** Test digits whose activations are histogrammed. Default 1000 (64 in smoke mode). */
  probeSize?: number;
  /** Test digits the accuracy is measured on. Default all 2004 (256 in smoke mode). */
  testSize?: number;
  /** Which networks to study. Default both. */
  activations?: readonly Activation[];
  /**
   * Hidden weight initialization per activation. Default: `normal` (N(0, 1)) for sigmoid, which
   * saturates it, and `default` (PyTorch's) for ReLU, under which its signal vanishes.
   */
  weightInit?: Partial<Record<Activation, WeightInit>>;
  /** Tiny run for tests. Default false. */
  smoke?: boolean;
  /** No progress bar and no printing. Default false. */
  quiet?: boolean;
}

/** The per-layer summaries of one model at one moment. */
export type Phase = "init" | "trained";

/** One trained model: its configuration, how training went, and its layers before and after. */
export interface VariantResult {
  activation: Activation;
  batchNorm: boolean;
  weightInit: WeightInit;
  /** Training loss at every step (stops early if the loss stopped being finite). */
  losses: number[];
  /** The step whose loss was not finite, or null. */
  divergedAtStep: number | null;
  /** Accuracy on `testSize` test digits, eval mode. */
  testAccuracy: number;
  layers: Record<Phase, LayerStats[]>;
}

/** What {@link main} computed and wrote. */
export interface ActivationResults {
  config: {
    seed: number;
    steps: number;
    batchSize: number;
    lr: number;
    momentum: number;
    probeSize: number;
    testSize: number;
    depth: number;
    width: number;
    sigmoidSaturation: number;
  };
  variants: VariantResult[];
  files: { json: string; markdown: string; plots: string[] };
}

const EXAMPLE_ROOT = fileURLToPath(new URL("..", import.meta.url));
const DEPTH = 10;
const WIDTH = 100;
const MOMENTUM = 0.9;
const BINS = 40;
/** Steps averaged in the plotted loss curve (single batches are noisy). */
const LOSS_WINDOW = 10;
const DEFAULT_INIT: Record<Activation, WeightInit> = { sigmoid: "normal", relu: "default" };

/**
 * Trains a 10-layer, 100-wide MLP on MNIST (the `mnist` package's 7996 training digits) with
 * sigmoid or ReLU activations, with and without BatchNorm1d before each activation, and
 * histograms every hidden layer's activations on fixed test digits at initialization and after
 * training. The probe runs in training mode, so BatchNorm normalizes with the probe batch's own
 * statistics, as during training. Writes `activation-distributions.json` and `.md`, the
 * histogram grids `<activation>-histograms` and the loss curves `training-loss` (SVG + PNG).
 */
export async function main(options: ActivationOptions = {}): Promise<ActivationResults> {
  const smoke = options.smoke ?? false;
  const seed = options.seed ?? 0;
  const steps = positiveInteger("steps", options.steps ?? (smoke ? 3 : 300));
  const batchSize = positiveInteger("batchSize", options.batchSize ?? (smoke ? 16 : 64));
  const probeSize = positiveInteger("probeSize", options.probeSize ?? (smoke ? 64 : 1000));
  const lr = options.lr ?? 0.1;
  if (!(lr > 0)) throw new RangeError(`lr must be positive, got ${lr}`);
  const activations = options.activations ?? ["sigmoid", "relu"];
  const out = options.out ?? join(EXAMPLE_ROOT, "results");
  const say = options.quiet ? () => {} : (line: string) => console.log(line);
  manualSeed(seed);

  const transform = normalize(MNIST_MEAN, MNIST_STD);
  const train = loadMnist({ split: "train", transform });
  const test = loadMnist({ split: "test", transform });
  if (probeSize > test.length)
    throw new RangeError(`probeSize ${probeSize} exceeds the ${test.length} test digits`);
  const [probe] = test.getBatch(spread(probeSize, test.length));
  const testSize = positiveInteger(
    "testSize",
    Math.min(options.testSize ?? (smoke ? 256 : test.length), test.length),
  );
  const [testImages, testLabels] = test.getBatch(spread(testSize, test.length));
  say(
    `${DEPTH}×${WIDTH} MLPs on MNIST (${train.length} digits): ${steps} SGD steps of ${batchSize}, ` +
      `probe of ${probeSize} test digits`,
  );

  const variants: VariantResult[] = [];
  // Raw activations per "variant|phase", for the histograms.
  const raw = new Map<string, Float32Array[]>();
  for (const activation of activations) {
    for (const batchNorm of [false, true]) {
      const weightInit = options.weightInit?.[activation] ?? DEFAULT_INIT[activation];
      const name = variantName(activation, batchNorm);
      const { model, activations: probed } = buildMlp({
        activation,
        batchNorm,
        weightInit,
        depth: DEPTH,
        width: WIDTH,
        generator: new Generator(seed),
      });
      const atInit = probeActivations(model, probed, probe);
      const bar = options.quiet
        ? null
        : new SingleBar({
            format: `  ${name.padEnd(16)} {bar} {value}/{total} steps, loss {loss}`,
            hideCursor: true,
          });
      bar?.start(steps, 0, { loss: "…" });
      const { losses, divergedAtStep } = trainModel(model, train, {
        steps,
        batchSize,
        lr,
        seed,
        onStep: (loss) => bar?.increment({ loss: loss.toFixed(3) }),
      });
      bar?.stop();
      model.eval();
      const testAccuracy = accuracy(model, testImages, testLabels);
      model.train();
      const trained = divergedAtStep === null ? probeActivations(model, probed, probe) : null;
      variants.push({
        activation,
        batchNorm,
        weightInit,
        losses,
        divergedAtStep,
        testAccuracy,
        layers: {
          init: atInit.map((values, i) => layerStats(i + 1, values, activation)),
          trained: trained?.map((values, i) => layerStats(i + 1, values, activation)) ?? [],
        },
      });
      raw.set(`${name}|init`, atInit);
      if (trained) raw.set(`${name}|trained`, trained);
      const [first, last] = [losses.at(0), losses.at(-1)].map((loss) => loss?.toFixed(3) ?? "–");
      say(
        `  ${name}: loss ${first} → ${last}, test accuracy ` +
          `${(100 * testAccuracy).toFixed(1)}%${divergedAtStep === null ? "" : `, diverged at step ${divergedAtStep}`}`,
      );
    }
  }

  const config = {
    seed,
    steps,
    batchSize,
    lr,
    momentum: MOMENTUM,
    probeSize,
    testSize,
    depth: DEPTH,
    width: WIDTH,
    sigmoidSaturation: SIGMOID_SATURATION,
  };
  mkdirSync(out, { recursive: true });
  const json = join(out, "activation-distributions.json");
  writeFileSync(json, `${JSON.stringify({ config, variants }, null, 2)}\n`);
  const markdown = join(out, "activation-distributions.md");
  writeFileSync(markdown, report(variants, config));
  const plots = await plot(variants, raw, config, out);
  const shownOut = relative(process.cwd(), out);
  say(
    `wrote to ${shownOut.startsWith("..") ? out : shownOut || "."}: ${[json, markdown, ...plots].map((path) => basename(path)).join(", ")}`,
  );
  return { config, variants, files: { json, markdown, plots } };
}

/** Trains with SGD (momentum 0.9) and cross-entropy for `steps` batches; stops at a non-finite loss. */
function trainModel(
  model: Sequential,
  train: Dataset,
  {
    steps,
    batchSize,
    lr,
    seed,
    onStep,
  }: { steps: number; batchSize: number; lr: number; seed: number; onStep: (loss: number) => void },
): { losses: number[]; divergedAtStep: number | null } {
  const optimizer = new SGD(model.parameters(), { lr, momentum: MOMENTUM });
  const criterion = new CrossEntropyLoss();
  const loader = new DataLoader(train, {
    batchSize,
    shuffle: true,
    dropLast: true,
    generator: new Generator(seed),
  });
  const losses: number[] = [];
  model.train();
  while (losses.length < steps) {
    for (const [images, labels] of loader) {
      const loss = tidy(() => {
        const value = criterion.forward(model.forward(images), labels);
        optimizer.zeroGrad();
        value.backward();
        optimizer.step();
        return value.item();
      });
      if (!Number.isFinite(loss)) return { losses, divergedAtStep: losses.length + 1 };
      losses.push(loss);
      onStep(loss);
      if (losses.length === steps) break;
    }
  }
  return { losses, divergedAtStep: null };
}

/** Fraction of `images` whose arg-max logit is the label. */
function accuracy(model: Sequential, images: Tensor, labels: Tensor): number {
  return noGrad(() => model.forward(images).argmax(1).eq(labels).to("float32").mean().item());
}

/** `count` rows spread evenly over `length`, so every digit is present (and the probe does not depend on the order). */
function spread(count: number, length: number): number[] {
  return Array.from({ length: count }, (_, i) => Math.floor((i * length) / count));
}

function variantName(activation: Activation, batchNorm: boolean): string {
  return `${activation}${batchNorm ? " + BN" : ""}`;
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1)
    throw new RangeError(`${name} must be a positive integer, got ${value}`);
  return value;
}

const PHASES: readonly Phase[] = ["init", "trained"];

function phaseLabel(phase: Phase, steps: number): string {
  return phase === "init" ? "at init" : `after ${steps} steps`;
}

function initLabel(weightInit: WeightInit): string {
  return weightInit === "normal" ? "N(0, 1)" : "PyTorch default U(±1/√fan_in)";
}

function report(variants: readonly VariantResult[], config: ActivationResults["config"]): string {
  const percent = (fraction: number) => `${(100 * fraction).toFixed(1)}%`;
  const training = markdownTable(
    ["model", "hidden weights", "first loss", "last loss", "test accuracy"],
    variants.map((variant) => [
      variantName(variant.activation, variant.batchNorm),
      initLabel(variant.weightInit),
      variant.losses[0]?.toFixed(3) ?? "",
      variant.divergedAtStep === null
        ? (variant.losses.at(-1)?.toFixed(3) ?? "")
        : `diverged at step ${variant.divergedAtStep}`,
      percent(variant.testAccuracy),
    ]),
  );
  const sections = [...new Set(variants.map((variant) => variant.activation))].map((activation) => {
    const columns = variants
      .filter((variant) => variant.activation === activation)
      .flatMap((variant) => PHASES.map((phase) => ({ variant, phase })));
    const table = markdownTable(
      [
        "layer",
        ...columns.map(({ variant, phase }) => `${variantName(activation, variant.batchNorm)}, ${phase}`),
      ],
      Array.from({ length: config.depth }, (_, layer) => [
        String(layer + 1),
        ...columns.map(({ variant, phase }) => {
          const stats = variant.layers[phase][layer];
          return stats === undefined
            ? "–"
            : `${formatStat(stats.mean)} ± ${formatStat(stats.std)}, ${percent(stats.saturatedFraction)}`;
        }),
      ]),
    );
    const saturated =
      activation === "sigmoid"
        ? `outside [${config.sigmoidSaturation}, ${1 - config.sigmoidSaturation}] (σ′ under 8% of its peak)`
        : "exactly 0 (no gradient through the unit)";
    return [
      `## ${activation}: activations per hidden layer`,
      "",
      `Cells: mean ± std of the layer's outputs over ${config.probeSize} test digits × ${config.width} units, ` +
        `then the fraction saturated: ${saturated}. \`trained\` = after ${config.steps} steps.`,
      "",
      table,
      "",
      `![${activation} histograms](${activation}-histograms.png)`,
      "",
    ].join("\n");
  });
  return [
    `# Activation distributions in a ${config.depth}-layer, ${config.width}-wide MLP, with and without BatchNorm`,
    "",
    `MNIST (the \`mnist\` package's 7996 training digits), SGD lr ${config.lr} momentum ${config.momentum}, ` +
      `batch ${config.batchSize}, ${config.steps} steps, seed ${config.seed}. BatchNorm1d sits between each hidden ` +
      "Linear and its activation. Activations are probed in training mode (BatchNorm uses the probe batch's " +
      "statistics, as in training).",
    "",
    training,
    "",
    "![training loss](training-loss.png)",
    "",
    ...sections,
  ].join("\n");
}

/** Three significant digits, exponent form for very small or large values. */
function formatStat(value: number): string {
  const magnitude = Math.abs(value);
  if (magnitude !== 0 && (magnitude < 1e-3 || magnitude >= 1e4)) return value.toExponential(2);
  return value.toPrecision(3);
}

/** The 99.5th percentile of all values (1 when there are none): the right edge for unbounded activations. */
function upperEdge(layers: readonly Float32Array[]): number {
  const all = Float32Array.from(layers.flatMap((values) => Array.from(values))).sort();
  return all.length === 0 ? 1 : Math.max(all[Math.floor(0.995 * (all.length - 1))], Number.MIN_VALUE);
}

async function plot(
  variants: readonly VariantResult[],
  raw: ReadonlyMap<string, Float32Array[]>,
  config: ActivationResults["config"],
  out: string,
): Promise<string[]> {
  const files: string[] = [];
  for (const activation of [...new Set(variants.map((variant) => variant.activation))]) {
    const panels = variants
      .filter((variant) => variant.activation === activation)
      .flatMap((variant) =>
        PHASES.map((phase) => ({
          row: `${variantName(activation, variant.batchNorm)}, ${phaseLabel(phase, config.steps)}`,
          layers: raw.get(`${variantName(activation, variant.batchNorm)}|${phase}`) ?? [],
        })),
      );
    // ReLU's exact zeros (half the values or more) would dwarf the rest: bin the positive outputs
    // only; the zero fraction is in the table.
    const binned = (values: Float32Array) =>
      activation === "relu" ? values.filter((value) => value > 0) : values;
    const range: [number, number] =
      activation === "sigmoid" ? [0, 1] : [0, upperEdge(panels.flatMap((panel) => panel.layers.map(binned)))];
    const data: DataRow[] = panels.flatMap(({ row, layers }) =>
      layers.flatMap((values, layer) => {
        const kept = binned(values);
        if (kept.length === 0) return [];
        return histogram(kept, { bins: BINS, range }).map((bin) => ({ row, layer: layer + 1, ...bin }));
      }),
    );
    const init = initLabel(
      variants.find((variant) => variant.activation === activation)?.weightInit ?? "default",
    );
    const rendered = await renderChart(
      histogramGrid({
        title: `${activation} MLP, ${config.depth} × ${config.width}: activations of each hidden layer`,
        subtitle:
          activation === "sigmoid"
            ? `outputs on ${config.probeSize} test digits × ${config.width} units; hidden weights ${init}`
            : `non-zero outputs on ${config.probeSize} test digits × ${config.width} units (values above ` +
              `${formatStat(range[1])} in the last bin); hidden weights ${init}`,
        data,
        column: { field: "layer", title: "hidden layer" },
        row: { field: "row", title: null, order: panels.map((panel) => panel.row) },
        x: { title: activation === "sigmoid" ? "σ(z)" : "ReLU(z)", domain: range },
      }),
      join(out, `${activation}-histograms`),
    );
    files.push(rendered.svgPath, rendered.pngPath);
  }
  const losses = await renderChart(
    lineChart({
      title: "Training loss",
      subtitle: `mean of the last ${LOSS_WINDOW} steps; SGD lr ${config.lr}, momentum ${config.momentum}, batch ${config.batchSize}`,
      data: variants.flatMap((variant) =>
        variant.losses.map((_, step) => {
          const window = variant.losses.slice(Math.max(0, step + 1 - LOSS_WINDOW), step + 1);
          return {
            step: step + 1,
            loss: window.reduce((sum, loss) => sum + loss, 0) / window.length,
            model: variantName(variant.activation, variant.batchNorm),
          };
        }),
      ),
      x: { field: "step", title: "step" },
      y: { field: "loss", title: "cross-entropy loss" },
      color: {
        field: "model",
        title: "model",
        order: variants.map((v) => variantName(v.activation, v.batchNorm)),
      },
    }),
    join(out, "training-loss"),
  );
  files.push(losses.svgPath, losses.pngPath);
  return files;
}
