// RNN, LSTM, GRU and their cells against PyTorch 1.13.1 (test/fixtures/rnn.json), float64 gradcheck, dropout modes and errors.
import { readFileSync } from "node:fs";
import { type DType, gradcheck, manualSeed, randn, type Tensor, tensor } from "@normgrad/core";
import { type FixtureTensor, fromFixture } from "@normgrad/testing";
import { describe, expect, it, vi } from "vitest";
import { GRU, GRUCell, LSTM, LSTMCell, RNN, RNNCell, StateDict } from "../src/index.ts";

interface RnnCase {
  name: string;
  kind: "RNN" | "LSTM" | "GRU" | "RNNCell" | "LSTMCell" | "GRUCell";
  config: {
    input_size: number;
    hidden_size: number;
    num_layers?: number;
    bias?: boolean;
    batch_first?: boolean;
    bidirectional?: boolean;
    nonlinearity?: "tanh" | "relu";
  };
  params: Record<string, FixtureTensor>;
  input: FixtureTensor;
  states: FixtureTensor[];
  cotangents: FixtureTensor[];
  expected: {
    outputs: FixtureTensor[];
    inputGrad: FixtureTensor;
    stateGrads: FixtureTensor[];
    paramGrads: Record<string, FixtureTensor>;
  };
  repr: string;
  keys: string[];
}

const { cases }: { cases: RnnCase[] } = JSON.parse(
  readFileSync(new URL("./fixtures/rnn.json", import.meta.url), "utf8"),
);

const TOLERANCE = {
  float64: { rtol: 1e-12, atol: 1e-12 },
  float32: { rtol: 5e-4, atol: 1e-5 },
} as const;

type AnyRecurrent = RNN | LSTM | GRU | RNNCell | LSTMCell | GRUCell;

function build({ kind, config }: RnnCase, dtype: DType): AnyRecurrent {
  const { input_size: input, hidden_size: hidden, bias } = config;
  const options = {
    numLayers: config.num_layers,
    bias,
    batchFirst: config.batch_first,
    bidirectional: config.bidirectional,
    dtype,
  };
  switch (kind) {
    case "RNN":
      return new RNN(input, hidden, { ...options, nonlinearity: config.nonlinearity });
    case "LSTM":
      return new LSTM(input, hidden, options);
    case "GRU":
      return new GRU(input, hidden, options);
    case "RNNCell":
      return new RNNCell(input, hidden, { bias, nonlinearity: config.nonlinearity, dtype });
    case "LSTMCell":
      return new LSTMCell(input, hidden, { bias, dtype });
    case "GRUCell":
      return new GRUCell(input, hidden, { bias, dtype });
    default:
      return kind satisfies never;
  }
}

/** The expected values as a float64 tensor, so the matcher also compares shapes. */
const reference = (t: FixtureTensor): Tensor => fromFixture(t, "float64");

/** Runs the module on the fixture's input and states; returns every output in PyTorch's order. */
function run(module: AnyRecurrent, input: Tensor, states: Tensor[]): Tensor[] {
  if (module instanceof LSTM) {
    const [output, [h, c]] = module.forward(input, states.length === 0 ? null : [states[0], states[1]]);
    return [output, h, c];
  }
  if (module instanceof RNN || module instanceof GRU) {
    const [output, h] = module.forward(input, states[0] ?? null);
    return [output, h];
  }
  if (module instanceof LSTMCell)
    return module.forward(input, states.length === 0 ? null : [states[0], states[1]]);
  return [module.forward(input, states[0] ?? null)];
}

describe.each(["float64", "float32"] as const)("against PyTorch (%s)", (dtype) => {
  it.each(cases.map((c) => [c.name, c] as const))("%s", (_, fixture) => {
    const module = build(fixture, dtype);
    const state = new StateDict();
    for (const [key, value] of Object.entries(fixture.params)) state.set(key, fromFixture(value, dtype));
    module.loadStateDict(state);
    const input = fromFixture(fixture.input, dtype, { requiresGrad: true });
    const states = fixture.states.map((s) => fromFixture(s, dtype, { requiresGrad: true }));
    const outputs = run(module, input, states);
    expect(outputs).toHaveLength(fixture.expected.outputs.length);
    outputs.forEach((output, i) => {
      expect(output, `output ${i}`).toBeAllclose(reference(fixture.expected.outputs[i]), TOLERANCE[dtype]);
    });
    outputs
      .map((output, i) => output.mul(fromFixture(fixture.cotangents[i], dtype)).sum())
      .reduce((total, term) => total.add(term))
      .backward();
    expect(input.grad, "input grad").toBeAllclose(reference(fixture.expected.inputGrad), TOLERANCE[dtype]);
    states.forEach((s, i) => {
      expect(s.grad, `state ${i} grad`).toBeAllclose(
        reference(fixture.expected.stateGrads[i]),
        TOLERANCE[dtype],
      );
    });
    const parameters = new Map(module.namedParameters());
    for (const [key, expected] of Object.entries(fixture.expected.paramGrads)) {
      expect(parameters.get(key)?.grad, `grad of ${key}`).toBeAllclose(reference(expected), TOLERANCE[dtype]);
    }
  });
});

describe("module structure", () => {
  it.each(cases.map((c) => [c.name, c] as const))("%s: PyTorch's repr and state-dict keys", (_, fixture) => {
    const module = build(fixture, "float64");
    expect(module.toString()).toBe(fixture.repr);
    expect([...module.stateDict().keys()]).toEqual(fixture.keys);
  });

  it("prints dropout and bidirectional as PyTorch", () => {
    const lstm = new LSTM(10, 20, { numLayers: 2, batchFirst: true, dropout: 0.5, bidirectional: true });
    expect(lstm.toString()).toBe(
      "LSTM(10, 20, num_layers=2, batch_first=True, dropout=0.5, bidirectional=True)",
    );
  });

  it("draws every parameter from U(±1/√hidden)", () => {
    manualSeed(0);
    const bound = 1 / Math.sqrt(16);
    for (const [, p] of new GRU(8, 16, { numLayers: 2 }).namedParameters()) {
      expect(p.abs().max().item()).toBeLessThanOrEqual(bound);
      expect(p.abs().max().item()).toBeGreaterThan(0.8 * bound);
    }
  });
});

describe("gradcheck (float64)", () => {
  it("LSTM, 2 layers, bidirectional, with (h0, c0)", () => {
    manualSeed(1);
    const lstm = new LSTM(2, 2, { numLayers: 2, bidirectional: true, dtype: "float64" });
    const inputs = [randn([3, 2, 2], { dtype: "float64" }), randn([4, 2, 2], { dtype: "float64" })];
    const c0 = randn([4, 2, 2], { dtype: "float64" });
    const fn = (x: Tensor, h0: Tensor) => {
      const [output, [h, c]] = lstm.forward(x, [h0, c0]);
      return output.sum().add(h.mul(2).sum()).add(c.sum());
    };
    expect(
      gradcheck(
        fn,
        inputs.map((t) => t.requiresGrad_()),
      ),
    ).toHaveLength(2);
  });

  it("GRU and RNN(relu), batch-first, with h0", () => {
    manualSeed(2);
    for (const module of [
      new GRU(2, 3, { batchFirst: true, dtype: "float64" }),
      new RNN(2, 3, { nonlinearity: "relu", batchFirst: true, dtype: "float64" }),
    ]) {
      const inputs = [randn([2, 3, 2], { dtype: "float64" }), randn([1, 2, 3], { dtype: "float64" })];
      const fn = (x: Tensor, h0: Tensor) => {
        const [output, h] = module.forward(x, h0);
        return output.mul(output).sum().add(h.sum());
      };
      expect(
        gradcheck(
          fn,
          inputs.map((t) => t.requiresGrad_()),
        ),
      ).toHaveLength(2);
    }
  });
});

describe("modes", () => {
  it("applies dropout between layers only in training", () => {
    manualSeed(3);
    const lstm = new LSTM(4, 8, { numLayers: 2, dropout: 0.5 });
    const x = randn([6, 2, 4]);
    lstm.eval();
    const [evalA] = lstm.forward(x);
    const [evalB] = lstm.forward(x);
    expect(evalA).toBeAllclose(evalB, { rtol: 0, atol: 0 });
    lstm.train();
    const [trainA] = lstm.forward(x);
    expect(trainA.sub(evalA).abs().max().item()).toBeGreaterThan(1e-4);
  });

  it("warns, as PyTorch, that dropout does nothing with one layer", () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    try {
      const gru = new GRU(3, 4, { dropout: 0.2 });
      expect(gru.toString()).toBe("GRU(3, 4, dropout=0.2)");
      expect(warn).toHaveBeenCalledWith(
        "GRU: dropout applies after every layer but the last, so dropout=0.2 does nothing with numLayers=1",
      );
      warn.mockClear();
      new LSTM(3, 4, { numLayers: 2, dropout: 0.2 });
      expect(warn).not.toHaveBeenCalled();
    } finally {
      warn.mockRestore();
    }
  });

  it("batchFirst is the transpose of the sequence-first layout", () => {
    manualSeed(4);
    const first = new GRU(3, 5, { batchFirst: true });
    const second = new GRU(3, 5);
    second.loadStateDict(first.stateDict());
    const x = randn([2, 7, 3]);
    expect(first.forward(x)[0]).toBeAllclose(second.forward(x.transpose(0, 1))[0].transpose(0, 1), {
      rtol: 0,
      atol: 0,
    });
  });
});

describe("errors name the values", () => {
  it("rejects bad sizes and options at construction", () => {
    expect(() => new LSTM(0, 4)).toThrow(/LSTM inputSize.*0/);
    expect(() => new GRU(3, 4, { numLayers: 1.5 })).toThrow(/GRU numLayers/);
    expect(() => new RNN(3, 4, { dropout: 2 })).toThrow(
      /RNN dropout must be a probability in \[0, 1\], got 2/,
    );
    // @ts-expect-error: a nonlinearity PyTorch does not have
    expect(() => new RNN(3, 4, { nonlinearity: "gelu" })).toThrow(/"tanh" or "relu", got "gelu"/);
    // @ts-expect-error: a nonlinearity PyTorch does not have
    expect(() => new RNNCell(3, 4, { nonlinearity: "sigmoid" })).toThrow(/RNNCell nonlinearity.*"sigmoid"/);
  });

  it("rejects an input or a state of the wrong shape", () => {
    const lstm = new LSTM(3, 4, { numLayers: 2 });
    expect(() => lstm.forward(randn([5, 2, 6]))).toThrow(
      /expected input of shape \(T, N, 3\).*got \[5, 2, 6\]/,
    );
    expect(() => lstm.forward(randn([5, 2, 3]), [randn([1, 2, 4]), randn([2, 2, 4])])).toThrow(
      /expected h_0 of shape \[2, 2, 4\], got \[1, 2, 4\]/,
    );
    expect(() => new GRUCell(3, 4).forward(randn([2, 3]), randn([3, 4]))).toThrow(
      /expected hx of shape \[2, 4\], got \[3, 4\]/,
    );
    expect(() => new LSTM(3, 4).forward(tensor([[1, 2, 3]], { dtype: "int32" }))).toThrow(/int32/);
    expect(() => new GRU(3, 4).forward(randn([5, 3]), randn([2, 4]))).toThrow(
      /GRU: expected h_0 of shape \[1, 4\], got \[2, 4\]/,
    );
    expect(() => new RNN(3, 4).forward(randn([5, 2, 3]), randn([1, 2, 4], { dtype: "float64" }))).toThrow(
      /RNN: h_0 is float64 but the input is float32; they must match/,
    );
    expect(() => new LSTMCell(3, 4).forward(randn([3]), [randn([4]), randn([2, 4])])).toThrow(
      /LSTMCell: expected cx of shape \[4\], got \[2, 4\]/,
    );
  });
});
