// SGD, Adam and AdamW against the PyTorch 1.13 fixtures: both update paths, float64 and float32.
import { readdirSync, readFileSync } from "node:fs";
import { type DType, Tensor, tensor } from "@normgrad/core";
import { describe, expect, it } from "vitest";
import { Adam, AdamW, SGD } from "../src/index.ts";

interface FixtureTensor {
  shape: number[];
  data: number[];
}

interface OptimFixture {
  name: string;
  config: { algo: "sgd" | "adam" | "adamw"; hparams: Record<string, unknown>; steps: number };
  inputs: Record<string, FixtureTensor>;
  params: { param: FixtureTensor };
  expected: { param_history: FixtureTensor[]; state: Record<string, FixtureTensor> };
}

const fixtureDir = new URL("./fixtures/", import.meta.url);
const fixtures: OptimFixture[] = readdirSync(fixtureDir)
  .filter((file) => file.startsWith("optim_"))
  .map((file) => JSON.parse(readFileSync(new URL(file, fixtureDir), "utf8")));

function toTensor({ data, shape }: FixtureTensor, dtype: DType): Tensor {
  return tensor(data, { shape, dtype });
}

function number(value: unknown): number | undefined {
  return typeof value === "number" ? value : undefined;
}

/** Builds the optimizer a fixture describes, from PyTorch's snake_case hyperparameters. */
function makeOptimizer(fixture: OptimFixture, param: Tensor, fused: boolean): SGD | Adam | AdamW {
  const h = fixture.config.hparams;
  const lr = number(h.lr) ?? 0;
  const weightDecay = number(h.weight_decay);
  switch (fixture.config.algo) {
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
      return fixture.config.algo === "adam" ? new Adam([param], options) : new AdamW([param], options);
    }
    default:
      return fixture.config.algo satisfies never;
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
  const expectClose = (actual: Tensor, expected: FixtureTensor) => {
    expect(actual.shape).toEqual(expected.shape);
    const values = actual.dataSync();
    expected.data.forEach((want, i) => {
      expect(Math.abs(values[i] - want)).toBeLessThanOrEqual(
        tolerance.atol + tolerance.rtol * Math.abs(want),
      );
    });
  };

  it("matches the parameter after each step and the final state", () => {
    const param = toTensor(fixture.params.param, dtype).requiresGrad_();
    const optimizer = makeOptimizer(fixture, param, fused);
    for (let step = 0; step < fixture.config.steps; step++) {
      param.grad = toTensor(fixture.inputs[`grad_step${step}`], dtype);
      optimizer.step();
      expectClose(param, fixture.expected.param_history[step]);
    }
    const state: Record<string, unknown> = optimizer.stateDict().state[0] ?? {};
    const present = Object.keys(state).filter((key) => state[key] !== null);
    expect(present.sort()).toEqual(Object.keys(fixture.expected.state).sort());
    for (const [key, expected] of Object.entries(fixture.expected.state)) {
      const actual = state[key];
      if (typeof actual === "number") expect(actual).toBe(expected.data[0]);
      else if (actual instanceof Tensor) expectClose(actual, expected);
      else throw new Error(`state ${key} is ${String(actual)}`);
    }
  });
});
