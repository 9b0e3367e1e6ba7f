// The #20 activations and losses against PyTorch 1.13.1 (test/fixtures/breadth.json): outputs, gradients, reprs.
import { readFileSync } from "node:fs";
import type { DType, Tensor } from "@normgrad/core";
import { type Fixture, fromFixture } from "@normgrad/testing";
import { describe, expect, it } from "vitest";
import {
  type AnyModule,
  BCELoss,
  ELU,
  F,
  Hardswish,
  HuberLoss,
  KLDivLoss,
  type KlDivReduction,
  L1Loss,
  Mish,
  PReLU,
  type Reduction,
  SiLU,
  SmoothL1Loss,
  Softplus,
} from "../src/index.ts";
import { loadLocalFixtures } from "./local-fixtures.ts";

/** As layers-vs-torch.test.ts: float64 tight, float32 at the parity tolerance. */
const TOLERANCE = {
  float64: { rtol: 1e-12, atol: 1e-12 },
  float32: { rtol: 5e-4, atol: 1e-6 },
} as const;

function reductionOf(value: unknown): Reduction {
  if (value === "mean" || value === "sum" || value === "none") return value;
  throw new Error(`fixture reduction ${JSON.stringify(value)} is not mean, sum or none`);
}

function klReductionOf(value: unknown): KlDivReduction {
  return value === "batchmean" ? value : reductionOf(value);
}

/** A module of one input, or a loss of (input, target). */
type Built = { forward: (x: Tensor) => Tensor } | { forward: (input: Tensor, target: Tensor) => Tensor };

/** Each fixture op's module, built from the fixture's config; the functional form is checked beside it. */
const modules: Record<string, (config: Record<string, unknown>, dtype: DType) => AnyModule> = {
  silu: () => new SiLU(),
  softplus: ({ beta, threshold }) => new Softplus({ beta: Number(beta), threshold: Number(threshold) }),
  elu: ({ alpha }) => new ELU(Number(alpha)),
  mish: () => new Mish(),
  hardswish: () => new Hardswish(),
  prelu: ({ num_parameters: count }, dtype) => new PReLU(Number(count), { dtype }),
  l1_loss: ({ reduction }) => new L1Loss({ reduction: reductionOf(reduction) }),
  smooth_l1_loss: ({ reduction, beta }) =>
    new SmoothL1Loss({ reduction: reductionOf(reduction), beta: Number(beta) }),
  huber_loss: ({ reduction, delta }) =>
    new HuberLoss({ reduction: reductionOf(reduction), delta: Number(delta) }),
  kl_div: ({ reduction, log_target: logTarget }) =>
    new KLDivLoss({ reduction: klReductionOf(reduction), logTarget: logTarget === true }),
  binary_cross_entropy: ({ reduction }) => new BCELoss({ reduction: reductionOf(reduction) }),
};

const functional: Record<string, (config: Record<string, unknown>, ...args: Tensor[]) => Tensor> = {
  silu: (_, x) => F.silu(x),
  softplus: ({ beta, threshold }, x) => F.softplus(x, { beta: Number(beta), threshold: Number(threshold) }),
  elu: ({ alpha }, x) => F.elu(x, Number(alpha)),
  mish: (_, x) => F.mish(x),
  hardswish: (_, x) => F.hardswish(x),
  prelu: (_, x, weight) => F.prelu(x, weight),
  l1_loss: ({ reduction }, input, target) => F.l1Loss(input, target, { reduction: reductionOf(reduction) }),
  smooth_l1_loss: ({ reduction, beta }, input, target) =>
    F.smoothL1Loss(input, target, { reduction: reductionOf(reduction), beta: Number(beta) }),
  huber_loss: ({ reduction, delta }, input, target) =>
    F.huberLoss(input, target, { reduction: reductionOf(reduction), delta: Number(delta) }),
  kl_div: ({ reduction, log_target: logTarget }, input, target) =>
    F.klDiv(input, target, { reduction: klReductionOf(reduction), logTarget: logTarget === true }),
  binary_cross_entropy: ({ reduction }, input, target, weight) =>
    F.binaryCrossEntropy(input, target, { reduction: reductionOf(reduction), weight }),
};

/** The differentiable inputs in call order, then the constants; grads are read by fixture name. */
function argumentsOf(fixture: Fixture, dtype: DType): { args: Tensor[]; named: Record<string, Tensor> } {
  const named: Record<string, Tensor> = {};
  for (const [name, value] of Object.entries({ ...fixture.inputs, ...fixture.params })) {
    if (name === "dy") continue;
    named[name] = fromFixture(value, dtype, { requiresGrad: name in fixture.expected.grads });
  }
  const order = ["x", "input", "target", "weight"].filter((name) => name in named);
  return { args: order.map((name) => named[name]), named };
}

function check(
  fixture: Fixture,
  dtype: keyof typeof TOLERANCE,
  run: () => Tensor,
  named: Record<string, Tensor>,
): void {
  const output = run();
  expect(output.dtype).toBe(dtype);
  expect(output, "output").toBeAllclose(fixture.expected.output, TOLERANCE[dtype]);
  output.backward(fromFixture(fixture.inputs.dy, dtype));
  for (const [name, expected] of Object.entries(fixture.expected.grads)) {
    expect(named[name].grad, `grad of ${name}`).toBeAllclose(expected, TOLERANCE[dtype]);
  }
}

const fixtures = loadLocalFixtures("breadth.json");

describe.each(["float64", "float32"] as const)("breadth.json (%s)", (dtype) => {
  it.each(fixtures.map((fixture) => [fixture.name, fixture] as const))("F: %s", (_, fixture) => {
    const { args, named } = argumentsOf(fixture, dtype);
    const fn = functional[fixture.op];
    check(fixture, dtype, () => fn(fixture.config, ...args), named);
  });

  it.each(fixtures.map((fixture) => [fixture.name, fixture] as const))("module: %s", (_, fixture) => {
    const { args, named } = argumentsOf(fixture, dtype);
    const module = modules[fixture.op](fixture.config, dtype) as AnyModule & Built;
    if (module instanceof PReLU) {
      module.loadStateDict({ weight: named.weight });
      named.weight = module.weight;
      check(fixture, dtype, () => module.forward(args[0]), named);
      return;
    }
    if (module instanceof BCELoss && "weight" in named) {
      const weighted = new BCELoss({
        weight: named.weight,
        reduction: reductionOf(fixture.config.reduction),
      });
      check(fixture, dtype, () => weighted.forward(args[0], args[1]), named);
      return;
    }
    check(fixture, dtype, () => (module.forward as (...inputs: Tensor[]) => Tensor)(...args), named);
  });
});

const { reprs, state_dict: stateDict } = JSON.parse(
  readFileSync(new URL("./fixtures/breadth.json", import.meta.url), "utf8"),
) as { reprs: { expr: string; str: string }[]; state_dict: { expr: string; keys: string[] } };

const fromExpr: Record<string, () => AnyModule> = {
  "nn.SiLU()": () => new SiLU(),
  "nn.Softplus()": () => new Softplus(),
  "nn.Softplus(beta=2, threshold=10.5)": () => new Softplus({ beta: 2, threshold: 10.5 }),
  "nn.Softplus(beta=0.5, threshold=3)": () => new Softplus({ beta: 0.5, threshold: 3 }),
  "nn.ELU()": () => new ELU(),
  "nn.ELU(alpha=0.5)": () => new ELU(0.5),
  "nn.Mish()": () => new Mish(),
  "nn.Hardswish()": () => new Hardswish(),
  "nn.PReLU()": () => new PReLU(),
  "nn.PReLU(num_parameters=3, init=0.1)": () => new PReLU(3, { init: 0.1 }),
  "nn.L1Loss()": () => new L1Loss(),
  "nn.SmoothL1Loss()": () => new SmoothL1Loss(),
  "nn.SmoothL1Loss(beta=0.5)": () => new SmoothL1Loss({ beta: 0.5 }),
  "nn.HuberLoss()": () => new HuberLoss(),
  "nn.HuberLoss(delta=2.0)": () => new HuberLoss({ delta: 2 }),
  "nn.KLDivLoss()": () => new KLDivLoss(),
  "nn.KLDivLoss(reduction='batchmean', log_target=True)": () =>
    new KLDivLoss({ reduction: "batchmean", logTarget: true }),
  "nn.BCELoss()": () => new BCELoss(),
};

describe("reprs as PyTorch 1.13 prints them (breadth.json)", () => {
  it.each(reprs.filter(({ expr }) => expr in fromExpr).map(({ expr, str }) => [expr, str] as const))(
    "%s",
    (expr, str) => {
      expect(fromExpr[expr]().toString()).toBe(str);
    },
  );

  it("BCELoss(weight) keeps its weight as a buffer, as PyTorch's", () => {
    const expected = reprs.find(({ expr }) => expr.startsWith("nn.BCELoss(weight="));
    const loss = new BCELoss({
      weight: fromFixture({ shape: [3], dtype: "float64", data: [1, 1, 1] }, "float32"),
    });
    expect(loss.toString()).toBe(expected?.str);
    expect([...loss.stateDict().keys()]).toEqual(["weight"]);
  });

  it(`PReLU's state dict: ${stateDict.expr} → ${stateDict.keys.join(", ")}`, () => {
    const prelu = new PReLU(3);
    expect([...prelu.stateDict().keys()]).toEqual(stateDict.keys);
    expect(prelu.weight.tolist()).toEqual([0.25, 0.25, 0.25]);
    expect([...prelu.parameters()]).toHaveLength(1);
  });
});
