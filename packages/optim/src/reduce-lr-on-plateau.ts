// ReduceLROnPlateau: cut the learning rate when a metric stops improving (PyTorch's rule, thresholds and cooldown).
import { formatValue } from "@normgrad/core";
import type { SchedulableOptimizer } from "./lr-scheduler.ts";

/** Options of `ReduceLROnPlateau` (PyTorch's names in camelCase). */
export interface ReduceLROnPlateauOptions {
  /** "min": the metric should fall (a loss); "max": it should rise (an accuracy). Default "min". */
  mode?: "min" | "max";
  /** The learning rate is multiplied by this, in [0, 1) (default 0.1). */
  factor?: number;
  /** Epochs without improvement tolerated; the next one cuts the rate (default 10). */
  patience?: number;
  /** What counts as an improvement (default 1e-4). */
  threshold?: number;
  /** "rel": better than best·(1 ∓ threshold); "abs": better than best ∓ threshold (default "rel"). */
  thresholdMode?: "rel" | "abs";
  /** Epochs after a cut during which bad epochs are not counted (default 0). */
  cooldown?: number;
  /** The lowest learning rate, one for all groups or one per group (default 0). */
  minLr?: number | readonly number[];
  /** A cut smaller than this is skipped (default 1e-8). */
  eps?: number;
}

/** ReduceLROnPlateau's resumable state (PyTorch's `best`, `num_bad_epochs`, `cooldown_counter`, `last_epoch`, `_last_lr`). */
export interface ReduceLROnPlateauStateDict {
  best: number;
  numBadEpochs: number;
  cooldownCounter: number;
  lastEpoch: number;
  lastLr: number[];
}

function assertNonNegativeInteger(option: string, value: number): void {
  if (!Number.isInteger(value) || value < 0) {
    throw new RangeError(`ReduceLROnPlateau: ${option} must be an integer >= 0, got ${formatValue(value)}`);
  }
}

/**
 * Multiplies each group's learning rate by `factor` (not below `minLr`) when the metric passed to
 * `step(metric)` has not improved for more than `patience` epochs, as
 * `torch.optim.lr_scheduler.ReduceLROnPlateau`. In "min" mode with "rel" thresholds a metric m
 * improves on the best b when m < b·(1 − threshold); "abs" uses m < b − threshold ("max" mode
 * mirrors both). After a cut, `cooldown` epochs pass before bad epochs count again. A cut is
 * skipped when it would change the rate by no more than `eps`. Call `step(metric)` once per epoch,
 * after validation. Defaults: mode "min", factor 0.1, patience 10, threshold 1e-4, thresholdMode
 * "rel", cooldown 0, minLr 0, eps 1e-8.
 */
export class ReduceLROnPlateau {
  /** The options, defaults filled in (`minLrs` one per group). */
  readonly options: Readonly<Required<Omit<ReduceLROnPlateauOptions, "minLr">> & { minLrs: number[] }>;
  /** The best metric so far (±Infinity before the first step). */
  best: number;
  /** Consecutive epochs without improvement (outside cooldown). */
  numBadEpochs = 0;
  /** Epochs of cooldown left. */
  cooldownCounter = 0;
  /** Number of `step()` calls. */
  lastEpoch = 0;
  #lastLr: number[];

  constructor(
    readonly optimizer: SchedulableOptimizer,
    {
      mode = "min",
      factor = 0.1,
      patience = 10,
      threshold = 1e-4,
      thresholdMode = "rel",
      cooldown = 0,
      minLr = 0,
      eps = 1e-8,
    }: ReduceLROnPlateauOptions = {},
  ) {
    if (mode !== "min" && mode !== "max") {
      throw new RangeError(`ReduceLROnPlateau: mode must be "min" or "max", got ${formatValue(mode)}`);
    }
    if (thresholdMode !== "rel" && thresholdMode !== "abs") {
      throw new RangeError(
        `ReduceLROnPlateau: thresholdMode must be "rel" or "abs", got ${formatValue(thresholdMode)}`,
      );
    }
    if (typeof factor !== "number" || !(factor >= 0 && factor < 1)) {
      throw new RangeError(`ReduceLROnPlateau: factor must be in [0, 1), got ${formatValue(factor)}`);
    }
    assertNonNegativeInteger("patience", patience);
    assertNonNegativeInteger("cooldown", cooldown);
    for (const [option, value] of [
      ["threshold", threshold],
      ["eps", eps],
    ] as const) {
      if (typeof value !== "number" || !(value >= 0) || !Number.isFinite(value)) {
        throw new RangeError(
          `ReduceLROnPlateau: ${option} must be a finite number >= 0, got ${formatValue(value)}`,
        );
      }
    }
    const groups = optimizer.paramGroups.length;
    const minLrs = typeof minLr === "number" ? Array<number>(groups).fill(minLr) : [...minLr];
    if (minLrs.length !== groups) {
      throw new RangeError(
        `ReduceLROnPlateau: expected ${groups} minLr value(s), one per parameter group, got ${minLrs.length}`,
      );
    }
    minLrs.forEach((lr, i) => {
      if (typeof lr !== "number" || !(lr >= 0)) {
        throw new RangeError(`ReduceLROnPlateau: minLr[${i}] must be a number >= 0, got ${formatValue(lr)}`);
      }
    });
    this.options = { mode, factor, patience, threshold, thresholdMode, cooldown, minLrs, eps };
    this.best = mode === "min" ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
    this.#lastLr = optimizer.paramGroups.map((group) => group.lr);
  }

  /** Whether `metric` improves on the best so far by the threshold. */
  isBetter(metric: number): boolean {
    const { mode, threshold, thresholdMode } = this.options;
    if (mode === "min")
      return thresholdMode === "rel" ? metric < this.best * (1 - threshold) : metric < this.best - threshold;
    return thresholdMode === "rel" ? metric > this.best * (threshold + 1) : metric > this.best + threshold;
  }

  /** Records one epoch's metric and cuts the learning rates if it has plateaued. */
  step(metric: number): void {
    if (typeof metric !== "number") {
      throw new TypeError(`ReduceLROnPlateau.step: metric must be a number, got ${formatValue(metric)}`);
    }
    this.lastEpoch += 1;
    if (this.isBetter(metric)) {
      this.best = metric;
      this.numBadEpochs = 0;
    } else this.numBadEpochs += 1;
    if (this.cooldownCounter > 0) {
      this.cooldownCounter -= 1;
      this.numBadEpochs = 0; // bad epochs in cooldown do not count
    }
    if (this.numBadEpochs > this.options.patience) {
      const { factor, minLrs, eps } = this.options;
      this.optimizer.paramGroups.forEach((group, i) => {
        const lr = Math.max(group.lr * factor, minLrs[i]);
        if (group.lr - lr > eps) group.lr = lr;
      });
      this.cooldownCounter = this.options.cooldown;
      this.numBadEpochs = 0;
    }
    this.#lastLr = this.optimizer.paramGroups.map((group) => group.lr);
  }

  /** The learning rate of each group after the last `step()` (before any: the current ones). */
  getLastLr(): number[] {
    return this.#lastLr.slice();
  }

  /** The state `loadStateDict` restores. */
  stateDict(): ReduceLROnPlateauStateDict {
    const { best, numBadEpochs, cooldownCounter, lastEpoch } = this;
    return { best, numBadEpochs, cooldownCounter, lastEpoch, lastLr: this.#lastLr.slice() };
  }

  /** Restores a `stateDict()` (the learning rates themselves live in the optimizer's state dict). */
  loadStateDict(dict: ReduceLROnPlateauStateDict): void {
    if (dict.lastLr.length !== this.optimizer.paramGroups.length) {
      throw new Error(
        `ReduceLROnPlateau.loadStateDict: the state dict has ${dict.lastLr.length} learning rate(s), ` +
          `the optimizer ${this.optimizer.paramGroups.length} parameter group(s)`,
      );
    }
    this.best = dict.best;
    this.numBadEpochs = dict.numBadEpochs;
    this.cooldownCounter = dict.cooldownCounter;
    this.lastEpoch = dict.lastEpoch;
    this.#lastLr = dict.lastLr.slice();
  }
}
