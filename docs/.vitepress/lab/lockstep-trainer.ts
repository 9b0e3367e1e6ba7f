// The BatchNorm lab's training: the study's MLP as none / norm→act / act→norm, stepped in lockstep on the same batches, with what the lab plots.
import { type Device, Generator, keep, noGrad, randperm, Tensor, tensor, tidy } from "@normgrad/core";
import { MNIST_MEAN, MNIST_STD } from "@normgrad/data";
import { buildNetwork } from "@normgrad/example-bn-placement/build-network";
import {
  BatchNorm1d,
  F,
  GroupNorm,
  LayerNorm,
  channelMoments as nnChannelMoments,
  ReLU,
  type Sequential,
  Sigmoid,
  type TensorModule,
} from "@normgrad/nn";
import { SGD } from "@normgrad/optim";
import { HIDDEN_WIDTH, type LabSettings } from "./lab-settings.ts";

/** The three placements, in the order every plot lists them (the study's `VARIANTS`). */
export const LAB_VARIANTS = ["none", "bn-relu", "relu-bn"] as const;

/** One of {@link LAB_VARIANTS}. */
export type LabVariant = (typeof LAB_VARIANTS)[number];

/** SGD momentum of every variant (the study's, PyTorch's form). */
export const LAB_MOMENTUM = 0.9;

/** Test images the eval-mode histograms and statistics are taken on (the first of the test subset). */
export const PROBE_SIZE = 256;

/** Bins of every activation histogram. */
export const HISTOGRAM_BINS = 40;

/** The lab's digits: 28×28 pixels in [0, 1], row-major, and their labels 0–9. */
export interface LabData {
  trainImages: Float32Array;
  trainLabels: Int32Array;
  testImages: Float32Array;
  testLabels: Int32Array;
}

/** A variant's loss and accuracy on one batch, or why it stopped. */
export type VariantMetrics = { loss: number; accuracy: number } | { diverged: string };

/** Mean and biased variance of one channel. */
export interface Moments {
  mean: number;
  variance: number;
}

/** One lockstep step: each variant's training metrics, and the inspected channel's statistics. */
export interface StepReport {
  /** Steps taken so far (this one included). */
  step: number;
  /** Epochs begun over the training subset. */
  epoch: number;
  /** In {@link LAB_VARIANTS} order. */
  metrics: VariantMetrics[];
  /**
   * The inspected normalization layer at this step: the batch statistics of the chosen channel of
   * its input (what BatchNorm normalizes with in training) and its running statistics after the
   * update (what it normalizes with in eval). Null when the inspected variant diverged; the running
   * statistics are null for GroupNorm/LayerNorm, which have none.
   */
  channel: { batch: Moments; running: Moments | null } | null;
}

/**
 * A histogram of a hidden activation's outputs over `[low, high]` (values outside count in the
 * end bins), with the same layer's histogram at step 0 in the same bins, and the fraction of
 * outputs that are dead (ReLU: exactly 0) or saturated (sigmoid: below 0.02 or above 0.98).
 */
export interface ActivationHistogram {
  low: number;
  high: number;
  counts: number[];
  initialCounts: number[];
  mean: number;
  std: number;
  stuckFraction: number;
}

/** Each variant's hidden-activation histograms (first block first) in {@link LAB_VARIANTS} order; null when it diverged. */
export type VariantHistograms = (ActivationHistogram[] | null)[];

/** What `evaluate` measures: test metrics, and the train- and eval-mode views the lab's switch picks from. */
export interface EvaluationReport {
  step: number;
  /** Each variant in eval mode on the whole test subset, in {@link LAB_VARIANTS} order; null when it diverged. */
  test: ({ loss: number; accuracy: number } | null)[];
  /** The hidden activations on the last training batch (train mode: batch statistics). */
  trainHistograms: VariantHistograms;
  /** The hidden activations on the probe images in eval mode (running statistics). */
  evalHistograms: VariantHistograms;
  /**
   * The inspected channel: the statistics its normalization divides by in each mode (null for
   * GroupNorm/LayerNorm, whose statistics are per sample) and its output's moments in each mode.
   */
  channel: {
    normalizer: { train: Moments; eval: Moments } | null;
    output: { train: Moments; eval: Moments };
  } | null;
}

/** What the statistics panel looks at: a normalized variant, one of its blocks (1-based) and a channel. */
export type Inspection = Pick<LabSettings, "inspect" | "layer" | "channel">;

/** One variant's network and the positions of the modules the lab looks at. */
interface VariantRun {
  readonly variant: LabVariant;
  readonly network: Sequential;
  readonly modules: TensorModule[];
  readonly optimizer: SGD;
  /** Child index of each hidden block's activation, and of its normalization (−1 for `none`). */
  readonly activationAt: number[];
  readonly normAt: number[];
  diverged: string | null;
  /** Each block's activation outputs at the first captured step (train) and first evaluation (eval). */
  initialTrain: Float32Array[] | null;
  initialEval: Float32Array[] | null;
  lastTrain: Float32Array[] | null;
}

const PIXELS = 28 * 28;
/** Activation outputs kept per block for histograms (a strided sample beyond this). */
const SAMPLE_LIMIT = 16_384;

function isActivation(module: TensorModule): boolean {
  return module instanceof ReLU || module instanceof Sigmoid;
}

function isNorm(module: TensorModule): boolean {
  return module instanceof BatchNorm1d || module instanceof GroupNorm || module instanceof LayerNorm;
}

/** Up to {@link SAMPLE_LIMIT} of `values`, evenly strided (a histogram needs no more). */
function sampleOf(values: Float32Array): Float32Array {
  if (values.length <= SAMPLE_LIMIT) return Float32Array.from(values);
  const stride = values.length / SAMPLE_LIMIT;
  return Float32Array.from({ length: SAMPLE_LIMIT }, (_, i) => values[Math.floor(i * stride)]);
}

/**
 * Mean and biased variance of feature `channel` of a row-major (rows, width) array: nn's two-pass
 * float64 `channelMoments` (SyncBatchNorm's), M₂ divided by the count as BatchNorm normalizes.
 */
export function channelMoments(values: Float32Array, width: number, channel: number): Moments {
  const { count, mean, m2 } = nnChannelMoments(values, values.length / width, width, 1);
  return { mean: mean[channel], variance: m2[channel] / count };
}

/**
 * The histogram of `values` and of `initial` in the same bins: `[0, 1]` for sigmoid outputs, else
 * from 0 (ReLU outputs are ≥ 0) to the largest value or mean + 4·std, whichever is smaller (a few
 * large outputs would squeeze the rest into one bin).
 */
export function activationHistogram(
  values: Float32Array,
  initial: Float32Array,
  activation: LabSettings["activation"],
): ActivationHistogram {
  let sum = 0;
  let stuck = 0;
  let largest = Number.NEGATIVE_INFINITY;
  for (const value of values) {
    sum += value;
    largest = Math.max(largest, value);
    if (activation === "sigmoid" ? value < 0.02 || value > 0.98 : value === 0) stuck++;
  }
  const mean = sum / values.length;
  let squares = 0;
  for (const value of values) squares += (value - mean) ** 2;
  const std = Math.sqrt(squares / values.length);
  const low = 0;
  const high = activation === "sigmoid" ? 1 : Math.max(Math.min(largest, mean + 4 * std), 1e-6);
  const bin = (data: Float32Array) => {
    const counts = new Array<number>(HISTOGRAM_BINS).fill(0);
    for (const value of data) {
      const index = Math.floor(((value - low) / (high - low)) * HISTOGRAM_BINS);
      counts[Math.min(HISTOGRAM_BINS - 1, Math.max(0, index))]++;
    }
    return counts;
  };
  return {
    low,
    high,
    counts: bin(values),
    initialCounts: bin(initial),
    mean,
    std,
    stuckFraction: stuck / values.length,
  };
}

/** `images` normalized with MNIST's mean and std, as the networks see them. */
function normalized(images: Float32Array): Float32Array {
  return images.map((pixel) => (pixel - MNIST_MEAN) / MNIST_STD);
}

/** Rows `indices` of `pixels` (PIXELS each) as an (N, 1, 28, 28) tensor. */
function imageBatch(pixels: Float32Array, indices: ArrayLike<number>, device: Device): Tensor {
  const batch = new Float32Array(indices.length * PIXELS);
  for (let row = 0; row < indices.length; row++) {
    batch.set(pixels.subarray(indices[row] * PIXELS, (indices[row] + 1) * PIXELS), row * PIXELS);
  }
  return tensor(batch, { shape: [indices.length, 1, 28, 28], device });
}

/** Fraction of rows of (N, 10) `logits` whose arg-max is the label. */
function accuracyOf(logits: Float32Array, labels: Int32Array): number {
  let correct = 0;
  for (let row = 0; row < labels.length; row++) {
    let best = 0;
    for (let k = 1; k < 10; k++) if (logits[row * 10 + k] > logits[row * 10 + best]) best = k;
    if (best === labels[row]) correct++;
  }
  return correct / labels.length;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Trains the three placements of the study's MLP side by side: the same initial weights where
 * their layers match (one `Generator(seed)` each), the same batches in the same order, one step
 * of each per {@link trainStep}. A variant whose loss or statistics stop being finite is marked
 * diverged (with the reason) and left behind; the others go on.
 */
export class LockstepTrainer {
  readonly settings: Readonly<LabSettings>;
  private inspection: Inspection;
  private readonly data: LabData;
  /** The training images, normalized once. */
  private readonly trainPixels: Float32Array;
  /** The whole test subset on the device, made once: images (N, 1, 28, 28) and labels (N). */
  private readonly testImages: Tensor;
  private readonly testLabels: Tensor;
  private readonly device: Device;
  private readonly runs: VariantRun[];
  private readonly order: Generator;
  private readonly trainCount: number;
  private permutation: Int32Array = new Int32Array(0);
  private cursor = 0;
  private steps = 0;
  private epochs = 0;

  constructor(data: LabData, settings: Readonly<LabSettings>, device: Device = "cpu") {
    this.settings = settings;
    this.inspection = { inspect: settings.inspect, layer: settings.layer, channel: settings.channel };
    this.data = data;
    this.trainPixels = normalized(data.trainImages);
    const testCount = data.testLabels.length;
    this.testImages = keep(tensor(normalized(data.testImages), { shape: [testCount, 1, 28, 28], device }));
    this.testLabels = keep(tensor(data.testLabels, { device }));
    this.device = device;
    this.trainCount = data.trainLabels.length - (data.trainLabels.length % settings.batchSize);
    if (this.trainCount === 0) {
      throw new RangeError(
        `LockstepTrainer: batch size ${settings.batchSize} exceeds the ${data.trainLabels.length} training digits`,
      );
    }
    this.order = new Generator(settings.seed);
    this.runs = LAB_VARIANTS.map((variant) => {
      const network = buildNetwork({
        model: "mlp",
        variant,
        norm: settings.norm,
        activation: settings.activation,
        mlpDepth: settings.depth,
        generator: new Generator(settings.seed),
      }).to(device);
      const modules = [...network];
      const activationAt = modules.flatMap((module, index) => (isActivation(module) ? [index] : []));
      const norms = modules.flatMap((module, index) => (isNorm(module) ? [index] : []));
      return {
        variant,
        network,
        modules,
        optimizer: new SGD(network.parameters(), { lr: settings.lr, momentum: LAB_MOMENTUM }),
        activationAt,
        normAt: activationAt.map((_, block) => norms[block] ?? -1),
        diverged: null,
        initialTrain: null,
        initialEval: null,
        lastTrain: null,
      };
    });
  }

  /** Steps taken so far. */
  get step(): number {
    return this.steps;
  }

  private nextIndices(): Int32Array {
    if (this.cursor + this.settings.batchSize > this.trainCount || this.permutation.length === 0) {
      const drawn = randperm(this.data.trainLabels.length, { generator: this.order });
      this.permutation = Int32Array.from(drawn.dataSync());
      drawn.dispose();
      this.cursor = 0;
      this.epochs++;
    }
    const indices = this.permutation.subarray(this.cursor, this.cursor + this.settings.batchSize);
    this.cursor += this.settings.batchSize;
    return indices;
  }

  /** Points the statistics panel at another variant, block or channel (from the next step on). */
  inspect(inspection: Inspection): void {
    const { layer, channel } = inspection;
    if (!Number.isInteger(layer) || layer < 1 || layer > this.settings.depth) {
      throw new RangeError(`LockstepTrainer.inspect: layer must be 1–${this.settings.depth}, got ${layer}`);
    }
    if (!Number.isInteger(channel) || channel < 0 || channel >= HIDDEN_WIDTH) {
      throw new RangeError(`LockstepTrainer.inspect: channel must be 0–${HIDDEN_WIDTH - 1}, got ${channel}`);
    }
    this.inspection = { ...inspection };
  }

  private inspected(): { run: VariantRun; normIndex: number } {
    const run = this.runs[LAB_VARIANTS.indexOf(this.inspection.inspect)];
    return { run, normIndex: run.normAt[this.inspection.layer - 1] };
  }

  /**
   * The forward pass of `run` on `x`, keeping each hidden activation's output and the inspected
   * normalization's input and output (for the statistics panel).
   */
  private forward(run: VariantRun, x: Tensor, inspectAt: number) {
    const activations: Tensor[] = [];
    let normInput: Tensor | null = null;
    let normOutput: Tensor | null = null;
    let y = x;
    for (const [index, module] of run.modules.entries()) {
      if (index === inspectAt) normInput = y;
      y = module.forward(y);
      if (index === inspectAt) normOutput = y;
      if (run.activationAt.includes(index)) activations.push(y);
    }
    return { logits: y, activations, normInput, normOutput };
  }

  /**
   * One SGD step of every variant still training, on the same batch. With `capture`, the hidden
   * activations are kept for the next {@link evaluate}'s train-mode histograms.
   */
  async trainStep(capture: boolean): Promise<StepReport> {
    const indices = this.nextIndices();
    const labels = Int32Array.from(indices, (index) => this.data.trainLabels[index]);
    const inspected = this.inspected();
    const metrics: VariantMetrics[] = [];
    let channel: StepReport["channel"] = null;
    for (const run of this.runs) {
      if (run.diverged !== null) {
        metrics.push({ diverged: run.diverged });
        continue;
      }
      const inspectAt = run === inspected.run ? inspected.normIndex : -1;
      try {
        const kept = tidy(() => {
          const x = imageBatch(this.trainPixels, indices, this.device);
          const { logits, activations, normInput } = this.forward(run, x, inspectAt);
          const loss = F.crossEntropy(logits, tensor(labels, { device: this.device }));
          run.optimizer.zeroGrad();
          loss.backward();
          run.optimizer.step();
          return {
            loss: loss.detach(),
            logits: logits.detach(),
            activations: capture ? activations.map((a) => a.detach()) : [],
            normInput: normInput?.detach() ?? null,
          };
        });
        const loss = (await kept.loss.data())[0];
        const accuracy = accuracyOf(Float32Array.from(await kept.logits.data()), labels);
        if (!Number.isFinite(loss)) throw new Error(`the training loss became ${loss}`);
        metrics.push({ loss, accuracy });
        if (capture) {
          run.lastTrain = [];
          for (const activation of kept.activations)
            run.lastTrain.push(sampleOf(Float32Array.from(await activation.data())));
          run.initialTrain ??= run.lastTrain;
        }
        if (kept.normInput !== null) channel = await this.channelAtStep(run, inspectAt, kept.normInput);
        for (const tensorKept of [kept.loss, kept.logits, ...kept.activations, kept.normInput])
          tensorKept?.dispose();
      } catch (error) {
        run.diverged = `diverged at step ${this.steps + 1}: ${errorMessage(error)}`;
        metrics.push({ diverged: run.diverged });
      }
    }
    this.steps++;
    return { step: this.steps, epoch: this.epochs, metrics, channel };
  }

  private async channelAtStep(
    run: VariantRun,
    normIndex: number,
    normInput: Tensor,
  ): Promise<StepReport["channel"]> {
    const { channel } = this.inspection;
    const batch = channelMoments(Float32Array.from(await normInput.data()), normInput.shape[1], channel);
    const norm = run.modules[normIndex];
    if (!(norm instanceof BatchNorm1d) || norm.runningMean === null || norm.runningVar === null) {
      return { batch, running: null };
    }
    const mean = (await norm.runningMean.data())[channel];
    const variance = (await norm.runningVar.data())[channel];
    return { batch, running: { mean, variance } };
  }

  /**
   * Each variant in eval mode on the test subset, the hidden activations on the probe images in
   * eval mode, and the last captured training step's activations, as histograms.
   */
  async evaluate(): Promise<EvaluationReport> {
    const testCount = this.data.testLabels.length;
    const inspected = this.inspected();
    const test: EvaluationReport["test"] = [];
    const trainHistograms: VariantHistograms = [];
    const evalHistograms: VariantHistograms = [];
    let channel: EvaluationReport["channel"] = null;
    for (const run of this.runs) {
      if (run.diverged !== null) {
        test.push(null);
        trainHistograms.push(null);
        evalHistograms.push(null);
        continue;
      }
      run.network.eval();
      const inspectAt = run === inspected.run ? inspected.normIndex : -1;
      const kept = noGrad(() =>
        tidy(() => {
          const { logits, activations, normInput, normOutput } = this.forward(
            run,
            this.testImages,
            inspectAt,
          );
          const loss = F.crossEntropy(logits, this.testLabels);
          const probe = (t: Tensor) => t.narrow(0, 0, Math.min(PROBE_SIZE, testCount));
          return {
            loss,
            logits,
            activations: activations.map(probe),
            normInput: normInput === null ? null : probe(normInput),
            normOutput: normOutput === null ? null : probe(normOutput),
          };
        }),
      );
      run.network.train();
      const loss = (await kept.loss.data())[0];
      test.push({
        loss,
        accuracy: accuracyOf(Float32Array.from(await kept.logits.data()), this.data.testLabels),
      });
      const evalSamples: Float32Array[] = [];
      for (const activation of kept.activations)
        evalSamples.push(sampleOf(Float32Array.from(await activation.data())));
      run.initialEval ??= evalSamples;
      const histograms = (samples: Float32Array[], initial: Float32Array[]) =>
        samples.map((values, block) => activationHistogram(values, initial[block], this.settings.activation));
      evalHistograms.push(histograms(evalSamples, run.initialEval));
      trainHistograms.push(
        run.lastTrain !== null && run.initialTrain !== null
          ? histograms(run.lastTrain, run.initialTrain)
          : null,
      );
      if (kept.normInput !== null && kept.normOutput !== null) {
        channel = await this.channelInEval(run, inspectAt, kept.normInput, kept.normOutput);
      }
      for (const tensorKept of [
        kept.loss,
        kept.logits,
        ...kept.activations,
        kept.normInput,
        kept.normOutput,
      ]) {
        tensorKept?.dispose();
      }
    }
    return { step: this.steps, test, trainHistograms, evalHistograms, channel };
  }

  /**
   * The inspected channel on the probe images: its output in eval mode (as computed), and in train
   * mode recomputed from the same input with the probe's own batch statistics, γ and β — what the
   * layer would output in training without updating its running statistics.
   */
  private async channelInEval(
    run: VariantRun,
    normIndex: number,
    normInput: Tensor,
    normOutput: Tensor,
  ): Promise<EvaluationReport["channel"]> {
    const width = normInput.shape[1];
    const { channel } = this.inspection;
    const input = Float32Array.from(await normInput.data());
    const evalOutput = channelMoments(Float32Array.from(await normOutput.data()), width, channel);
    const norm = run.modules[normIndex];
    if (!(norm instanceof BatchNorm1d) || norm.runningMean === null || norm.runningVar === null) {
      // GroupNorm and LayerNorm compute the same thing in both modes.
      return { normalizer: null, output: { train: evalOutput, eval: evalOutput } };
    }
    const batch = channelMoments(input, width, channel);
    const running = {
      mean: (await norm.runningMean.data())[channel],
      variance: (await norm.runningVar.data())[channel],
    };
    const gamma = norm.weight === null ? 1 : (await norm.weight.data())[channel];
    const beta = norm.bias === null ? 0 : (await norm.bias.data())[channel];
    const trainOutput = {
      mean: beta,
      variance: (gamma * gamma * batch.variance) / (batch.variance + norm.eps),
    };
    return { normalizer: { train: batch, eval: running }, output: { train: trainOutput, eval: evalOutput } };
  }

  /** Frees every variant's tensors (the optimizer's momentum buffers with them). */
  dispose(): void {
    this.testImages.dispose();
    this.testLabels.dispose();
    for (const run of this.runs) {
      run.optimizer.zeroGrad();
      for (const state of run.optimizer.state.values()) {
        for (const value of Object.values(state)) if (value instanceof Tensor) value.dispose();
      }
      for (const parameter of run.network.parameters()) parameter.dispose();
      for (const buffer of run.network.buffers()) buffer.dispose();
    }
  }
}
