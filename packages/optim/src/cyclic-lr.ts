// CyclicLR: the learning rate cycles between two bounds (triangular, triangular2, exp_range or a custom scale), momentum the other way.
import { assertPositive, LRScheduler, type SchedulableOptimizer } from "./lr-scheduler.ts";

/** Options of `CyclicLR` (PyTorch's names in camelCase). */
export interface CyclicLROptions {
  /** Lower bound of the cycle, one for all groups or one per group (also each group's initial lr). */
  baseLr: number | readonly number[];
  /** Upper bound of the cycle, one for all groups or one per group. */
  maxLr: number | readonly number[];
  /** Steps of the rising half of a cycle (default 2000). */
  stepSizeUp?: number;
  /** Steps of the falling half (default: stepSizeUp). */
  stepSizeDown?: number;
  /** The amplitude's scaling: 1, halved each cycle, or γ^iteration (default "triangular"; ignored with scaleFn). */
  mode?: "triangular" | "triangular2" | "exp_range";
  /** The base of "exp_range" (default 1). */
  gamma?: number;
  /** A custom amplitude scale, in [0, 1], of the cycle number (from 1) or of the iteration; overrides mode. */
  scaleFn?: (x: number) => number;
  /** What scaleFn takes: "cycle" or "iterations" (default "cycle"). */
  scaleMode?: "cycle" | "iterations";
  /** Cycle the groups' `momentum` inversely to the learning rate (default true). */
  cycleMomentum?: boolean;
  /** Lower bound of the momentum, reached at maxLr (default 0.8; also each group's initial momentum). */
  baseMomentum?: number | readonly number[];
  /** Upper bound of the momentum, at baseLr (default 0.9). */
  maxMomentum?: number | readonly number[];
}

interface CyclicSettings {
  maxLrs: number[];
  totalSize: number;
  stepRatio: number;
  scaleFn: (x: number) => number;
  scaleMode: "cycle" | "iterations";
  momenta: { base: number[]; max: number[] } | null;
}

/** `value` for each of `groups` groups: a number repeated, or a list of exactly that many. */
function perGroup(name: string, value: number | readonly number[], groups: number): number[] {
  const values = typeof value === "number" ? Array<number>(groups).fill(value) : [...value];
  if (values.length !== groups) {
    throw new RangeError(
      `CyclicLR: expected ${groups} value(s) for ${name}, one per parameter group, got ${values.length}`,
    );
  }
  values.forEach((v, i) => {
    if (typeof v !== "number" || !Number.isFinite(v)) {
      throw new RangeError(`CyclicLR: ${name}[${i}] must be a finite number, got ${v}`);
    }
  });
  return values;
}

function scaleOf(mode: string, gamma: number): (x: number) => number {
  switch (mode) {
    case "triangular":
      return () => 1;
    case "triangular2":
      return (cycle) => 1 / 2 ** (cycle - 1);
    case "exp_range":
      return (iteration) => gamma ** iteration;
    default:
      throw new RangeError(
        `CyclicLR: mode must be "triangular", "triangular2" or "exp_range" (or give scaleFn), got ${JSON.stringify(mode)}`,
      );
  }
}

/**
 * Cyclical learning rates (Smith), as `torch.optim.lr_scheduler.CyclicLR`. At iteration i, with
 * cycle c = ⌊1 + i/(up + down)⌋ and x = 1 + i/(up + down) − c, the height h = x/r while x ≤ r
 * (r = up/(up + down)), else (x − 1)/(r − 1), and
 *
 *     lr = baseLr + (maxLr − baseLr)·h·scale,   momentum = maxMomentum − (maxMomentum − baseMomentum)·h·scale
 *
 * where scale is 1 ("triangular"), 1/2^(c−1) ("triangular2"), γ^i ("exp_range") or scaleFn of c
 * or i. Call `step()` after every batch. Construction sets each group's lr to baseLr and, with
 * cycleMomentum, its momentum to baseMomentum; the optimizer needs a `momentum` option (SGD,
 * RMSprop), as in PyTorch 1.13. Defaults: stepSizeUp 2000, stepSizeDown = stepSizeUp, mode
 * "triangular", gamma 1, cycleMomentum true, baseMomentum 0.8, maxMomentum 0.9.
 */
export class CyclicLR extends LRScheduler<CyclicSettings> {
  constructor(
    optimizer: SchedulableOptimizer,
    {
      baseLr,
      maxLr,
      stepSizeUp = 2000,
      stepSizeDown = stepSizeUp,
      mode = "triangular",
      gamma = 1,
      scaleFn,
      scaleMode = "cycle",
      cycleMomentum = true,
      baseMomentum = 0.8,
      maxMomentum = 0.9,
    }: CyclicLROptions,
  ) {
    const groups = optimizer.paramGroups.length;
    const baseLrs = perGroup("baseLr", baseLr, groups);
    const maxLrs = perGroup("maxLr", maxLr, groups);
    assertPositive("CyclicLR", "stepSizeUp", stepSizeUp);
    assertPositive("CyclicLR", "stepSizeDown", stepSizeDown);
    assertPositive("CyclicLR", "gamma", gamma);
    if (scaleFn !== undefined && typeof scaleFn !== "function") {
      throw new TypeError(`CyclicLR: scaleFn must be a function, got ${scaleFn}`);
    }
    if (scaleMode !== "cycle" && scaleMode !== "iterations") {
      throw new RangeError(
        `CyclicLR: scaleMode must be "cycle" or "iterations", got ${JSON.stringify(scaleMode)}`,
      );
    }
    let momenta: CyclicSettings["momenta"] = null;
    if (cycleMomentum) {
      const index = optimizer.paramGroups.findIndex((group) => !("momentum" in group));
      if (index >= 0) {
        throw new Error(
          `CyclicLR: parameter group ${index} has no momentum to cycle (use SGD or RMSprop); pass cycleMomentum: false`,
        );
      }
      const base = perGroup("baseMomentum", baseMomentum, groups);
      momenta = { base, max: perGroup("maxMomentum", maxMomentum, groups) };
      optimizer.paramGroups.forEach((group, i) => {
        Object.assign(group, { momentum: base[i] });
      });
    }
    optimizer.paramGroups.forEach((group, i) => {
      group.lr = baseLrs[i];
    });
    const totalSize = stepSizeUp + stepSizeDown;
    super(optimizer, {
      maxLrs,
      totalSize,
      stepRatio: stepSizeUp / totalSize,
      scaleFn: scaleFn ?? scaleOf(mode, gamma),
      scaleMode: scaleFn !== undefined ? scaleMode : mode === "exp_range" ? "iterations" : "cycle",
      momenta,
    });
    // As PyTorch, the first step used the groups' initial learning rates; the cycle's base is baseLr.
    this.baseLrs = baseLrs;
  }

  protected computeLr(): number[] {
    const { maxLrs, totalSize, stepRatio, scaleFn, scaleMode, momenta } = this.options;
    const cycle = Math.floor(1 + this.lastEpoch / totalSize);
    const x = 1 + this.lastEpoch / totalSize - cycle;
    const height = x <= stepRatio ? x / stepRatio : (x - 1) / (stepRatio - 1);
    const scale = scaleFn(scaleMode === "cycle" ? cycle : this.lastEpoch);
    if (momenta !== null) {
      this.optimizer.paramGroups.forEach((group, i) => {
        const momentum = momenta.max[i] - (momenta.max[i] - momenta.base[i]) * height * scale;
        Object.assign(group, { momentum });
      });
    }
    return this.baseLrs.map((base, i) => base + (maxLrs[i] - base) * height * scale);
  }
}
