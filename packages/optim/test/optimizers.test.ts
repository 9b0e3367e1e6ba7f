// SGD, Adam and AdamW against the PyTorch 1.13 fixtures: both update paths, float64 and float32.
import { Tensor } from "@normgrad/core";
import { type Fixture, fromFixture, loadFixtures } from "@normgrad/testing";
import { describe, expect, it } from "vitest";
import { Adam, AdamW, SGD } from "../src/index.ts";

const fixtures = loadFixtures("optim_");

function algorithm(fixture: Fixture): "sgd" | "adam" | "adamw" {
  const { algo } = fixture.config;
  if (algo === "sgd" || algo === "adam" || algo === "adamw") return algo;
  throw new Error(`${fixture.name}: unknown algo ${String(algo)}`);
}

function hyperparameters(fixture: Fixture): Record<string, unknown> {
  const { hparams } = fixture.config;
  if (typeof hparams !== "object" || hparams === null) throw new Error(`${fixture.name} has no hparams`);
  return Object.fromEntries(Object.entries(hparams));
}

function number(value: unknown): number | undefined {
  return typeof value === "number" ? value : undefined;
}

/** Builds the optimizer a fixture describes, from PyTorch's snake_case hyperparameters. */
function makeOptimizer(fixture: Fixture, param: Tensor, fused: boolean): SGD | Adam | AdamW {
  const h = hyperparameters(fixture);
  const lr = number(h.lr) ?? 0;
  const weightDecay = number(h.weight_decay);
  const algo = algorithm(fixture);
  switch (algo) {
    case "sgd":
      return new SGD([param], {
        lr,
        fused,
        momentum: number(h.momentum),
        dampening: number(h.dampening),
        nesterov: h.nesterov === true,
        weightDecay,
      });
    case "adam":
    case "adamw": {
      const betas = Array.isArray(h.betas) ? ([h.betas[0], h.betas[1]] as const) : undefined;
      const options = { lr, fused, betas, eps: number(h.eps), weightDecay, amsgrad: h.amsgrad === true };
      return algo === "adam" ? new Adam([param], options) : new AdamW([param], options);
    }
    default:
      return algo satisfies never;
  }
}

const cases = fixtures.flatMap((fixture) =>
  [true, false].flatMap((fused) =>
    (["float64", "float32"] as const).map((dtype) => ({ name: fixture.name, fused, dtype, fixture })),
  ),
);

describe.each(cases)("$name (fused $fused, $dtype)", ({ fixture, fused, dtype }) => {
  // float64 follows PyTorch's float64 run to rounding; float32 rounds every stored value.
  const tolerance = dtype === "float64" ? { rtol: 1e-12, atol: 1e-13 } : { rtol: 1e-5, atol: 1e-6 };

  it("matches the parameter after each step and the final state", () => {
    const { param_history: history = [], state: expectedState = {} } = fixture.expected;
    const param = fromFixture(fixture.params.param, dtype).requiresGrad_();
    const optimizer = makeOptimizer(fixture, param, fused);
    for (let step = 0; step < Number(fixture.config.steps); step++) {
      param.grad = fromFixture(fixture.inputs[`grad_step${step}`], dtype);
      optimizer.step();
      expect(param, `parameter after step ${step}`).toBeAllclose(history[step], tolerance);
    }
    const state: Record<string, unknown> = optimizer.stateDict().state[0] ?? {};
    const present = Object.keys(state).filter((key) => state[key] !== null);
    expect(present.sort()).toEqual(Object.keys(expectedState).sort());
    for (const [key, expected] of Object.entries(expectedState)) {
      const actual = state[key];
      if (typeof actual === "number") expect(actual).toBe(expected.data[0]);
      else if (actual instanceof Tensor) expect(actual, `state ${key}`).toBeAllclose(expected, tolerance);
      else throw new Error(`state ${key} is ${String(actual)}`);
    }
  });
});
