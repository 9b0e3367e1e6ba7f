// The BatchNorm lab's settings: their defaults and ranges, and their form in the page's URL (`/lab?lr=0.5&norm=group`).
import type { Activation } from "@normgrad/example-bn-placement/build-network";

/** The normalization layer of the two normalized variants (the `none` variant never has one). */
export type LabNorm = "batch" | "group" | "layer";

/** Which compute backend trains: `auto` picks GPU.js where the browser has a hardware GPU, else the CPU. */
export type LabBackend = "auto" | "cpu" | "gpu";

/** Which statistics the lab shows: those of training (batch statistics) or of evaluation (running ones). */
export type LabMode = "train" | "eval";

/** The two normalized placements, whose normalization layer the statistics panel inspects. */
export type InspectedVariant = "bn-relu" | "relu-bn";

/**
 * Everything the lab's state consists of. The first group defines a run (changing one restarts
 * training from the seed, so a URL reproduces what it shows); the second only chooses what is shown.
 */
export interface LabSettings {
  /** Normalization of the normalized variants. Default `batch`. URL `norm`. */
  norm: LabNorm;
  /** Hidden nonlinearity. Default `relu` (the study's); `sigmoid` shows saturation. URL `act`. */
  activation: Activation;
  /** Hidden 256-unit blocks, 1–6. Default 2 (the study's MLP, 784-256-256-10). URL `depth`. */
  depth: number;
  /** Samples per step, one of {@link BATCH_SIZES}. Default 64. URL `batch`. */
  batchSize: number;
  /** SGD learning rate (momentum 0.9, as in the study), in (0, 10]. Default 0.02. URL `lr`. */
  lr: number;
  /** Seeds the initial weights and the batch order, shared by the three variants. Default 0. URL `seed`. */
  seed: number;
  /** Training stops after this many steps, 1–20000. Default 1500. URL `steps`. */
  steps: number;
  /** Default `auto`. URL `backend`. */
  backend: LabBackend;
  /** The train/eval switch of the statistics panel and histograms. Default `train`. URL `mode`. */
  mode: LabMode;
  /** The variant whose normalization layer the statistics panel shows. Default `bn-relu`. URL `inspect`. */
  inspect: InspectedVariant;
  /** The hidden block (1-based) the statistics panel shows. Default 1. URL `layer`. */
  layer: number;
  /** The channel (feature, 0–255) the statistics panel shows. Default 0. URL `channel`. */
  channel: number;
}

/** The settings that define a training run; the others only change the view. */
export const RUN_SETTINGS = [
  "norm",
  "activation",
  "depth",
  "batchSize",
  "lr",
  "seed",
  "steps",
  "backend",
] as const;

/** The batch sizes the slider offers (powers of two, so the small-batch regime has several stops). */
export const BATCH_SIZES: readonly number[] = [2, 4, 8, 16, 32, 64, 128, 256];

/** The learning rates the slider offers (a URL may name any rate in (0, 10]). */
export const LEARNING_RATES: readonly number[] = [0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5];

/** Units of every hidden block. */
export const HIDDEN_WIDTH = 256;

/** The most hidden blocks the lab trains (three variants in lockstep must stay interactive on a laptop). */
export const MAX_DEPTH = 6;

/** The study's settings: a 784-256-256-10 ReLU MLP, BatchNorm, batch 64, SGD at 0.02 with momentum 0.9. */
export const DEFAULT_SETTINGS: Readonly<LabSettings> = {
  norm: "batch",
  activation: "relu",
  depth: 2,
  batchSize: 64,
  lr: 0.02,
  seed: 0,
  steps: 1500,
  backend: "auto",
  mode: "train",
  inspect: "bn-relu",
  layer: 1,
  channel: 0,
};

/** Each setting's URL parameter. */
const URL_NAMES: { readonly [Key in keyof LabSettings]: string } = {
  norm: "norm",
  activation: "act",
  depth: "depth",
  batchSize: "batch",
  lr: "lr",
  seed: "seed",
  steps: "steps",
  backend: "backend",
  mode: "mode",
  inspect: "inspect",
  layer: "layer",
  channel: "channel",
};

/** A setting read from a URL: its value, or why the URL's text was refused. */
type Parsed<Value> = { value: Value } | { problem: string };

function oneOf<Value extends string>(choices: readonly Value[]): (text: string) => Parsed<Value> {
  return (text) => {
    const value = choices.find((choice) => choice === text);
    return value === undefined ? { problem: `must be one of ${choices.join(", ")}` } : { value };
  };
}

function integerIn(low: number, high: number): (text: string) => Parsed<number> {
  return (text) => {
    const value = Number(text);
    return Number.isInteger(value) && value >= low && value <= high
      ? { value }
      : { problem: `must be an integer from ${low} to ${high}` };
  };
}

/** How each setting is read from its URL text. */
const PARSERS: { readonly [Key in keyof LabSettings]: (text: string) => Parsed<LabSettings[Key]> } = {
  norm: oneOf<LabNorm>(["batch", "group", "layer"]),
  activation: oneOf<Activation>(["relu", "sigmoid"]),
  depth: integerIn(1, MAX_DEPTH),
  batchSize: (text) => {
    const value = Number(text);
    return BATCH_SIZES.includes(value) ? { value } : { problem: `must be one of ${BATCH_SIZES.join(", ")}` };
  },
  lr: (text) => {
    const value = Number(text);
    return text.trim() !== "" && value > 0 && value <= 10
      ? { value }
      : { problem: "must be a number in (0, 10]" };
  },
  seed: integerIn(0, 2 ** 31 - 1),
  steps: integerIn(1, 20_000),
  backend: oneOf<LabBackend>(["auto", "cpu", "gpu"]),
  mode: oneOf<LabMode>(["train", "eval"]),
  inspect: oneOf<InspectedVariant>(["bn-relu", "relu-bn"]),
  layer: integerIn(1, MAX_DEPTH),
  channel: integerIn(0, HIDDEN_WIDTH - 1),
};

/** Every setting's key, in the order the URL lists them. */
const KEYS = Object.keys(URL_NAMES).filter((key): key is keyof LabSettings => key in URL_NAMES);

function parseInto<Key extends keyof LabSettings>(
  settings: LabSettings,
  key: Key,
  text: string,
  problems: string[],
): void {
  const parsed = PARSERS[key](text);
  if ("value" in parsed) settings[key] = parsed.value;
  else problems.push(`${URL_NAMES[key]}=${text} ignored: ${URL_NAMES[key]} ${parsed.problem}`);
}

/**
 * The settings a URL query (`?lr=0.5&norm=group`, with or without the `?`) names, the defaults for
 * the rest. A value out of range is refused with a message naming it (the default is kept); an
 * unknown parameter is reported too, so a mistyped lesson link does not pass unnoticed. A `layer`
 * deeper than `depth` is clamped.
 */
export function parseLabSettings(query: string): { settings: LabSettings; problems: string[] } {
  const params = new URLSearchParams(query);
  const settings: LabSettings = { ...DEFAULT_SETTINGS };
  const problems: string[] = [];
  for (const [name, text] of params) {
    const key = KEYS.find((candidate) => URL_NAMES[candidate] === name);
    if (key === undefined) {
      problems.push(
        `unknown setting ${name}=${text} ignored (known: ${KEYS.map((k) => URL_NAMES[k]).join(", ")})`,
      );
    } else {
      parseInto(settings, key, text, problems);
    }
  }
  settings.layer = Math.min(settings.layer, settings.depth);
  return { settings, problems };
}

/** The URL query of `settings` (`lr=0.5&norm=group`): only what differs from the defaults, so links stay short. */
export function labSettingsQuery(settings: LabSettings): string {
  const params = new URLSearchParams();
  for (const key of KEYS) {
    if (settings[key] !== DEFAULT_SETTINGS[key]) params.set(URL_NAMES[key], String(settings[key]));
  }
  return params.toString();
}

/** Whether two settings define the same training run (they may differ in what is shown). */
export function sameRun(a: LabSettings, b: LabSettings): boolean {
  return RUN_SETTINGS.every((key) => a[key] === b[key]);
}
