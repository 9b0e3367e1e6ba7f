// Attention against PyTorch 1.13.1 (test/fixtures/attention.json): SDPA, MultiheadAttention, the Transformer encoder; gradcheck, modes, errors.
import { readFileSync } from "node:fs";
import { type DType, gradcheck, manualSeed, randn, type Tensor, tensor } from "@normgrad/core";
import "@normgrad/testing";
import { describe, expect, it } from "vitest";
import {
  type AnyModule,
  F,
  LayerNorm,
  MultiheadAttention,
  StateDict,
  TransformerEncoder,
  TransformerEncoderLayer,
} from "../src/index.ts";

interface FixtureTensor {
  shape: number[];
  /** null stands for −∞ (a float mask's blocked entries; JSON has no infinities). */
  data: (number | null)[];
}

interface FixtureMask extends FixtureTensor {
  bool: boolean;
}

interface AttentionCase {
  name: string;
  kind: "sdpa" | "mha" | "encoder" | "encoder_stack";
  config: Record<string, number | string | boolean | null>;
  inputs: Record<string, FixtureTensor>;
  params?: Record<string, FixtureTensor>;
  mask?: FixtureMask | null;
  attn_mask?: FixtureMask | null;
  key_padding_mask?: FixtureMask | null;
  src_mask?: FixtureMask | null;
  cotangents: FixtureTensor[];
  expected: {
    outputs: FixtureTensor[];
    inputGrads: Record<string, FixtureTensor>;
    paramGrads: Record<string, FixtureTensor>;
  };
  repr?: string;
  keys?: string[];
}

const { cases }: { cases: AttentionCase[] } = JSON.parse(
  readFileSync(new URL("./fixtures/attention.json", import.meta.url), "utf8"),
);

const TOLERANCE = {
  float64: { rtol: 1e-10, atol: 1e-12 },
  float32: { rtol: 5e-4, atol: 1e-6 },
} as const;

const fromFixture = (t: FixtureTensor, dtype: DType): Tensor =>
  tensor(
    t.data.map((x) => x ?? Number.NEGATIVE_INFINITY),
    { dtype },
  ).reshape(t.shape);
/** PyTorch's boolean masks as bool tensors; float masks in the run's dtype. */
const maskOf = (mask: FixtureMask | null | undefined, dtype: DType): Tensor | null =>
  mask === null || mask === undefined ? null : fromFixture(mask, mask.bool ? "bool" : dtype);

const num = (value: unknown): number | undefined => (typeof value === "number" ? value : undefined);
const flag = (value: unknown): boolean | undefined => (typeof value === "boolean" ? value : undefined);

function buildModule(fixture: AttentionCase, dtype: DType): AnyModule | null {
  const c = fixture.config;
  if (fixture.kind === "sdpa") return null;
  if (fixture.kind === "mha") {
    return new MultiheadAttention(Number(c.embed_dim), Number(c.num_heads), {
      kdim: num(c.kdim),
      vdim: num(c.vdim),
      batchFirst: flag(c.batch_first),
      bias: flag(c.bias),
      dtype,
    });
  }
  const layer = new TransformerEncoderLayer(Number(c.d_model), Number(c.nhead), {
    dimFeedforward: num(c.dim_feedforward),
    dropout: 0,
    activation: c.activation === "gelu" ? "gelu" : "relu",
    batchFirst: flag(c.batch_first),
    normFirst: flag(c.norm_first),
    dtype,
  });
  if (fixture.kind === "encoder") return layer;
  return new TransformerEncoder(layer, Number(c.num_layers), {
    norm: new LayerNorm(Number(c.d_model), { dtype }),
  });
}

function run(
  fixture: AttentionCase,
  module: AnyModule | null,
  inputs: Record<string, Tensor>,
  dtype: DType,
): Tensor[] {
  if (module instanceof MultiheadAttention) {
    const [output, weights] = module.forward(inputs.query, inputs.key, inputs.value, {
      attnMask: maskOf(fixture.attn_mask, dtype),
      keyPaddingMask: maskOf(fixture.key_padding_mask, dtype),
      averageAttnWeights: fixture.config.average_attn_weights !== false,
    });
    if (weights === null) throw new Error("no weights");
    return [output, weights];
  }
  if (module instanceof TransformerEncoderLayer || module instanceof TransformerEncoder) {
    const options = {
      srcMask: maskOf(fixture.src_mask, dtype),
      srcKeyPaddingMask: maskOf(fixture.key_padding_mask, dtype),
    };
    return [module.forward(inputs.src, options)];
  }
  const isCausal = fixture.config.is_causal === true;
  const scale = num(fixture.config.scale);
  return [
    F.scaledDotProductAttention(inputs.query, inputs.key, inputs.value, {
      attnMask: maskOf(fixture.mask, dtype),
      isCausal,
      scale,
    }),
  ];
}

describe.each(["float64", "float32"] as const)("against PyTorch (%s)", (dtype) => {
  it.each(cases.map((c) => [c.name, c] as const))("%s", (_, fixture) => {
    const module = buildModule(fixture, dtype);
    if (module !== null && fixture.params !== undefined) {
      const state = new StateDict();
      for (const [key, value] of Object.entries(fixture.params)) state.set(key, fromFixture(value, dtype));
      module.loadStateDict(state);
    }
    const inputs = Object.fromEntries(
      Object.entries(fixture.inputs).map(([name, value]) => [
        name,
        fromFixture(value, dtype).requiresGrad_(),
      ]),
    );
    const outputs = run(fixture, module, inputs, dtype);
    outputs.forEach((output, i) => {
      expect(output, `output ${i}`).toBeAllclose(
        fromFixture(fixture.expected.outputs[i], "float64"),
        TOLERANCE[dtype],
      );
    });
    outputs
      .map((output, i) => output.mul(fromFixture(fixture.cotangents[i], dtype)).sum())
      .reduce((total, term) => total.add(term))
      .backward();
    for (const [name, expected] of Object.entries(fixture.expected.inputGrads)) {
      expect(inputs[name].grad, `grad of ${name}`).toBeAllclose(
        fromFixture(expected, "float64"),
        TOLERANCE[dtype],
      );
    }
    const parameters = new Map(module?.namedParameters() ?? []);
    for (const [key, expected] of Object.entries(fixture.expected.paramGrads)) {
      expect(parameters.get(key)?.grad, `grad of ${key}`).toBeAllclose(
        fromFixture(expected, "float64"),
        TOLERANCE[dtype],
      );
    }
  });
});

describe("module structure", () => {
  const withModules = cases.filter((c) => c.repr !== undefined);
  it.each(withModules.map((c) => [c.name, c] as const))(
    "%s: PyTorch's repr and state-dict keys",
    (_, fixture) => {
      const module = buildModule(fixture, "float64");
      expect(module?.toString()).toBe(fixture.repr);
      expect([...(module?.stateDict().keys() ?? [])]).toEqual(fixture.keys);
    },
  );

  it("starts as PyTorch: Xavier-uniform input projection, zero biases", () => {
    manualSeed(0);
    const attention = new MultiheadAttention(8, 2);
    const bound = Math.sqrt(6 / (8 + 24));
    expect(attention.in_proj_weight?.abs().max().item()).toBeLessThanOrEqual(bound);
    expect(attention.in_proj_bias?.abs().max().item()).toBe(0);
    expect(attention.outProj.bias?.abs().max().item()).toBe(0);
  });

  it("TransformerEncoder's layers start as copies of the given layer, with their own parameters", () => {
    const layer = new TransformerEncoderLayer(4, 2, { dimFeedforward: 8 });
    const encoder = new TransformerEncoder(layer, 2);
    const [first, second] = [...encoder.layers];
    expect(first.linear1.weight).toBeAllclose(layer.linear1.weight, { rtol: 0, atol: 0 });
    expect(second.linear1.weight).toBeAllclose(layer.linear1.weight, { rtol: 0, atol: 0 });
    expect(first.linear1.weight).not.toBe(second.linear1.weight);
    expect(new TransformerEncoder(layer.eval(), 2).layers.at(1).training).toBe(false);
  });
});

describe("gradcheck (float64)", () => {
  it("scaledDotProductAttention with a float mask, w.r.t. q, k and v", () => {
    manualSeed(1);
    const [q, k, v] = [randn([2, 3, 4]), randn([2, 5, 4]), randn([2, 5, 3])].map((t) =>
      t.to("float64").requiresGrad_(),
    );
    const mask = randn([3, 5], { dtype: "float64" });
    expect(
      gradcheck((a, b, c) => F.scaledDotProductAttention(a, b, c, { attnMask: mask }), [q, k, v]),
    ).toHaveLength(3);
  });

  it("a Pre-LN encoder layer w.r.t. its input", () => {
    manualSeed(2);
    const layer = new TransformerEncoderLayer(4, 2, {
      dimFeedforward: 6,
      dropout: 0,
      normFirst: true,
      dtype: "float64",
    });
    const src = randn([3, 2, 4], { dtype: "float64" }).requiresGrad_();
    expect(gradcheck((x) => layer.forward(x), [src])).toHaveLength(1);
  });
});

describe("modes and masks", () => {
  it("applies attention dropout only in training", () => {
    manualSeed(3);
    const attention = new MultiheadAttention(4, 2, { dropout: 0.5 });
    const x = randn([3, 2, 4]);
    attention.eval();
    const [evalA, weightsA] = attention.forward(x, x, x);
    const [evalB] = attention.forward(x, x, x);
    expect(evalA).toBeAllclose(evalB, { rtol: 0, atol: 0 });
    expect(weightsA?.sum(-1)).toBeAllclose([1, 1, 1, 1, 1, 1], { rtol: 1e-6, atol: 1e-6 });
    attention.train();
    const [trainOutput, trainWeights] = attention.forward(x, x, x, { averageAttnWeights: false });
    expect(trainOutput.sub(evalA).abs().max().item()).toBeGreaterThan(1e-4);
    // As PyTorch, the weights come back after dropout: some zeros, the rest scaled by 1/(1 − p).
    expect(trainWeights?.eq(0).sum().item()).toBeGreaterThan(0);
    expect(trainWeights?.max().item()).toBeGreaterThan(1);
  });

  it("an encoder layer's dropout acts in training only", () => {
    manualSeed(5);
    const layer = new TransformerEncoderLayer(4, 2, { dimFeedforward: 8, dropout: 0.5 });
    const src = randn([3, 2, 4]);
    layer.eval();
    const evalOutput = layer.forward(src);
    expect(layer.forward(src)).toBeAllclose(evalOutput, { rtol: 0, atol: 0 });
    layer.train();
    expect(layer.forward(src).sub(evalOutput).abs().max().item()).toBeGreaterThan(1e-4);
  });

  it("isCausal is the lower-triangular mask, int32 0/1 masks act as bool, needWeights: false returns no weights", () => {
    manualSeed(4);
    const [q, k, v] = [randn([4, 3]), randn([4, 3]), randn([4, 2])];
    const causal = F.scaledDotProductAttention(q, k, v, { isCausal: true });
    const mask = tensor(
      [
        [1, 0, 0, 0],
        [1, 1, 0, 0],
        [1, 1, 1, 0],
        [1, 1, 1, 1],
      ],
      { dtype: "int32" },
    );
    expect(causal).toBeAllclose(F.scaledDotProductAttention(q, k, v, { attnMask: mask }), {
      rtol: 0,
      atol: 0,
    });
    // `ne(0)` is a comparison, so its result is the bool mask PyTorch would pass.
    expect(causal).toBeAllclose(F.scaledDotProductAttention(q, k, v, { attnMask: mask.ne(0) }), {
      rtol: 0,
      atol: 0,
    });
    const x = randn([3, 4]);
    const attention = new MultiheadAttention(4, 2);
    const padding = tensor([0, 0, 1], { dtype: "int32" });
    expect(attention.forward(x, x, x, { keyPaddingMask: padding })[0]).toBeAllclose(
      attention.forward(x, x, x, { keyPaddingMask: padding.ne(0) })[0],
      { rtol: 0, atol: 0 },
    );
    expect(attention.forward(x, x, x, { needWeights: false })[1]).toBeNull();
  });
});

describe("errors name the values", () => {
  it("rejects bad configurations", () => {
    expect(() => new MultiheadAttention(6, 4)).toThrow(/embedDim 6 must be divisible by numHeads 4/);
    expect(() => new MultiheadAttention(4, 2, { dropout: 1.5 })).toThrow(
      /dropout must be a probability in \[0, 1\], got 1.5/,
    );
    // @ts-expect-error: an activation PyTorch's layer does not take
    expect(() => new TransformerEncoderLayer(4, 2, { activation: "tanh" })).toThrow(
      /"relu" or "gelu", got "tanh"/,
    );
  });

  it("rejects inputs and masks of the wrong shape", () => {
    const attention = new MultiheadAttention(4, 2);
    const x = randn([3, 2, 4]);
    expect(() => attention.forward(x, randn([5, 2, 3]), randn([5, 2, 4]))).toThrow(
      /ending in 4, 4, 4 features, got \[3, 2, 4\], \[5, 2, 3\], \[5, 2, 4\]/,
    );
    expect(() => attention.forward(x, x, x, { attnMask: randn([3, 4]) })).toThrow(
      /attnMask must be \(L, S\) = \(3, 3\) or \(N·numHeads, L, S\) = \(4, 3, 3\), got \[3, 4\]/,
    );
    expect(() => attention.forward(x, x, x, { keyPaddingMask: randn([3, 2]) })).toThrow(
      /keyPaddingMask must be \[2, 3\], got \[3, 2\]/,
    );
    expect(() => F.scaledDotProductAttention(randn([2, 3]), randn([4, 2]), randn([4, 2]))).toThrow(
      /expected query \(…, L, E\), key \(…, S, E\) and value \(…, S, Ev\), got query \[2, 3\], key \[4, 2\]/,
    );
    expect(() => F.scaledDotProductAttention(x, x, x, { attnMask: randn([5, 5]) })).toThrow(
      /attnMask of shape \[5, 5\] does not broadcast to the scores' \[3, 2, 2\]/,
    );
    expect(() => F.scaledDotProductAttention(x, x, x, { attnMask: randn([2, 2]), isCausal: true })).toThrow(
      /give either attnMask or isCausal: true, not both/,
    );
  });
});
