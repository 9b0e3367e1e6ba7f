// The LR schedulers against values worked out from PyTorch's documented closed forms (StepLR also against PyTorch's own), plus chaining, resume and errors.
import { readFileSync } from "node:fs";
import { type Tensor, tensor } from "@normgrad/core";
import { describe, expect, it } from "vitest";
import {
  Adam,
  CosineAnnealingLR,
  ExponentialLR,
  LinearLR,
  type LRScheduler,
  MultiStepLR,
  OneCycleLR,
  type SchedulableOptimizer,
  SGD,
  StepLR,
} from "../src/index.ts";

function parameter(): Tensor {
  return tensor([1], { dtype: "float64" }).requiresGrad_();
}

/** Two groups with base learning rates 1 and 0.1, so every schedule is checked per group. */
function twoGroupSGD(): SGD {
  return new SGD([{ params: [parameter()] }, { params: [parameter()], lr: 0.1 }], { lr: 1, momentum: 0.9 });
}

/** The learning rates of every group for epochs 0..epochs−1 (construction is epoch 0). */
function lrsOverEpochs(scheduler: LRScheduler, epochs: number): number[][] {
  const history = [scheduler.getLastLr()];
  for (let epoch = 1; epoch < epochs; epoch++) {
    scheduler.step();
    history.push(scheduler.getLastLr());
  }
  return history;
}

function expectCloseTable(actual: number[][], expected: number[][]): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((row, epoch) => {
    row.forEach((value, group) => {
      expect(value, `epoch ${epoch}, group ${group}`).toBeCloseTo(expected[epoch][group], 12);
    });
  });
}

const cosine = (base: number, etaMin: number, tMax: number, epoch: number) =>
  etaMin + ((base - etaMin) * (1 + Math.cos((Math.PI * epoch) / tMax))) / 2;

describe.each([
  {
    name: "StepLR(stepSize 3, gamma 0.5): base·γ^⌊e/3⌋",
    make: (o: SGD) => new StepLR(o, { stepSize: 3, gamma: 0.5 }),
    closedForm: (base: number, e: number) => base * 0.5 ** Math.floor(e / 3),
  },
  {
    name: "MultiStepLR(milestones [5, 2, 5], gamma 0.5): a repeated milestone decays twice",
    make: (o: SGD) => new MultiStepLR(o, { milestones: [5, 2, 5], gamma: 0.5 }),
    closedForm: (base: number, e: number) => base * 0.5 ** [2, 5, 5].filter((m) => m <= e).length,
  },
  {
    name: "ExponentialLR(gamma 0.9): base·γ^e",
    make: (o: SGD) => new ExponentialLR(o, { gamma: 0.9 }),
    closedForm: (base: number, e: number) => base * 0.9 ** e,
  },
  {
    name: "CosineAnnealingLR(tMax 4, etaMin 0.01): periodic past tMax",
    make: (o: SGD) => new CosineAnnealingLR(o, { tMax: 4, etaMin: 0.01 }),
    closedForm: (base: number, e: number) => cosine(base, 0.01, 4, e),
  },
  {
    name: "LinearLR(startFactor 0.25, endFactor 1, totalIters 4): warm-up then constant",
    make: (o: SGD) => new LinearLR(o, { startFactor: 0.25, totalIters: 4 }),
    closedForm: (base: number, e: number) => base * (0.25 + (0.75 * Math.min(e, 4)) / 4),
  },
  {
    name: "LinearLR defaults (1/3 → 1 over 5)",
    make: (o: SGD) => new LinearLR(o),
    closedForm: (base: number, e: number) => base * (1 / 3 + ((2 / 3) * Math.min(e, 5)) / 5),
  },
])("$name", ({ make, closedForm }) => {
  it("follows the closed form for 13 epochs in every group", () => {
    const optimizer = twoGroupSGD();
    const scheduler = make(optimizer);
    const expected = Array.from({ length: 13 }, (_, e) => [closedForm(1, e), closedForm(0.1, e)]);
    expectCloseTable(lrsOverEpochs(scheduler, 13), expected);
    expect(optimizer.paramGroups.map((group) => group.lr)).toEqual(scheduler.getLastLr());
  });

  it("resumes from its state dict", () => {
    const straight = make(twoGroupSGD());
    lrsOverEpochs(straight, 4);
    const resumed = make(twoGroupSGD());
    resumed.loadStateDict(straight.stateDict());
    expectCloseTable(lrsOverEpochs(resumed, 5), lrsOverEpochs(straight, 5));
  });
});

interface StepLRCase {
  name: string;
  /** `set_lr` = [epoch, lr]: after that epoch's step, every group's lr is set by hand. */
  config: {
    lrs: number[];
    step_size: number;
    gamma: number;
    epochs: number;
    set_lr: [number, number] | null;
  };
  expected: { lrs: number[][] };
}

const stepLRCases: StepLRCase[] = JSON.parse(
  readFileSync(new URL("./fixtures/step-lr.json", import.meta.url), "utf8"),
).cases;

// A second check of StepLR, against PyTorch 1.13.1's own learning rates (test/fixtures/step-lr.json).
// Both multiply the current rate by γ at each multiple of stepSize (the chainable form, so a rate set
// by hand decays from there), and so agree to the last bit; base·γ^⌊e/stepSize⌋ would not.
describe.each(stepLRCases)("StepLR against PyTorch: $name", ({ config, expected }) => {
  it(`gives torch's get_last_lr() bit for bit over ${config.epochs} epochs, optimizer stepped each epoch`, () => {
    const optimizer = new SGD(
      config.lrs.map((lr) => ({ params: [parameter()], lr })),
      { lr: config.lrs[0], momentum: 0.9 },
    );
    const scheduler = new StepLR(optimizer, { stepSize: config.step_size, gamma: config.gamma });
    const history = [scheduler.getLastLr()];
    for (let epoch = 1; epoch < config.epochs; epoch++) {
      optimizer.step();
      scheduler.step();
      history.push(scheduler.getLastLr());
      if (config.set_lr !== null && epoch === config.set_lr[0]) {
        for (const group of optimizer.paramGroups) group.lr = config.set_lr[1];
      }
    }
    expect(history).toEqual(expected.lrs);
    expect(optimizer.paramGroups.map((group) => group.lr)).toEqual(expected.lrs.at(-1));
  });
});

describe("CosineAnnealingLR by hand", () => {
  it("halves the distance to etaMin at tMax/2 and reaches it at tMax", () => {
    const scheduler = new CosineAnnealingLR(new SGD([parameter()], { lr: 1 }), { tMax: 10, etaMin: 0.2 });
    const lrs = lrsOverEpochs(scheduler, 21).map(([lr]) => lr);
    expect(lrs[5]).toBeCloseTo(0.6, 14);
    expect(lrs[10]).toBeCloseTo(0.2, 14);
    expect(lrs[20]).toBeCloseTo(1, 14);
  });
});

describe("chained schedulers", () => {
  it("LinearLR warm-up with ExponentialLR multiply, as in PyTorch", () => {
    const optimizer = new SGD([parameter()], { lr: 1 });
    const schedulers = [
      new LinearLR(optimizer, { startFactor: 0.5, totalIters: 2 }),
      new ExponentialLR(optimizer, { gamma: 0.9 }),
    ];
    const lrs = [optimizer.paramGroups[0].lr];
    for (let epoch = 1; epoch < 6; epoch++) {
      for (const scheduler of schedulers) scheduler.step();
      lrs.push(optimizer.paramGroups[0].lr);
    }
    const expected = [0, 1, 2, 3, 4, 5].map((e) => (0.5 + (0.5 * Math.min(e, 2)) / 2) * 0.9 ** e);
    lrs.forEach((lr, e) => {
      expect(lr).toBeCloseTo(expected[e], 14);
    });
    expect(schedulers[1].baseLrs).toEqual([1]);
  });
});

describe("OneCycleLR", () => {
  // maxLr 1, divFactor 25, finalDivFactor 1e4: initial 0.04, minimum 4e-6. pctStart 0.3 of 10
  // steps: the rise ends at step 0.3·10 − 1 = 2, the fall at step 9.
  const initial = 0.04;
  const minimum = 4e-6;
  const cosAnneal = (start: number, end: number, pct: number) =>
    end + ((start - end) / 2) * (1 + Math.cos(Math.PI * pct));

  it("rises with a cosine to maxLr, then anneals to maxLr/(div·finalDiv), cycling SGD's momentum", () => {
    const optimizer = new SGD([parameter()], { lr: 0.1, momentum: 0.9 });
    const scheduler = new OneCycleLR(optimizer, { maxLr: 1, totalSteps: 10 });
    const momenta = [optimizer.paramGroups[0].momentum];
    const lrs = [scheduler.getLastLr()[0]];
    for (let step = 1; step <= 10; step++) {
      scheduler.step();
      lrs.push(scheduler.getLastLr()[0]);
      momenta.push(optimizer.paramGroups[0].momentum);
    }
    expect(lrs[0]).toBeCloseTo(initial, 14);
    expect(lrs[1]).toBeCloseTo(0.52, 14);
    expect(lrs[2]).toBeCloseTo(1, 14);
    for (let step = 3; step <= 10; step++)
      expect(lrs[step]).toBeCloseTo(cosAnneal(1, minimum, (step - 2) / 7), 14);
    expect(lrs[9]).toBeCloseTo(minimum, 14);
    expect(momenta[0]).toBeCloseTo(0.95, 14);
    expect(momenta[1]).toBeCloseTo(0.9, 14);
    expect(momenta[2]).toBeCloseTo(0.85, 14);
    expect(momenta[9]).toBeCloseTo(0.95, 14);
    expect(() => scheduler.step()).toThrow(/OneCycleLR: stepped 11 times, but totalSteps is 10/);
  });

  it("threePhase goes back to the initial rate, then anneals; linear strategy and Adam's beta1", () => {
    const optimizer = new Adam([parameter()], { betas: [0.9, 0.99] });
    const scheduler = new OneCycleLR(optimizer, {
      maxLr: 1,
      epochs: 2,
      stepsPerEpoch: 5,
      threePhase: true,
      annealStrategy: "linear",
    });
    const lrs = lrsOverEpochs(scheduler, 10).map(([lr]) => lr);
    // Phases end at steps 2, 2·0.3·10 − 2 = 4 and 9.
    const expected = [
      initial,
      0.52,
      1,
      0.52,
      initial,
      ...[1, 2, 3, 4, 5].map((k) => initial + ((minimum - initial) * k) / 5),
    ];
    lrs.forEach((lr, step) => {
      expect(lr).toBeCloseTo(expected[step], 14);
    });
    expect(optimizer.paramGroups[0].betas[0]).toBeCloseTo(0.95, 14);
    expect(optimizer.paramGroups[0].betas[1]).toBe(0.99);
  });

  it("takes one maxLr per group", () => {
    const scheduler = new OneCycleLR(twoGroupSGD(), {
      maxLr: [1, 0.5],
      totalSteps: 10,
      cycleMomentum: false,
    });
    expectCloseTable([scheduler.getLastLr()], [[1 / 25, 0.5 / 25]]);
    expect(scheduler.baseLrs).toEqual([1 / 25, 0.5 / 25]);
  });
});

describe("bad scheduler options are errors naming the value", () => {
  const sgd = () => new SGD([parameter()], { lr: 0.1 });
  const noMomentum: SchedulableOptimizer = { paramGroups: [{ lr: 0.1 }] };
  it.each([
    [
      "StepLR stepSize 0",
      () => new StepLR(sgd(), { stepSize: 0 }),
      /StepLR: stepSize must be a positive integer, got 0/,
    ],
    [
      "StepLR negative gamma",
      () => new StepLR(sgd(), { stepSize: 2, gamma: -1 }),
      /StepLR: gamma must be .* > 0, got -1/,
    ],
    [
      "MultiStepLR milestone 1.5",
      () => new MultiStepLR(sgd(), { milestones: [1.5] }),
      /each milestone must be a positive integer, got 1.5/,
    ],
    [
      "CosineAnnealingLR tMax 0",
      () => new CosineAnnealingLR(sgd(), { tMax: 0 }),
      /tMax must be a positive integer, got 0/,
    ],
    [
      "LinearLR startFactor 0",
      () => new LinearLR(sgd(), { startFactor: 0 }),
      /LinearLR: startFactor must be in \(0, 1\], got 0/,
    ],
    [
      "LinearLR endFactor 2",
      () => new LinearLR(sgd(), { endFactor: 2 }),
      /endFactor must be in \[0, 1\], got 2/,
    ],
    [
      "OneCycleLR without a length",
      () => new OneCycleLR(sgd(), { maxLr: 1 }),
      /give totalSteps, or both epochs and stepsPerEpoch/,
    ],
    [
      "OneCycleLR pctStart 1.5",
      () => new OneCycleLR(sgd(), { maxLr: 1, totalSteps: 10, pctStart: 1.5 }),
      /pctStart must be in \[0, 1\], got 1.5/,
    ],
    [
      "OneCycleLR maxLr count",
      () => new OneCycleLR(sgd(), { maxLr: [1, 2], totalSteps: 10 }),
      /maxLr has 2 value\(s\) for 1 parameter group\(s\)/,
    ],
    [
      "OneCycleLR zero-length phase",
      () => new OneCycleLR(sgd(), { maxLr: 1, totalSteps: 10, pctStart: 0.1 }),
      /pctStart 0.1 with totalSteps 10 makes a phase of zero steps/,
    ],
    [
      "OneCycleLR nothing to cycle",
      () => new OneCycleLR(noMomentum, { maxLr: 1, totalSteps: 10 }),
      /parameter group 0 has neither momentum nor betas/,
    ],
  ])("%s", (_, make, message) => {
    expect(make).toThrow(message);
  });
});
