// Module hooks: forward pre-hooks, forward hooks and full backward hooks, as PyTorch's, with remove() handles.
import { noGrad, randn, type Tensor, tensor } from "@normgrad/core";
import { describe, expect, it } from "vitest";
import { Linear, MSELoss, ReLU, Sequential } from "../src/index.ts";

const f64 = (values: number[][], requiresGrad = false) => tensor(values, { dtype: "float64", requiresGrad });

describe("forward hooks", () => {
  it("see every call's inputs and output, from inside a Sequential too, until removed", () => {
    const relu = new ReLU();
    const model = new Sequential(new Linear(3, 4), relu, new Linear(4, 2));
    const seen: Tensor[] = [];
    const handle = relu.registerForwardHook((module, inputs, output) => {
      expect(module).toBe(relu);
      expect(inputs).toHaveLength(1);
      seen.push(output);
      return undefined;
    });
    model.forward(randn([5, 3]));
    relu.call(randn([2, 4]));
    expect(seen.map((output) => output.shape)).toEqual([
      [5, 4],
      [2, 4],
    ]);
    expect(seen.every((output) => output.dataSync().every((v) => v >= 0))).toBe(true);
    handle.remove();
    model.forward(randn([1, 3]));
    expect(seen).toHaveLength(2);
  });

  it("replace the output (forward hook) or the inputs (pre-hook) when they return one", () => {
    const linear = new Linear(2, 2, { bias: false, dtype: "float64" });
    noGrad(() =>
      linear.weight.copy_(
        f64([
          [1, 0],
          [0, 1],
        ]),
      ),
    );
    const x = f64([[1, 2]]);
    const pre = linear.registerForwardPreHook((_, [input]) => [input.mul(10)]);
    expect(linear.forward(x).tolist()).toEqual([[10, 20]]);
    const post = linear.registerForwardHook((_, __, output) => output.add(1));
    expect(linear.forward(x).tolist()).toEqual([[11, 21]]);
    pre.remove();
    post.remove();
    expect(linear.forward(x).tolist()).toEqual([[1, 2]]);
  });

  it("leave the module's state alone (the wrapper is not a field) and refuse a wrong input count", () => {
    const linear = new Linear(3, 2);
    const keys = [...linear.stateDict().keys()];
    linear.registerForwardPreHook((_, inputs) => [...inputs, ...inputs]);
    expect([...linear.stateDict().keys()]).toEqual(keys);
    expect(String(linear)).toBe("Linear(in_features=3, out_features=2, bias=True)");
    expect(() => linear.forward(randn([1, 3]))).toThrow("Linear: a forward pre-hook returned 2 inputs for 1");
  });
});

describe("full backward hooks", () => {
  it("see dL/d(input) and dL/d(output), and may replace dL/d(input)", () => {
    const linear = new Linear(2, 1, { bias: false, dtype: "float64" });
    noGrad(() => linear.weight.copy_(f64([[3, -1]])));
    const x = f64([[1, 2]], true);
    const calls: { gradInput: (number[][] | null)[]; gradOutput: (number[][] | null)[] }[] = [];
    const handle = linear.registerFullBackwardHook((module, gradInput, gradOutput) => {
      expect(module).toBe(linear);
      const list = (t: Tensor | null) => (t === null ? null : (t.tolist() as number[][]));
      calls.push({ gradInput: gradInput.map(list), gradOutput: gradOutput.map(list) });
      return [gradInput[0]?.zerosLike() ?? null];
    });
    linear.forward(x).mul(5).sum().backward();
    expect(calls).toEqual([{ gradInput: [[[15, -5]]], gradOutput: [[[5]]] }]);
    expect(x.grad?.tolist()).toEqual([[0, 0]]);
    // The weight's gradient does not pass through the hook: 5·x.
    expect(linear.weight.grad?.tolist()).toEqual([[5, 10]]);
    handle.remove();
    x.grad = null;
    linear.forward(x).sum().backward();
    expect(calls).toHaveLength(1);
  });

  it("get [null] for an input that does not require grad (the first layer's)", () => {
    const linear = new Linear(2, 1, { dtype: "float64" });
    const gradInputs: (Tensor | null)[][] = [];
    linear.registerFullBackwardHook((_, gradInput) => {
      gradInputs.push([...gradInput]);
      return undefined;
    });
    linear
      .forward(f64([[1, 2]]))
      .sum()
      .backward();
    expect(gradInputs).toEqual([[null]]);
  });

  it("are for one-input modules: a loss (input, target) is refused by name", () => {
    const loss = new MSELoss();
    loss.registerFullBackwardHook(() => undefined);
    expect(() => loss.forward(randn([2]), randn([2]))).toThrow(
      "MSELoss: full backward hooks support modules called with one tensor, this one got 2 inputs",
    );
  });
});
