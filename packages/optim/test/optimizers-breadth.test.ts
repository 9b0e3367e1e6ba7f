// RMSprop, Adagrad and Adadelta against PyTorch 1.13.1 (test/fixtures/optimizers-breadth.json from generate_breadth.py): trajectories in float64 and float32, state-dict names, resume, memory and option errors.
import { readFileSync } from "node:fs";
import { type DType, fromValues, liveBuffers, type Tensor, tensor, tidy } from "@normgrad/core";
import "@normgrad/testing";
import { describe, expect, it } from "vitest";
import { Adadelta, Adagrad, RMSprop } from "../src/index.ts";

interface OptimizerCase {
  name: string;
  config: {
    algo: "rmsprop" | "adagrad" | "adadelta";
    hparams: Record<string, number | boolean>;
    steps: number;
  };
  inputs: { shape: number[]; param: number[]; grads: number[][] };
  /** The parameter after each step, the final state (numbers and flat tensors) and torch's group keys. */
  expected: { params: number[][]; state: Record<string, number | number[]>; group_keys: string[] };
}

const cases: OptimizerCase[] = JSON.parse(
  readFileSync(new URL("./fixtures/optimizers-breadth.json", import.meta.url), "utf8"),
).cases;

/** PyTorch's snake_case name in camelCase: `weight_decay` → `weightDecay`. */
const camel = (name: string) => name.replace(/_(\w)/g, (_, c: string) => c.toUpperCase());

/** The optimizer a case describes, its hyperparameters renamed to camelCase. */
function makeOptimizer({ config }: OptimizerCase, param: Tensor): RMSprop | Adagrad | Adadelta {
  const options = Object.fromEntries(Object.entries(config.hparams).map(([k, v]) => [camel(k), v]));
  switch (config.algo) {
    case "rmsprop":
      return new RMSprop([param], options);
    case "adagrad":
      return new Adagrad([param], options);
    case "adadelta":
      return new Adadelta([param], options);
    default:
      return config.algo satisfies never;
  }
}

function run(fixture: OptimizerCase, dtype: DType, steps = fixture.config.steps) {
  const { shape, param: start, grads } = fixture.inputs;
  const param = fromValues(start, shape, { dtype }).requiresGrad_();
  const optimizer = makeOptimizer(fixture, param);
  const history: Tensor[] = [];
  for (let step = 0; step < steps; step++) {
    param.grad = fromValues(grads[step], shape, { dtype });
    optimizer.step();
    history.push(param.detach().clone());
  }
  return { param, optimizer, history };
}

describe.each(
  cases.flatMap((fixture) => (["float64", "float32"] as const).map((dtype) => ({ fixture, dtype }))),
)("$fixture.name ($dtype)", ({ fixture, dtype }) => {
  // float64 follows PyTorch's float64 run to rounding; float32 rounds every stored value.
  const tolerance = dtype === "float64" ? { rtol: 1e-12, atol: 1e-13 } : { rtol: 1e-5, atol: 1e-6 };

  it("matches torch's parameter after every step and its final state, under torch's names", () => {
    const { optimizer, history } = run(fixture, dtype);
    history.forEach((param, step) => {
      expect(param, `parameter after step ${step}`).toBeAllclose(fixture.expected.params[step], tolerance);
    });
    const saved: Record<string, unknown> = optimizer.stateDict().state[0];
    const present = Object.keys(saved).filter((key) => saved[key] !== null);
    expect(present.sort()).toEqual(Object.keys(fixture.expected.state).sort());
    for (const [key, expected] of Object.entries(fixture.expected.state)) {
      if (typeof expected === "number") expect(saved[key], `state ${key}`).toBe(expected);
      else expect(saved[key] as Tensor, `state ${key}`).toBeAllclose(expected, tolerance);
    }
    const torchKeys = fixture.expected.group_keys.filter(
      (k) => !["params", "foreach", "differentiable"].includes(k),
    );
    const ours = Object.keys(optimizer.stateDict().paramGroups[0]).filter(
      (k) => !["params", "fused"].includes(k),
    );
    expect(ours.sort()).toEqual(torchKeys.map(camel).sort());
  });

  it("resumes from a state dict mid-way and ends where the straight run does", () => {
    const half = Math.floor(fixture.config.steps / 2);
    const first = run(fixture, dtype, half);
    const { shape, grads } = fixture.inputs;
    const param = first.param.detach().clone().requiresGrad_();
    const resumed = makeOptimizer(fixture, param);
    // Both are the same class; typed as the union of the three, the checker cannot see it.
    resumed.loadStateDict(first.optimizer.stateDict() as never);
    for (let step = half; step < fixture.config.steps; step++) {
      param.grad = fromValues(grads[step], shape, { dtype });
      resumed.step();
    }
    expect(param.tolist()).toEqual(run(fixture, dtype).param.tolist());
  });
});

describe("RMSprop, Adagrad and Adadelta", () => {
  it.each([
    ["RMSprop centered with momentum", (p: Tensor) => new RMSprop([p], { momentum: 0.9, centered: true })],
    ["Adagrad with lrDecay", (p: Tensor) => new Adagrad([p], { lrDecay: 0.1, initialAccumulatorValue: 0.1 })],
    ["Adadelta with weight decay", (p: Tensor) => new Adadelta([p], { weightDecay: 0.1 })],
  ])("%s keeps memory flat when each step runs inside tidy", (_, make) => {
    const p = tensor([1, -2, 3], { dtype: "float64" }).requiresGrad_();
    const optimizer = make(p);
    const trainStep = () =>
      tidy(() => {
        optimizer.zeroGrad();
        p.mul(p).sum().backward();
        optimizer.step();
      });
    trainStep();
    const live = liveBuffers();
    trainStep();
    trainStep();
    expect(liveBuffers()).toBe(live);
  });

  it("Adagrad holds every parameter's state from construction, as PyTorch does", () => {
    const optimizer = new Adagrad([tensor([1, 2]).requiresGrad_()], { initialAccumulatorValue: 0.5 });
    const saved = optimizer.stateDict().state[0];
    expect(saved.step).toBe(0);
    expect(saved.sum.tolist()).toEqual([0.5, 0.5]);
  });

  it("default to PyTorch's hyperparameters", () => {
    const p = () => tensor([1]).requiresGrad_();
    const { params: _r, ...rmsprop } = new RMSprop([p()]).paramGroups[0];
    expect(rmsprop).toEqual({
      lr: 1e-2,
      alpha: 0.99,
      eps: 1e-8,
      weightDecay: 0,
      momentum: 0,
      centered: false,
      maximize: false,
      fused: true,
    });
    const { params: _g, ...adagrad } = new Adagrad([p()]).paramGroups[0];
    expect(adagrad).toEqual({
      lr: 1e-2,
      lrDecay: 0,
      weightDecay: 0,
      initialAccumulatorValue: 0,
      eps: 1e-10,
      maximize: false,
      fused: true,
    });
    const { params: _d, ...adadelta } = new Adadelta([p()]).paramGroups[0];
    expect(adadelta).toEqual({ lr: 1, rho: 0.9, eps: 1e-6, weightDecay: 0, maximize: false, fused: true });
  });

  const p = () => tensor([1]).requiresGrad_();
  it.each([
    [
      "RMSprop negative lr",
      () => new RMSprop([p()], { lr: -1 }),
      /RMSprop: parameter group 0: lr must be a finite number >= 0, got -1/,
    ],
    [
      "RMSprop negative alpha",
      () => new RMSprop([p()], { alpha: -0.5 }),
      /alpha must be a finite number >= 0, got -0.5/,
    ],
    [
      "RMSprop NaN eps",
      () => new RMSprop([p()], { eps: Number.NaN }),
      /eps must be a finite number >= 0, got NaN/,
    ],
    [
      "RMSprop negative momentum",
      () => new RMSprop([p()], { momentum: -0.9 }),
      /momentum must be .* got -0.9/,
    ],
    [
      "RMSprop negative weightDecay",
      () => new RMSprop([p()], { weightDecay: -1 }),
      /weightDecay must be .* got -1/,
    ],
    [
      "Adagrad negative lrDecay",
      () => new Adagrad([p()], { lrDecay: -0.1 }),
      /Adagrad: parameter group 0: lrDecay must be .* got -0.1/,
    ],
    [
      "Adagrad negative initialAccumulatorValue",
      () => new Adagrad([p()], { initialAccumulatorValue: -1 }),
      /initialAccumulatorValue must be .* got -1/,
    ],
    ["Adagrad negative eps", () => new Adagrad([p()], { eps: -1e-10 }), /eps must be .* got -1e-10/],
    [
      "Adadelta rho 1.5",
      () => new Adadelta([p()], { rho: 1.5 }),
      /Adadelta: parameter group 0: rho must be in \[0, 1\], got 1.5/,
    ],
    ["Adadelta negative lr", () => new Adadelta([p()], { lr: -1 }), /lr must be .* got -1/],
    [
      "Adadelta Infinity weightDecay",
      () => new Adadelta([p()], { weightDecay: Number.POSITIVE_INFINITY }),
      /weightDecay must be .* got Infinity/,
    ],
  ])("rejects %s, naming the value", (_, make, message) => {
    expect(make).toThrow(message);
  });
});
