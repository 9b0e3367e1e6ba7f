// LambdaLR, SequentialLR, CosineAnnealingWarmRestarts, CyclicLR and ReduceLROnPlateau against PyTorch 1.13.1's learning rates bit for bit (test/fixtures/schedulers-breadth.json from generate_breadth.py), plus resume and errors.
import { readFileSync } from "node:fs";
import { type Tensor, tensor } from "@normgrad/core";
import { describe, expect, it } from "vitest";
import {
  Adam,
  CosineAnnealingLR,
  CosineAnnealingWarmRestarts,
  CyclicLR,
  ExponentialLR,
  LambdaLR,
  LinearLR,
  type LRScheduler,
  MultiStepLR,
  ReduceLROnPlateau,
  SequentialLR,
  SGD,
  StepLR,
} from "../src/index.ts";

interface SchedulerSpec {
  kind: string;
  options?: Record<string, unknown>;
}

interface HistoryCase {
  name: string;
  config: { scheduler: SchedulerSpec; lrs: number[]; steps: number; epochs: number[] | null };
  /** `lrs[i]` = get_last_lr() after i steps (0: construction); `momenta` likewise for CyclicLR. */
  expected: { lrs: number[][]; momenta?: number[][]; state_keys: string[] };
}

interface PlateauCase {
  name: string;
  config: { scheduler: SchedulerSpec; lrs: number[]; metrics: number[] };
  /** Groups' lrs and [num_bad_epochs, cooldown_counter] after each step(metric). */
  expected: { lrs: number[][]; counters: number[][]; best: number; last_epoch: number; state_keys: string[] };
}

const fixture: { cases: (HistoryCase | PlateauCase)[] } = JSON.parse(
  readFileSync(new URL("./fixtures/schedulers-breadth.json", import.meta.url), "utf8"),
);
const isPlateau = (c: HistoryCase | PlateauCase): c is PlateauCase =>
  c.config.scheduler.kind === "ReduceLROnPlateau";
const historyCases = fixture.cases.filter((c): c is HistoryCase => !isPlateau(c));
const plateauCases = fixture.cases.filter(isPlateau);

// The same functions as LAMBDAS in generate_breadth.py.
const LAMBDAS: Record<string, (epoch: number) => number> = {
  inverse: (e) => 1.0 / (1 + 0.1 * e),
  halve_every_3: (e) => 0.5 ** Math.floor(e / 3),
  warmup_5: (e) => Math.min(1.0, (e + 1) / 5),
};

/** PyTorch's name in normgrad's spelling: `step_size` → `stepSize`, `T_0` → `t0`, `_last_lr` → `lastLr`. */
function camel(name: string): string {
  const joined = name.replace(/^_/, "").replace(/_(\w)/g, (_, c: string) => c.toUpperCase());
  return joined[0].toLowerCase() + joined.slice(1);
}

function camelOptions(options: Record<string, unknown> = {}): Record<string, unknown> {
  return Object.fromEntries(Object.entries(options).map(([k, v]) => [camel(k), v]));
}

function parameter(): Tensor {
  return tensor([1], { dtype: "float64" }).requiresGrad_();
}

function sgd(lrs: number[]): SGD {
  return new SGD(
    lrs.map((lr) => ({ params: [parameter()], lr })),
    { lr: lrs[0], momentum: 0.9 },
  );
}

/** The scheduler a fixture's spec describes, PyTorch's option names translated. */
function makeScheduler(optimizer: SGD, spec: SchedulerSpec): LRScheduler {
  const o = camelOptions(spec.options);
  switch (spec.kind) {
    case "LambdaLR": {
      const fns = (o.lambdas as string[]).map((name) => LAMBDAS[name]);
      return new LambdaLR(optimizer, { lrLambda: fns.length > 1 ? fns : fns[0] });
    }
    case "SequentialLR":
      return new SequentialLR(optimizer, {
        schedulers: (o.schedulers as SchedulerSpec[]).map((child) => makeScheduler(optimizer, child)),
        milestones: o.milestones as number[],
      });
    case "CyclicLR": {
      const scaleFn = typeof o.scaleFn === "string" ? LAMBDAS[o.scaleFn] : undefined;
      return new CyclicLR(optimizer, { ...o, scaleFn } as ConstructorParameters<typeof CyclicLR>[1]);
    }
    case "CosineAnnealingWarmRestarts":
      return new CosineAnnealingWarmRestarts(optimizer, o as { t0: number });
    case "LinearLR":
      return new LinearLR(optimizer, o);
    case "ExponentialLR":
      return new ExponentialLR(optimizer, o as { gamma: number });
    case "StepLR":
      return new StepLR(optimizer, o as { stepSize: number });
    case "MultiStepLR":
      return new MultiStepLR(optimizer, o as { milestones: number[] });
    case "CosineAnnealingLR":
      return new CosineAnnealingLR(optimizer, o as { tMax: number });
    default:
      throw new Error(`no scheduler ${spec.kind}`);
  }
}

function runHistory({ config }: HistoryCase, steps = config.steps) {
  const optimizer = sgd(config.lrs);
  const scheduler = makeScheduler(optimizer, config.scheduler);
  const lrs = [scheduler.getLastLr()];
  const momenta = [optimizer.paramGroups.map((g) => g.momentum)];
  for (let i = 0; i < steps; i++) {
    optimizer.step();
    if (config.epochs === null) scheduler.step();
    else (scheduler as CosineAnnealingWarmRestarts).step(config.epochs[i]);
    lrs.push(scheduler.getLastLr());
    momenta.push(optimizer.paramGroups.map((g) => g.momentum));
  }
  return { optimizer, scheduler, lrs, momenta };
}

/** Our state dict's keys, each of them one of torch's (translated), so resumed state keeps PyTorch's names. */
function expectTorchNames(ours: object, torchKeys: string[]): void {
  // Every normgrad scheduler keeps baseLrs; torch's SequentialLR alone has no base_lrs.
  const theirs = [...torchKeys.map(camel), "baseLrs"];
  expect(Object.keys(ours).filter((key) => !theirs.includes(key))).toEqual([]);
}

describe.each(historyCases)("$name against PyTorch", (c) => {
  it(`gives torch's get_last_lr() bit for bit over ${c.config.steps} steps`, () => {
    const { scheduler, lrs, momenta } = runHistory(c);
    expect(lrs).toEqual(c.expected.lrs);
    if (c.expected.momenta !== undefined) expect(momenta).toEqual(c.expected.momenta);
    expectTorchNames(scheduler.stateDict(), c.expected.state_keys);
  });

  it.skipIf(c.config.epochs !== null)("resumes from its state dict mid-way", () => {
    const half = Math.floor(c.config.steps / 2);
    const first = runHistory(c, half);
    const resumedOptimizer = sgd(c.config.lrs);
    const resumed = makeScheduler(resumedOptimizer, c.config.scheduler);
    resumedOptimizer.loadStateDict(first.optimizer.stateDict());
    resumed.loadStateDict(first.scheduler.stateDict() as never);
    const rest = [];
    for (let i = half; i < c.config.steps; i++) {
      resumed.step();
      rest.push(resumed.getLastLr());
    }
    expect(rest).toEqual(c.expected.lrs.slice(half + 1));
  });
});

describe.each(plateauCases)("$name against PyTorch", (c) => {
  const make = (optimizer: SGD) =>
    new ReduceLROnPlateau(optimizer, camelOptions(c.config.scheduler.options) as never);

  it(`cuts the rates as torch does over ${c.config.metrics.length} epochs`, () => {
    const optimizer = sgd(c.config.lrs);
    const scheduler = make(optimizer);
    const lrs = [];
    const counters = [];
    for (const metric of c.config.metrics) {
      optimizer.step();
      scheduler.step(metric);
      lrs.push(scheduler.getLastLr());
      counters.push([scheduler.numBadEpochs, scheduler.cooldownCounter]);
    }
    expect(lrs).toEqual(c.expected.lrs);
    expect(counters).toEqual(c.expected.counters);
    expect(scheduler.best).toBe(c.expected.best);
    expect(scheduler.lastEpoch).toBe(c.expected.last_epoch);
    expectTorchNames(scheduler.stateDict(), c.expected.state_keys);
  });

  it("resumes from its state dict mid-way", () => {
    const half = Math.floor(c.config.metrics.length / 2);
    const optimizer = sgd(c.config.lrs);
    const first = make(optimizer);
    for (const metric of c.config.metrics.slice(0, half)) first.step(metric);
    const resumedOptimizer = sgd(c.config.lrs);
    resumedOptimizer.loadStateDict(optimizer.stateDict());
    const resumed = make(resumedOptimizer);
    resumed.loadStateDict(first.stateDict());
    const rest = c.config.metrics.slice(half).map((metric) => {
      resumed.step(metric);
      return resumed.getLastLr();
    });
    expect(rest).toEqual(c.expected.lrs.slice(half));
  });
});

describe("the new schedulers by hand", () => {
  it("CosineAnnealingWarmRestarts per batch: step(epoch + i/iters) follows the closed form", () => {
    const scheduler = new CosineAnnealingWarmRestarts(sgd([1]), { t0: 2, tMult: 2 });
    scheduler.step(2.5); // in the second period (length 4), 0.5 in
    expect(scheduler.getLastLr()[0]).toBeCloseTo((1 + Math.cos((Math.PI * 0.5) / 4)) / 2, 15);
    expect([scheduler.tCur, scheduler.tI, scheduler.lastEpoch]).toEqual([0.5, 4, 2]);
  });

  it("CyclicLR sets each group's lr and momentum to the bottom of the cycle at construction", () => {
    const optimizer = sgd([5, 5]);
    new CyclicLR(optimizer, { baseLr: [0.1, 0.2], maxLr: 1, baseMomentum: 0.7 });
    expect(optimizer.paramGroups.map((g) => [g.lr, g.momentum])).toEqual([
      [0.1, 0.9],
      [0.2, 0.9],
    ]);
  });
});

describe("bad options of the new schedulers are errors naming the value", () => {
  const opt = () => sgd([0.1]);
  it.each([
    [
      "LambdaLR with two functions for one group",
      () => new LambdaLR(opt(), { lrLambda: [(e) => e, (e) => e] }),
      /LambdaLR: expected 1 lrLambda function\(s\), one per parameter group, got 2/,
    ],
    [
      "SequentialLR with a scheduler of another optimizer",
      () => new SequentialLR(opt(), { schedulers: [new StepLR(opt(), { stepSize: 1 })], milestones: [] }),
      /scheduler 0 belongs to another optimizer/,
    ],
    [
      "SequentialLR milestone count",
      () => {
        const o = opt();
        return new SequentialLR(o, { schedulers: [new StepLR(o, { stepSize: 1 })], milestones: [3] });
      },
      /got 1 scheduler\(s\) and 1 milestone\(s\)/,
    ],
    [
      "CosineAnnealingWarmRestarts t0 0",
      () => new CosineAnnealingWarmRestarts(opt(), { t0: 0 }),
      /t0 must be a positive integer, got 0/,
    ],
    [
      "CosineAnnealingWarmRestarts tMult 1.5",
      () => new CosineAnnealingWarmRestarts(opt(), { t0: 2, tMult: 1.5 }),
      /tMult must be a positive integer, got 1.5/,
    ],
    [
      "CosineAnnealingWarmRestarts negative epoch",
      () => new CosineAnnealingWarmRestarts(opt(), { t0: 2 }).step(-1),
      /epoch must be a finite number >= 0, got -1/,
    ],
    [
      "CyclicLR unknown mode",
      () => new CyclicLR(opt(), { baseLr: 0.1, maxLr: 1, mode: "sine" as never }),
      /mode must be "triangular", "triangular2" or "exp_range" \(or give scaleFn\), got "sine"/,
    ],
    [
      "CyclicLR maxLr count",
      () => new CyclicLR(opt(), { baseLr: 0.1, maxLr: [1, 2] }),
      /expected 1 value\(s\) for maxLr, one per parameter group, got 2/,
    ],
    [
      "CyclicLR stepSizeUp 0",
      () => new CyclicLR(opt(), { baseLr: 0.1, maxLr: 1, stepSizeUp: 0 }),
      /stepSizeUp must be .* > 0, got 0/,
    ],
    [
      "CyclicLR momentum cycling on Adam (as PyTorch 1.13)",
      () => new CyclicLR(new Adam([parameter()]), { baseLr: 0.1, maxLr: 1 }),
      /parameter group 0 has no momentum to cycle/,
    ],
    [
      "ReduceLROnPlateau factor 1",
      () => new ReduceLROnPlateau(opt(), { factor: 1 }),
      /factor must be in \[0, 1\), got 1/,
    ],
    [
      "ReduceLROnPlateau mode",
      () => new ReduceLROnPlateau(opt(), { mode: "up" as never }),
      /mode must be "min" or "max", got "up"/,
    ],
    [
      "ReduceLROnPlateau thresholdMode",
      () => new ReduceLROnPlateau(opt(), { thresholdMode: "pct" as never }),
      /thresholdMode must be "rel" or "abs", got "pct"/,
    ],
    [
      "ReduceLROnPlateau patience 1.5",
      () => new ReduceLROnPlateau(opt(), { patience: 1.5 }),
      /patience must be an integer >= 0, got 1.5/,
    ],
    [
      "ReduceLROnPlateau minLr count",
      () => new ReduceLROnPlateau(opt(), { minLr: [0, 0] }),
      /expected 1 minLr value\(s\), one per parameter group, got 2/,
    ],
  ])("%s", (_, make, message) => {
    expect(make).toThrow(message);
  });
});
