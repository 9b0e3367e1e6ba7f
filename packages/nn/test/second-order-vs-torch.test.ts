// Second derivatives of ops, layers and losses against PyTorch 1.13.1 (test/fixtures/second-order.json), float64 and float32.
import { readFileSync } from "node:fs";
import { type DType, grad, type Tensor } from "@normgrad/core";
import { type FixtureTensor, fromFixture, PARITY_TOLERANCES } from "@normgrad/testing";
import { describe, expect, it } from "vitest";
import { F } from "../src/index.ts";

/** One case of second-order.json (see generate_second_order.py beside it). */
interface SecondOrderCase {
  name: string;
  inputs: Record<string, FixtureTensor>;
  constants: Record<string, FixtureTensor>;
  v: FixtureTensor;
  u: Record<string, FixtureTensor>;
  expected: {
    output: FixtureTensor;
    first: Record<string, FixtureTensor>;
    second: Record<string, FixtureTensor>;
  };
  notes: string;
}

const FILE: { cases: SecondOrderCase[] } = JSON.parse(
  readFileSync(new URL("./fixtures/second-order.json", import.meta.url), "utf8"),
);

/** Each case's function, in PyTorch's semantics, of its inputs and constants by name. */
const FUNCTIONS: Readonly<Record<string, (t: Readonly<Record<string, Tensor>>) => Tensor>> = {
  elementwise: ({ x }) => x.tanh().mul(x.sigmoid()).add(x.mul(0.3).exp()),
  matmul_log_softmax: ({ a, b }) => a.matmul(b).logSoftmax(1),
  linear_gelu: ({ x, w, b }) => F.gelu(F.linear(x, w, b)),
  conv2d_stride_pad_groups: ({ x, w }) => F.conv2d(x, w, { stride: 2, padding: 1, groups: 2 }).tanh(),
  max_pool2d: ({ x }) => F.maxPool2d(x, 2).square(),
  avg_pool2d: ({ x }) => F.avgPool2d(x, 3, { stride: 2, padding: 1 }).square(),
  batch_norm_train: ({ x, w, b }) => F.batchNorm(x, null, null, { weight: w, bias: b, training: true }),
  batch_norm_eval: ({ x, w, b, running_mean, running_var }) =>
    F.batchNorm(x, running_mean, running_var, { weight: w, bias: b, training: false }),
  layer_norm: ({ x, w, b }) => F.layerNorm(x, 4, { weight: w, bias: b }),
  group_norm: ({ x, w, b }) => F.groupNorm(x, 2, { weight: w, bias: b }),
  instance_norm: ({ x, w, b }) => F.instanceNorm(x, { weight: w, bias: b }),
  cross_entropy: ({ logits, target }) => F.crossEntropy(logits, target),
  mse_loss: ({ a, b }) => F.mseLoss(a, b),
  bce_with_logits: ({ logits, target }) => F.binaryCrossEntropyWithLogits(logits, target),
};

const TOLERANCES: Readonly<Record<"float64" | "float32", { rtol: number; atol: number }>> = {
  float64: { rtol: 1e-10, atol: 1e-12 },
  // Two differentiations deep, float32 rounding compounds once more than in first-order parity.
  float32: { rtol: 10 * PARITY_TOLERANCES.accumulated.rtol, atol: 10 * PARITY_TOLERANCES.accumulated.atol },
};

describe.each(["float64", "float32"] as const)(
  "second derivatives vs PyTorch, %s",
  (dtype: DType & keyof typeof TOLERANCES) => {
    it.each(FILE.cases)("$name ($notes)", (testCase) => {
      const fn = FUNCTIONS[testCase.name];
      if (fn === undefined) throw new Error(`no normgrad function for fixture case ${testCase.name}`);
      const names = Object.keys(testCase.inputs);
      const inputs = names.map((name) => fromFixture(testCase.inputs[name], dtype, { requiresGrad: true }));
      const constants = Object.fromEntries(
        Object.entries(testCase.constants).map(([name, value]) => [name, fromFixture(value, dtype)]),
      );
      const output = fn({ ...Object.fromEntries(names.map((name, i) => [name, inputs[i]])), ...constants });
      const tolerance = TOLERANCES[dtype];
      expect(output, "output").toBeAllclose(testCase.expected.output, tolerance);
      const first = grad([output], inputs, {
        gradOutputs: [fromFixture(testCase.v, dtype)],
        createGraph: true,
      });
      const weighted = first.map((gradient, i) => {
        if (gradient === null) throw new Error(`no first derivative for ${names[i]}`);
        expect(gradient, `first derivative w.r.t. ${names[i]}`).toBeAllclose(
          testCase.expected.first[names[i]],
          tolerance,
        );
        return gradient.mul(fromFixture(testCase.u[names[i]], dtype)).sum();
      });
      const total = weighted.reduce((sum, term) => sum.add(term));
      const second = grad([total], inputs, { allowUnused: true });
      second.forEach((gradient, i) => {
        const expected = testCase.expected.second[names[i]];
        // An input the first derivatives do not depend on (a linear one) has second derivative 0.
        expect(gradient ?? inputs[i].zerosLike(), `second derivative w.r.t. ${names[i]}`).toBeAllclose(
          expected,
          tolerance,
        );
      });
    });
  },
);
