// Learning-rate schedulers: StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR, LinearLR, OneCycleLR,
// LambdaLR, SequentialLR and CosineAnnealingWarmRestarts (CyclicLR and ReduceLROnPlateau have files of their own).

/** What a scheduler needs from an optimizer: groups with a writable `lr`. */
export interface SchedulableOptimizer {
  readonly paramGroups: readonly { lr: number }[];
}

/** A scheduler's resumable state. */
export interface LRSchedulerStateDict {
  lastEpoch: number;
  baseLrs: number[];
  lastLr: number[];
}

// PyTorch keeps each group's learning rate before any scheduler touched it (`initial_lr`), so a
// second scheduler on the same optimizer starts from the same base; this map plays that role.
const initialLrs = new WeakMap<object, number>();

export function assertPositiveInteger(where: string, option: string, value: number): void {
  if (!Number.isInteger(value) || value <= 0) {
    throw new RangeError(`${where}: ${option} must be a positive integer, got ${value}`);
  }
}

export function assertPositive(where: string, option: string, value: number): void {
  if (!(value > 0) || !Number.isFinite(value)) {
    throw new RangeError(`${where}: ${option} must be a finite number > 0, got ${value}`);
  }
}

/** Python's `a % n` (the sign of n), which PyTorch's cosine formula relies on for negative a. */
export function pythonModulo(a: number, n: number): number {
  return ((a % n) + n) % n;
}

/**
 * Base class of the schedulers (PyTorch's `LRScheduler`). Construction performs the first
 * `step()`, so `lastEpoch` is 0 and the groups hold the epoch-0 learning rate; call `step()` once
 * per epoch (or per batch, for OneCycleLR) after `optimizer.step()`. Like PyTorch, most
 * schedulers update the current `lr` multiplicatively (the "chainable" forms), so two schedulers
 * on one optimizer compose.
 */
export abstract class LRScheduler<O extends object = object> {
  /** The learning rate of each group before any scheduler changed it. */
  baseLrs: number[];
  /** Number of `step()` calls since construction (0 right after it). */
  lastEpoch = -1;
  #lastLr: number[] = [];

  protected constructor(
    readonly optimizer: SchedulableOptimizer,
    /** The scheduler's options, defaults filled in. */
    readonly options: Readonly<O>,
  ) {
    this.baseLrs = optimizer.paramGroups.map((group) => {
      if (!initialLrs.has(group)) initialLrs.set(group, group.lr);
      return initialLrs.get(group) ?? group.lr;
    });
    this.step();
  }

  /** The learning rates for `lastEpoch`, from the groups' current ones (PyTorch's `get_lr`). */
  protected abstract computeLr(): number[];

  /**
   * The learning rates for `lastEpoch` from the schedule's closed form, where PyTorch has one
   * (`_get_closed_form_lr`); null otherwise. Used when a schedule restarts at epoch 0.
   */
  protected closedFormLr(): number[] | null {
    return null;
  }

  /** Advances one epoch and writes the new learning rates into the optimizer's groups. */
  step(): void {
    this.lastEpoch++;
    this.applyLr(this.computeLr());
  }

  /** Writes `lrs` into the optimizer's groups and records them as the last learning rates. */
  protected applyLr(lrs: number[]): void {
    this.optimizer.paramGroups.forEach((group, i) => {
      group.lr = lrs[i];
    });
    this.#lastLr = lrs;
  }

  /**
   * PyTorch's `step(0)`, as SequentialLR calls it at a milestone: the schedule restarts at epoch
   * 0, from its closed form where PyTorch has one (else from `computeLr`).
   */
  protected restart(): void {
    this.lastEpoch = 0;
    this.applyLr(this.closedFormLr() ?? this.computeLr());
  }

  /** Calls `scheduler.restart()` (protected members are reachable only from the base class). */
  protected static restartSchedule(scheduler: LRScheduler): void {
    scheduler.restart();
  }

  /** The learning rate of each group after the last `step()`. */
  getLastLr(): number[] {
    return this.#lastLr.slice();
  }

  /** The state `loadStateDict` restores (resume a schedule mid-way). */
  stateDict(): LRSchedulerStateDict {
    return { lastEpoch: this.lastEpoch, baseLrs: this.baseLrs.slice(), lastLr: this.#lastLr.slice() };
  }

  /** Restores a `stateDict()` and writes its learning rates back into the optimizer's groups. */
  loadStateDict(dict: LRSchedulerStateDict): void {
    if (dict.lastLr.length !== this.optimizer.paramGroups.length) {
      throw new Error(
        `loadStateDict: the state dict has ${dict.lastLr.length} learning rate(s), ` +
          `the optimizer ${this.optimizer.paramGroups.length} parameter group(s)`,
      );
    }
    this.lastEpoch = dict.lastEpoch;
    this.baseLrs = dict.baseLrs.slice();
    this.#lastLr = dict.lastLr.slice();
    this.optimizer.paramGroups.forEach((group, i) => {
      group.lr = dict.lastLr[i];
    });
  }

  /** Each group's current learning rate. */
  protected currentLrs(): number[] {
    return this.optimizer.paramGroups.map((group) => group.lr);
  }
}

/** Options of `StepLR`. */
export interface StepLROptions {
  /** Epochs between decays. */
  stepSize: number;
  /** Multiplicative decay factor (default 0.1). */
  gamma?: number;
}

/** Decays the learning rate by `gamma` every `stepSize` epochs: `lr = base·γ^⌊epoch/stepSize⌋`. */
export class StepLR extends LRScheduler<Required<StepLROptions>> {
  constructor(optimizer: SchedulableOptimizer, { stepSize, gamma = 0.1 }: StepLROptions) {
    assertPositiveInteger("StepLR", "stepSize", stepSize);
    assertPositive("StepLR", "gamma", gamma);
    super(optimizer, { stepSize, gamma });
  }

  protected computeLr(): number[] {
    const { stepSize, gamma } = this.options;
    const decay = this.lastEpoch !== 0 && this.lastEpoch % stepSize === 0;
    return this.currentLrs().map((lr) => (decay ? lr * gamma : lr));
  }

  protected override closedFormLr(): number[] {
    const { stepSize, gamma } = this.options;
    return this.baseLrs.map((base) => base * gamma ** Math.floor(this.lastEpoch / stepSize));
  }
}

/** Options of `MultiStepLR`. */
export interface MultiStepLROptions {
  /** Epochs at which to decay (a repeated epoch decays once per repetition). */
  milestones: readonly number[];
  /** Multiplicative decay factor (default 0.1). */
  gamma?: number;
}

/** Decays the learning rate by `gamma` at each milestone: `lr = base·γ^(milestones ≤ epoch)`. */
export class MultiStepLR extends LRScheduler<Required<MultiStepLROptions>> {
  constructor(optimizer: SchedulableOptimizer, { milestones, gamma = 0.1 }: MultiStepLROptions) {
    for (const milestone of milestones) assertPositiveInteger("MultiStepLR", "each milestone", milestone);
    assertPositive("MultiStepLR", "gamma", gamma);
    super(optimizer, { milestones: [...milestones].sort((a, b) => a - b), gamma });
  }

  protected computeLr(): number[] {
    const { milestones, gamma } = this.options;
    const hits = milestones.filter((milestone) => milestone === this.lastEpoch).length;
    return this.currentLrs().map((lr) => lr * gamma ** hits);
  }

  protected override closedFormLr(): number[] {
    const { milestones, gamma } = this.options;
    const passed = milestones.filter((milestone) => milestone <= this.lastEpoch).length;
    return this.baseLrs.map((base) => base * gamma ** passed);
  }
}

/** Options of `ExponentialLR`. */
export interface ExponentialLROptions {
  /** Multiplicative decay factor per epoch. */
  gamma: number;
}

/** Decays the learning rate by `gamma` every epoch: `lr = base·γ^epoch`. */
export class ExponentialLR extends LRScheduler<ExponentialLROptions> {
  constructor(optimizer: SchedulableOptimizer, { gamma }: ExponentialLROptions) {
    assertPositive("ExponentialLR", "gamma", gamma);
    super(optimizer, { gamma });
  }

  protected computeLr(): number[] {
    return this.currentLrs().map((lr) => (this.lastEpoch === 0 ? lr : lr * this.options.gamma));
  }

  protected override closedFormLr(): number[] {
    return this.baseLrs.map((base) => base * this.options.gamma ** this.lastEpoch);
  }
}

/** Options of `CosineAnnealingLR`. */
export interface CosineAnnealingLROptions {
  /** Epochs of a half period (from the base learning rate down to `etaMin`). */
  tMax: number;
  /** The minimum learning rate (default 0). */
  etaMin?: number;
}

/**
 * Cosine annealing without restarts (SGDR's schedule), `lr = η_min + (base − η_min)·(1 + cos(π·epoch/T_max))/2`,
 * computed with PyTorch's recursive form so it composes with other schedulers:
 * `lr ← η_min + (lr − η_min)·(1 + cos(π·e/T))/(1 + cos(π·(e−1)/T))`, with the restart step
 * (where the denominator is 0) done additively. Past `tMax` it rises again (period 2·tMax).
 */
export class CosineAnnealingLR extends LRScheduler<Required<CosineAnnealingLROptions>> {
  constructor(optimizer: SchedulableOptimizer, { tMax, etaMin = 0 }: CosineAnnealingLROptions) {
    assertPositiveInteger("CosineAnnealingLR", "tMax", tMax);
    if (!(etaMin >= 0)) throw new RangeError(`CosineAnnealingLR: etaMin must be >= 0, got ${etaMin}`);
    super(optimizer, { tMax, etaMin });
  }

  protected computeLr(): number[] {
    const { tMax, etaMin } = this.options;
    const epoch = this.lastEpoch;
    const lrs = this.currentLrs();
    if (epoch === 0) return lrs;
    if (pythonModulo(epoch - 1 - tMax, 2 * tMax) === 0) {
      return lrs.map((lr, i) => lr + ((this.baseLrs[i] - etaMin) * (1 - Math.cos(Math.PI / tMax))) / 2);
    }
    const ratio = (1 + Math.cos((Math.PI * epoch) / tMax)) / (1 + Math.cos((Math.PI * (epoch - 1)) / tMax));
    return lrs.map((lr) => ratio * (lr - etaMin) + etaMin);
  }

  protected override closedFormLr(): number[] {
    const { tMax, etaMin } = this.options;
    return this.baseLrs.map(
      (base) => etaMin + ((base - etaMin) * (1 + Math.cos((Math.PI * this.lastEpoch) / tMax))) / 2,
    );
  }
}

/** Options of `LinearLR`. */
export interface LinearLROptions {
  /** Factor of the base learning rate at epoch 0, in (0, 1] (default 1/3). */
  startFactor?: number;
  /** Factor reached at `totalIters` and kept after, in [0, 1] (default 1). */
  endFactor?: number;
  /** Epochs of the ramp (default 5). */
  totalIters?: number;
}

/**
 * Linear warm-up (or decay): `lr = base·(s + (e − s)·min(epoch, T)/T)` for start factor s, end
 * factor e and T = totalIters, computed with PyTorch's recursive form
 * `lr ← lr·(1 + (e − s)/(T·s + (epoch − 1)·(e − s)))`.
 */
export class LinearLR extends LRScheduler<Required<LinearLROptions>> {
  constructor(
    optimizer: SchedulableOptimizer,
    { startFactor = 1 / 3, endFactor = 1, totalIters = 5 }: LinearLROptions = {},
  ) {
    // A start factor of 0 would make the recursive form divide by zero at epoch 1.
    if (!(startFactor > 0 && startFactor <= 1)) {
      throw new RangeError(`LinearLR: startFactor must be in (0, 1], got ${startFactor}`);
    }
    if (!(endFactor >= 0 && endFactor <= 1)) {
      throw new RangeError(`LinearLR: endFactor must be in [0, 1], got ${endFactor}`);
    }
    assertPositiveInteger("LinearLR", "totalIters", totalIters);
    super(optimizer, { startFactor, endFactor, totalIters });
  }

  protected computeLr(): number[] {
    const { startFactor, endFactor, totalIters } = this.options;
    const epoch = this.lastEpoch;
    const lrs = this.currentLrs();
    if (epoch === 0) return lrs.map((lr) => lr * startFactor);
    if (epoch > totalIters) return lrs;
    const slope = endFactor - startFactor;
    return lrs.map((lr) => lr * (1 + slope / (totalIters * startFactor + (epoch - 1) * slope)));
  }

  protected override closedFormLr(): number[] {
    const { startFactor, endFactor, totalIters } = this.options;
    const ramp = ((endFactor - startFactor) * Math.min(totalIters, this.lastEpoch)) / totalIters;
    return this.baseLrs.map((base) => base * (startFactor + ramp));
  }
}

/** Options of `OneCycleLR`. Give `totalSteps`, or `epochs` and `stepsPerEpoch`. */
export interface OneCycleLROptions {
  /** Peak learning rate, one for all groups or one per group. */
  maxLr: number | readonly number[];
  /** Steps in the cycle (calls to `step()`). */
  totalSteps?: number;
  /** With `stepsPerEpoch`, gives totalSteps = epochs·stepsPerEpoch. */
  epochs?: number;
  stepsPerEpoch?: number;
  /** Fraction of the cycle spent increasing the learning rate (default 0.3). */
  pctStart?: number;
  /** Annealing shape (default "cos"). */
  annealStrategy?: "cos" | "linear";
  /** Cycle momentum inversely to the learning rate: SGD's `momentum` or Adam's β₁ (default true). */
  cycleMomentum?: boolean;
  /** Lowest momentum, reached at the peak learning rate (default 0.85). */
  baseMomentum?: number;
  /** Highest momentum, at the start and end (default 0.95). */
  maxMomentum?: number;
  /** Initial lr = maxLr/divFactor (default 25). */
  divFactor?: number;
  /** Final lr = initial lr/finalDivFactor (default 1e4). */
  finalDivFactor?: number;
  /** Three phases (up, back down to the initial lr, annihilate) instead of two (default false). */
  threePhase?: boolean;
}

type OneCycleSettings = Required<Omit<OneCycleLROptions, "maxLr" | "epochs" | "stepsPerEpoch">> & {
  maxLrs: number[];
};

type LrLevel = "initial" | "max" | "min";

/** One phase of the cycle: where it ends and which levels the lr and the momentum run between. */
interface Phase {
  endStep: number;
  lr: readonly [LrLevel, LrLevel];
  /** Momentum runs between maxMomentum ("high") and baseMomentum ("low"). */
  momentum: readonly ["high" | "low", "high" | "low"];
}

function oneCyclePhases({ totalSteps, pctStart, threePhase }: OneCycleSettings): Phase[] {
  const rise = pctStart * totalSteps - 1;
  if (threePhase) {
    return [
      { endStep: rise, lr: ["initial", "max"], momentum: ["high", "low"] },
      { endStep: 2 * pctStart * totalSteps - 2, lr: ["max", "initial"], momentum: ["low", "high"] },
      { endStep: totalSteps - 1, lr: ["initial", "min"], momentum: ["high", "high"] },
    ];
  }
  return [
    { endStep: rise, lr: ["initial", "max"], momentum: ["high", "low"] },
    { endStep: totalSteps - 1, lr: ["max", "min"], momentum: ["low", "high"] },
  ];
}

function anneal(strategy: "cos" | "linear", start: number, end: number, pct: number): number {
  switch (strategy) {
    case "cos":
      return end + ((start - end) / 2) * (Math.cos(Math.PI * pct) + 1);
    case "linear":
      return (end - start) * pct + start;
    default:
      return strategy satisfies never;
  }
}

/** Writes the momentum of a group: SGD's `momentum`, or β₁ of Adam's `betas`. */
export function setMomentum(group: object, momentum: number): void {
  if ("betas" in group && Array.isArray(group.betas)) group.betas = [momentum, group.betas[1]];
  else if ("momentum" in group) group.momentum = momentum;
}

/**
 * The 1cycle policy (Smith & Topin), as `torch.optim.lr_scheduler.OneCycleLR`: the learning
 * rate rises from maxLr/divFactor to maxLr over `pctStart` of the steps (cosine by default),
 * then anneals to maxLr/(divFactor·finalDivFactor); momentum moves the opposite way between
 * maxMomentum and baseMomentum. With `threePhase` it first returns to the initial rate, then
 * anneals to the minimum. Call `step()` after every batch; stepping past `totalSteps` is an error.
 */
export class OneCycleLR extends LRScheduler<OneCycleSettings> {
  constructor(
    optimizer: SchedulableOptimizer,
    {
      maxLr,
      totalSteps,
      epochs,
      stepsPerEpoch,
      pctStart = 0.3,
      annealStrategy = "cos",
      cycleMomentum = true,
      baseMomentum = 0.85,
      maxMomentum = 0.95,
      divFactor = 25,
      finalDivFactor = 1e4,
      threePhase = false,
    }: OneCycleLROptions,
  ) {
    if (totalSteps === undefined) {
      if (epochs === undefined || stepsPerEpoch === undefined) {
        throw new Error("OneCycleLR: give totalSteps, or both epochs and stepsPerEpoch");
      }
      assertPositiveInteger("OneCycleLR", "epochs", epochs);
      assertPositiveInteger("OneCycleLR", "stepsPerEpoch", stepsPerEpoch);
      totalSteps = epochs * stepsPerEpoch;
    }
    assertPositiveInteger("OneCycleLR", "totalSteps", totalSteps);
    const groups = optimizer.paramGroups.length;
    const maxLrs = typeof maxLr === "number" ? Array<number>(groups).fill(maxLr) : [...maxLr];
    if (maxLrs.length !== groups) {
      throw new RangeError(
        `OneCycleLR: maxLr has ${maxLrs.length} value(s) for ${groups} parameter group(s)`,
      );
    }
    maxLrs.forEach((lr, i) => {
      assertPositive("OneCycleLR", `maxLr[${i}]`, lr);
    });
    if (!(pctStart >= 0 && pctStart <= 1)) {
      throw new RangeError(`OneCycleLR: pctStart must be in [0, 1], got ${pctStart}`);
    }
    assertPositive("OneCycleLR", "divFactor", divFactor);
    assertPositive("OneCycleLR", "finalDivFactor", finalDivFactor);
    if (cycleMomentum) {
      const index = optimizer.paramGroups.findIndex((group) => !("momentum" in group) && !("betas" in group));
      if (index >= 0) {
        throw new Error(
          `OneCycleLR: parameter group ${index} has neither momentum nor betas to cycle; pass cycleMomentum: false`,
        );
      }
    }
    const settings: OneCycleSettings = {
      maxLrs,
      totalSteps,
      pctStart,
      annealStrategy,
      cycleMomentum,
      baseMomentum,
      maxMomentum,
      divFactor,
      finalDivFactor,
      threePhase,
    };
    // PyTorch divides by each phase's length; a phase of zero steps would give 0/0.
    oneCyclePhases(settings).reduce((start, phase) => {
      if (phase.endStep === start) {
        throw new RangeError(
          `OneCycleLR: pctStart ${pctStart} with totalSteps ${totalSteps} makes a phase of zero steps; ` +
            "change pctStart or totalSteps",
        );
      }
      return phase.endStep;
    }, 0);
    optimizer.paramGroups.forEach((group, i) => {
      initialLrs.set(group, maxLrs[i] / divFactor);
    });
    super(optimizer, settings);
  }

  protected computeLr(): number[] {
    const { totalSteps, maxLrs, divFactor, finalDivFactor, annealStrategy, cycleMomentum } = this.options;
    const step = this.lastEpoch;
    if (step > totalSteps) {
      throw new RangeError(`OneCycleLR: stepped ${step} times, but totalSteps is ${totalSteps}`);
    }
    const momenta = { high: this.options.maxMomentum, low: this.options.baseMomentum };
    const phases = oneCyclePhases(this.options);
    return this.optimizer.paramGroups.map((group, g) => {
      const initial = maxLrs[g] / divFactor;
      const levels = { max: maxLrs[g], initial, min: initial / finalDivFactor };
      let startStep = 0;
      for (const [i, phase] of phases.entries()) {
        if (step <= phase.endStep || i === phases.length - 1) {
          const pct = (step - startStep) / (phase.endStep - startStep);
          if (cycleMomentum) {
            setMomentum(
              group,
              anneal(annealStrategy, momenta[phase.momentum[0]], momenta[phase.momentum[1]], pct),
            );
          }
          return anneal(annealStrategy, levels[phase.lr[0]], levels[phase.lr[1]], pct);
        }
        startStep = phase.endStep;
      }
      throw new Error("OneCycleLR: unreachable, the last phase always matches");
    });
  }
}

/** A learning-rate factor as a function of the epoch (LambdaLR's `lrLambda`). */
export type LrLambda = (epoch: number) => number;

/** Options of `LambdaLR`. */
export interface LambdaLROptions {
  /** The factor of the base learning rate at each epoch: one function for all groups, or one per group. */
  lrLambda: LrLambda | readonly LrLambda[];
}

/**
 * The learning rate a function of the epoch gives, `lr = base·λ(epoch)` (PyTorch's `LambdaLR`;
 * not chainable: it overwrites what another scheduler set). Its state dict holds no functions.
 */
export class LambdaLR extends LRScheduler<{ lrLambdas: readonly LrLambda[] }> {
  constructor(optimizer: SchedulableOptimizer, { lrLambda }: LambdaLROptions) {
    const groups = optimizer.paramGroups.length;
    const lrLambdas = typeof lrLambda === "function" ? Array<LrLambda>(groups).fill(lrLambda) : [...lrLambda];
    if (lrLambdas.length !== groups) {
      throw new RangeError(
        `LambdaLR: expected ${groups} lrLambda function(s), one per parameter group, got ${lrLambdas.length}`,
      );
    }
    lrLambdas.forEach((fn, i) => {
      if (typeof fn !== "function")
        throw new TypeError(`LambdaLR: lrLambda[${i}] is not a function, got ${fn}`);
    });
    super(optimizer, { lrLambdas });
  }

  protected computeLr(): number[] {
    return this.baseLrs.map((base, i) => base * this.options.lrLambdas[i](this.lastEpoch));
  }
}

/** Options of `SequentialLR`. */
export interface SequentialLROptions {
  /** The schedulers to run one after the other, all on this optimizer. */
  schedulers: readonly LRScheduler[];
  /** The epochs at which the next scheduler takes over (one fewer than the schedulers, increasing). */
  milestones: readonly number[];
}

/** SequentialLR's resumable state: the base state plus each scheduler's own (PyTorch's `_schedulers`). */
export interface SequentialLRStateDict extends LRSchedulerStateDict {
  schedulers: LRSchedulerStateDict[];
}

/**
 * Runs schedulers one after the other (PyTorch's `SequentialLR`): scheduler k steps the epochs
 * from milestone k−1 to milestone k; at its milestone it restarts at its epoch 0 (from its closed
 * form where PyTorch has one, e.g. ExponentialLR's base·γ⁰), then steps on from there. At
 * construction the groups go back to their initial learning rates and only the first scheduler
 * takes its epoch-0 step, so what the others did when they were constructed is undone.
 */
export class SequentialLR extends LRScheduler<SequentialLROptions> {
  constructor(optimizer: SchedulableOptimizer, { schedulers, milestones }: SequentialLROptions) {
    if (schedulers.length === 0) throw new RangeError("SequentialLR: needs at least one scheduler");
    schedulers.forEach((scheduler, i) => {
      if (scheduler.optimizer !== optimizer) {
        throw new Error(`SequentialLR: scheduler ${i} belongs to another optimizer than the one passed in`);
      }
    });
    if (milestones.length !== schedulers.length - 1) {
      throw new RangeError(
        `SequentialLR: needs one milestone fewer than schedulers, got ${schedulers.length} scheduler(s) ` +
          `and ${milestones.length} milestone(s)`,
      );
    }
    milestones.forEach((milestone, i) => {
      assertPositiveInteger("SequentialLR", `milestones[${i}]`, milestone);
      if (i > 0 && milestone <= milestones[i - 1]) {
        throw new RangeError(`SequentialLR: milestones must increase, got ${milestones.join(", ")}`);
      }
    });
    super(optimizer, { schedulers: [...schedulers], milestones: [...milestones] });
  }

  protected computeLr(): number[] {
    return this.currentLrs();
  }

  override step(): void {
    const { schedulers, milestones } = this.options;
    this.lastEpoch++;
    if (this.lastEpoch === 0) {
      this.optimizer.paramGroups.forEach((group, i) => {
        group.lr = this.baseLrs[i];
      });
      for (const scheduler of schedulers) scheduler.lastEpoch -= 1;
      schedulers[0].step();
      this.applyLr(schedulers[0].getLastLr());
      return;
    }
    const index = milestones.filter((milestone) => milestone <= this.lastEpoch).length;
    const scheduler = schedulers[index];
    if (index > 0 && milestones[index - 1] === this.lastEpoch) LRScheduler.restartSchedule(scheduler);
    else scheduler.step();
    this.applyLr(scheduler.getLastLr());
  }

  override stateDict(): SequentialLRStateDict {
    return { ...super.stateDict(), schedulers: this.options.schedulers.map((s) => s.stateDict()) };
  }

  override loadStateDict(dict: SequentialLRStateDict): void {
    super.loadStateDict(dict);
    this.options.schedulers.forEach((scheduler, i) => {
      scheduler.loadStateDict(dict.schedulers[i]);
    });
  }
}

/** Options of `CosineAnnealingWarmRestarts` (PyTorch's `T_0`, `T_mult`, `eta_min`). */
export interface CosineAnnealingWarmRestartsOptions {
  /** Epochs until the first restart (a positive integer). */
  t0: number;
  /** Each period is `tMult` times the one before (an integer ≥ 1, default 1). */
  tMult?: number;
  /** The minimum learning rate (default 0). */
  etaMin?: number;
}

/** CosineAnnealingWarmRestarts' resumable state: the base state plus PyTorch's `T_cur` and `T_i`. */
export interface CosineAnnealingWarmRestartsStateDict extends LRSchedulerStateDict {
  tCur: number;
  tI: number;
}

/**
 * SGDR, cosine annealing with warm restarts (PyTorch's `CosineAnnealingWarmRestarts`):
 * `lr = η_min + (base − η_min)·(1 + cos(π·T_cur/T_i))/2`, where T_cur counts the epochs since
 * the last restart and the period T_i starts at `t0` and is multiplied by `tMult` at each restart.
 * `step()` advances one epoch; `step(epoch)` jumps to an epoch, fractional ones included
 * (`step(epoch + i/iters)` per batch), with T_cur and T_i worked out from it as PyTorch does.
 */
export class CosineAnnealingWarmRestarts extends LRScheduler<Required<CosineAnnealingWarmRestartsOptions>> {
  /** Epochs since the last restart (PyTorch's `T_cur`; fractional after `step(epoch)`). */
  tCur: number;
  /** The current period (PyTorch's `T_i`). */
  tI: number;

  constructor(
    optimizer: SchedulableOptimizer,
    { t0, tMult = 1, etaMin = 0 }: CosineAnnealingWarmRestartsOptions,
  ) {
    assertPositiveInteger("CosineAnnealingWarmRestarts", "t0", t0);
    assertPositiveInteger("CosineAnnealingWarmRestarts", "tMult", tMult);
    if (!(etaMin >= 0) || !Number.isFinite(etaMin)) {
      throw new RangeError(`CosineAnnealingWarmRestarts: etaMin must be a finite number >= 0, got ${etaMin}`);
    }
    super(optimizer, { t0, tMult, etaMin });
    // The construction step (epoch 0) left these; class fields are set only after super() returns.
    this.tCur = 0;
    this.tI = t0;
  }

  protected computeLr(): number[] {
    const { etaMin } = this.options;
    return this.baseLrs.map(
      (base) => etaMin + ((base - etaMin) * (1 + Math.cos((Math.PI * this.tCur) / this.tI))) / 2,
    );
  }

  /** Advances one epoch, or jumps to `epoch` (≥ 0, fractional allowed). */
  override step(epoch?: number): void {
    const { t0, tMult } = this.options;
    if (epoch === undefined && this.lastEpoch < 0) epoch = 0;
    if (epoch === undefined) {
      epoch = this.lastEpoch + 1;
      this.tCur += 1;
      if (this.tCur >= this.tI) {
        this.tCur -= this.tI;
        this.tI *= tMult;
      }
    } else {
      if (!(epoch >= 0) || !Number.isFinite(epoch)) {
        throw new RangeError(`CosineAnnealingWarmRestarts: epoch must be a finite number >= 0, got ${epoch}`);
      }
      if (epoch < t0) {
        this.tI = t0;
        this.tCur = epoch;
      } else if (tMult === 1) {
        this.tCur = epoch % t0;
      } else {
        // n restarts so far: t0·(tMultⁿ − 1)/(tMult − 1) ≤ epoch (PyTorch's int(math.log(x, tMult))).
        const n = Math.trunc(Math.log((epoch / t0) * (tMult - 1) + 1) / Math.log(tMult));
        this.tCur = epoch - (t0 * (tMult ** n - 1)) / (tMult - 1);
        this.tI = t0 * tMult ** n;
      }
    }
    this.lastEpoch = Math.floor(epoch);
    this.applyLr(this.computeLr());
  }

  protected override restart(): void {
    this.step(0);
  }

  override stateDict(): CosineAnnealingWarmRestartsStateDict {
    return { ...super.stateDict(), tCur: this.tCur, tI: this.tI };
  }

  override loadStateDict(dict: CosineAnnealingWarmRestartsStateDict): void {
    super.loadStateDict(dict);
    this.tCur = dict.tCur;
    this.tI = dict.tI;
  }
}
