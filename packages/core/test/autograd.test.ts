// The autograd engine: accumulation, retainGraph, noGrad, detach, grad checks, in-place rules, defineOp, gradcheck.
import { registerFakeGpu, seeded } from "@normgrad/testing";
import { describe, expect, it } from "vitest";
import {
  defineOp,
  gradcheck,
  isGradEnabled,
  liveBuffers,
  noGrad,
  type Tensor,
  tensor,
  zeros,
} from "../src/index.ts";
import { checkGradients } from "./helpers.ts";

registerFakeGpu();

const leaf = (values: number[]) => tensor(values, { dtype: "float64", requiresGrad: true });

describe("backward", () => {
  it("accumulates into .grad across two backward calls", () => {
    const x = leaf([1, 2]);
    x.mul(3).sum().backward();
    x.mul(x).sum().backward();
    expect(x.grad!.tolist()).toEqual([3 + 2, 3 + 4]);
  });

  it("sums the gradients of a tensor used several times (diamond)", () => {
    const x = leaf([0, 1]);
    const shared = x.exp();
    shared.mul(2).add(shared.mul(3)).add(x).sum().backward();
    expect(x.grad!.tolist()).toEqual([5 + 1, 5 * Math.E + 1]);
  });

  it("runs through a chain of 10 000 ops without overflowing the stack", () => {
    const x = leaf([1]);
    let y = x;
    for (let i = 0; i < 10_000; i++) y = y.add(1);
    y.sum().backward();
    expect(x.grad!.item()).toBe(1);
  });

  it("keeps no .grad on non-leaves or on leaves that do not require grad", () => {
    const x = leaf([1, 2]);
    const constant = tensor([3, 4], { dtype: "float64" });
    const hidden = x.mul(constant);
    hidden.sum().backward();
    expect([hidden.grad, constant.grad]).toEqual([null, null]);
    expect(hidden.isLeaf).toBe(false);
    expect(hidden.gradFn!.name).toBe("mul");
    expect(x.isLeaf).toBe(true);
  });

  it("frees the graph after backward: a second backward throws unless retainGraph was passed", () => {
    const x = leaf([1, 2]);
    const y = x.mul(x).sum();
    y.backward(undefined, { retainGraph: true });
    y.backward();
    expect(x.grad!.tolist()).toEqual([4, 8]);
    expect(() => y.backward()).toThrow(
      "trying to backward through the graph a second time (through sum): its saved values were freed " +
        "after the first backward. Pass { retainGraph: true } to the first backward() to keep them",
    );
  });

  it("seeds with the given gradient", () => {
    const x = leaf([1, 2]);
    x.mul(x).backward(tensor([10, 100], { dtype: "float64" }));
    expect(x.grad!.tolist()).toEqual([20, 400]);
  });

  it.each<{ name: string; run: () => void; message: string }>([
    {
      name: "a non-scalar output without a gradient",
      run: () => leaf([1, 2]).mul(2).backward(),
      message:
        "backward() without a gradient needs a one-element output, got shape [2]: reduce it (e.g. .sum()) " +
        "or pass the gradient, backward(dy)",
    },
    {
      name: "a gradient of the wrong shape",
      run: () =>
        leaf([1, 2])
          .mul(2)
          .backward(tensor([1, 2, 3], { dtype: "float64" })),
      message: "backward(grad): grad has shape [3] but the tensor has shape [2]",
    },
    {
      name: "a tensor outside any graph",
      run: () => tensor([1]).backward(),
      message: "backward() on a tensor that does not require grad and has no gradFn",
    },
  ])("refuses $name", ({ run, message }) => {
    expect(run).toThrow(message);
  });
});

describe("grad mode, detach and requiresGrad", () => {
  it("integer and bool results carry no gradient: casts to int32, comparison masks and argmax (as PyTorch)", () => {
    const x = leaf([-1, 2, 3]);
    for (const [y, dtype] of [
      [x.to("int32"), "int32"],
      [x.gt(0), "bool"],
      [x.argmax(0), "int32"],
    ] as const) {
      expect([y.dtype, y.requiresGrad, y.gradFn]).toEqual([dtype, false, null]);
    }
    // A float result computed from them still differentiates through x.
    const masked = x.mul(x.gt(0));
    masked.sum().backward();
    expect(x.grad?.tolist()).toEqual([0, 1, 1]);
  });

  it("noGrad records nothing, returns the callback's value and restores the mode (even after a throw)", () => {
    const x = leaf([1, 2]);
    const y = noGrad(() => {
      expect(isGradEnabled()).toBe(false);
      return x.mul(2);
    });
    expect([y.requiresGrad, y.gradFn]).toEqual([false, null]);
    expect(isGradEnabled()).toBe(true);
    expect(() =>
      noGrad(() => {
        throw new Error("inside");
      }),
    ).toThrow("inside");
    expect(isGradEnabled()).toBe(true);
    expect(noGrad(() => noGrad(() => 1) + Number(isGradEnabled()))).toBe(1);
  });

  it("detach shares storage but cuts the graph", () => {
    const x = leaf([2, 3]);
    const cut = x.detach();
    expect([cut.requiresGrad, cut.isLeaf, cut.tolist()]).toEqual([false, true, [2, 3]]);
    x.mul(cut).sum().backward();
    expect(x.grad!.tolist()).toEqual([2, 3]);
    cut.add_(1);
    expect(x.tolist()).toEqual([3, 4]);
    expect(x.version).toBe(1);
  });

  it("requiresGrad_ sets the flag in place and returns the tensor", () => {
    const x = tensor([1, 2]);
    expect(x.requiresGrad_()).toBe(x);
    expect(x.requiresGrad).toBe(true);
    expect(x.requiresGrad_(false).requiresGrad).toBe(false);
  });

  it.each<{ name: string; run: () => void; message: string }>([
    {
      name: "on an int32 tensor",
      run: () => tensor([1], { dtype: "int32" }).requiresGrad_(),
      message: "only float tensors can require grad, this one is int32",
    },
    {
      name: "on a non-leaf",
      run: () => leaf([1]).mul(2).requiresGrad_(false),
      message: "requiresGrad can only be changed on leaf tensors; use detach() to make a new leaf",
    },
  ])("requiresGrad_ refuses $name", ({ run, message }) => {
    expect(run).toThrow(message);
  });
});

describe("the grad setter", () => {
  it("accepts null and a matching tensor", () => {
    const x = leaf([1, 2]);
    x.grad = tensor([5, 6], { dtype: "float64" });
    x.mul(2).sum().backward();
    expect(x.grad.tolist()).toEqual([7, 8]);
    x.grad = null;
    expect(x.grad).toBeNull();
  });

  it.each<{ name: string; grad: () => Tensor; message: string }>([
    {
      name: "a wrong shape",
      grad: () => zeros([3], { dtype: "float64" }),
      message: "grad must match the tensor: got float64 [3], expected float64 [2]",
    },
    {
      name: "a wrong dtype",
      grad: () => zeros([2]),
      message: "grad must match the tensor: got float32 [2], expected float64 [2]",
    },
    {
      name: "another device",
      grad: () => zeros([2], { dtype: "float64", device: "gpu" }),
      message: "grad is on gpu but the tensor is on cpu",
    },
  ])("refuses $name", ({ grad, message }) => {
    const x = leaf([1, 2]);
    expect(() => {
      x.grad = grad();
    }).toThrow(message);
  });
});

describe("in-place ops", () => {
  it("work on a plain tensor and bump its version", () => {
    const x = tensor([1, 2, 3], { dtype: "float64" });
    x.add_(1)
      .mul_(2)
      .sub_(tensor([1]), 2)
      .div_(2);
    expect(x.tolist()).toEqual([1, 2, 3]);
    expect(x.version).toBe(4);
    x.copy_(tensor([7])).fill_(3);
    expect(x.tolist()).toEqual([3, 3, 3]);
    x.zero_();
    expect([x.tolist(), x.version]).toEqual([[0, 0, 0], 7]);
  });

  it("work on a leaf that requires grad inside noGrad", () => {
    const x = leaf([1, 2]);
    noGrad(() => x.sub_(tensor([0.5, 0.5], { dtype: "float64" })));
    expect(x.tolist()).toEqual([0.5, 1.5]);
    expect(x.requiresGrad).toBe(true);
  });

  it("refuse a leaf that requires grad outside noGrad", () => {
    expect(() => leaf([1, 2]).add_(1)).toThrow(
      "add_ on a tensor that requires grad (shape [2]) would corrupt its gradient: wrap the update in " +
        "noGrad(), or use the out-of-place op",
    );
  });

  it.each<{ name: string; view: (x: Tensor) => Tensor }>([
    { name: "a slice", view: (x) => x.narrow(1, 0, 2) },
    { name: "a transpose", view: (x) => x.mT },
    { name: "a broadcast", view: (x) => x.narrow(0, 0, 1).expand([3, 3]) },
  ])("refuse $name view", ({ view }) => {
    const x = zeros([2, 3]);
    expect(() => view(x).fill_(1)).toThrow(
      "fill_ needs a tensor that owns its whole storage, not a view: call .clone() first",
    );
  });

  it("that modify a tensor saved for backward make backward throw a version error", () => {
    const weight = leaf([1, 2]);
    const input = tensor([3, 4], { dtype: "float64" });
    const out = weight.mul(input).sum();
    input.mul_(2);
    expect(() => out.backward()).toThrow(
      "a tensor of shape [2] (input 1 of mul) needed for backward was modified in place (version 1, expected 0): " +
        "clone it before the in-place op, or do the in-place op after backward",
    );
  });

  // PyTorch: y = x.exp(); y.detach().mul_(0); y.sum().backward() raises "output 0 of ExpBackward0
  // is at version 1; expected version 0". Without the check, x.grad came out as 0.
  it.each<{ name: string; op: (x: Tensor) => Tensor }>([
    { name: "exp", op: (x) => x.exp() },
    { name: "sigmoid", op: (x) => x.sigmoid() },
    { name: "tanh", op: (x) => x.tanh() },
    { name: "sqrt", op: (x) => x.sqrt() },
    { name: "recip", op: (x) => x.reciprocal() },
    { name: "relu", op: (x) => x.relu() },
    { name: "max", op: (x) => x.max() },
    { name: "min", op: (x) => x.min(0) },
    { name: "pow", op: (x) => tensor([2, 3], { dtype: "float64" }).pow(x) },
  ])("that modify the output $name reads in backward make backward throw", ({ name, op }) => {
    const y = op(leaf([1, 2]));
    y.detach().mul_(0);
    expect(() => y.sum().backward()).toThrow(
      `(output of ${name}) needed for backward was modified in place (version 1, expected 0)`,
    );
  });

  it("that modify an output its backward does not read are allowed (as PyTorch)", () => {
    const x = leaf([1, 2]);
    const y = x.mul(3);
    y.detach().mul_(0);
    y.sum().backward();
    expect(x.grad!.tolist()).toEqual([3, 3]);
    // x² with a constant exponent: only the exponent's gradient would read the output.
    const z = x.pow(2);
    z.detach().mul_(0);
    z.sum().backward();
    expect(x.grad!.tolist()).toEqual([3 + 2, 3 + 4]);
  });
});

describe("defineOp", () => {
  const cube = defineOp({
    name: "cube",
    forward: (x: Tensor) => ({ output: x.mul(x).mul(x), saved: x }),
    // d(x³)/dx = 3x²
    backward: (dy, x) => [dy.mul(x.mul(x).mul(3))],
  });

  it("gives a custom op its hand-written backward, which gradcheck confirms", () => {
    const x = seeded([2, 3], 31);
    const y = cube(x);
    expect(y.gradFn!.name).toBe("cube");
    checkGradients(cube, [x]);
    checkGradients((t) => cube(t.mT).sum(0), [seeded([3, 2], 32)]);
  });

  it("records nothing inside forward, runs backward in no-grad mode and passes needsInputGrad", () => {
    const seen: { forwardRecords: boolean; backwardRecords: boolean; needs: readonly boolean[] }[] = [];
    const scale = defineOp({
      name: "scale",
      forward: (x: Tensor, factor: Tensor) => {
        const output = x.mul(factor);
        seen.push({ forwardRecords: output.requiresGrad, backwardRecords: true, needs: [] });
        return { output, saved: factor };
      },
      backward: (dy, factor, needs) => {
        seen[0] = { ...seen[0], backwardRecords: isGradEnabled(), needs };
        return [dy.mul(factor), null];
      },
    });
    const x = leaf([1, 2]);
    scale(x, tensor([3], { dtype: "float64" }))
      .sum()
      .backward();
    expect(seen).toEqual([{ forwardRecords: false, backwardRecords: false, needs: [true, false] }]);
    expect(x.grad!.tolist()).toEqual([3, 3]);
  });

  it("throws when a saved tensor, such as the output, was modified in place before backward", () => {
    const exp = defineOp({
      name: "customExp",
      forward: (x: Tensor) => {
        const output = x.exp();
        return { output, saved: { output } };
      },
      backward: (dy, { output }) => [dy.mul(output)],
    });
    const y = exp(leaf([1, 2]));
    y.detach().mul_(0);
    expect(() => y.sum().backward()).toThrow(
      "a tensor of shape [2] (saved tensor 0 of customExp) needed for backward was modified in place " +
        "(version 1, expected 0)",
    );
  });

  it("returns a tensor of its own when forward returns an input unchanged", () => {
    const identity = defineOp({
      name: "identity",
      forward: (x: Tensor) => ({ output: x, saved: null }),
      backward: (dy) => [dy],
    });
    const x = leaf([1, 2]);
    const y = identity(x);
    expect(y).not.toBe(x);
    expect(y.gradFn!.name).toBe("identity");
    checkGradients(identity, [x]);
  });

  it.each<{ name: string; backward: (dy: Tensor) => (Tensor | null)[]; message: string }>([
    {
      name: "the wrong number of gradients",
      backward: (dy) => [dy],
      message: "pair: backward returned 1 gradients for 2 inputs",
    },
    {
      name: "a gradient of the wrong shape",
      backward: (dy) => [dy.sum(), dy],
      message: "pair returned a gradient of shape [] for input 0 of shape [2]",
    },
    {
      name: "no gradient for an input that requires grad",
      backward: (dy) => [dy, null],
      message: "pair returned no gradient for input 1, which requires grad",
    },
  ])("refuses a backward that returns $name", ({ backward, message }) => {
    // Variadic inputs, so that the compiler lets a backward return any number of gradients.
    const pair = defineOp<Tensor[], null>({
      name: "pair",
      forward: (...inputs) => ({ output: inputs[0].add(inputs[1]), saved: null }),
      backward,
    });
    expect(() =>
      pair(leaf([1, 2]), leaf([3, 4]))
        .sum()
        .backward(),
    ).toThrow(message);
  });
});

describe("gradcheck", () => {
  it("returns a report per checked input, with the analytic and numeric gradients", () => {
    const x = leaf([1, 2, 3]);
    const constant = tensor([4, 5, 6], { dtype: "float64" });
    const [report, ...rest] = gradcheck((a, b) => a.mul(a).mul(b), [x, constant]);
    expect(rest).toEqual([]);
    expect([report.input, report.shape]).toEqual([0, [3]]);
    expect(report.maxAbsError).toBeLessThan(1e-6);
    expect(report.maxRelError).toBeLessThan(1e-6);
    expect(Array.from(report.numeric).every((value, i) => Math.abs(value - report.analytic[i]) < 1e-6)).toBe(
      true,
    );
  });

  it.each<{ name: string; run: () => unknown; message: string }>([
    {
      name: "a float32 input",
      run: () => gradcheck((x) => x.exp(), [tensor([1], { requiresGrad: true })]),
      message:
        'gradcheck: input 0 is float32; use float64 (.to("float64")), because float32 rounding error in the ' +
        "difference quotient is larger than the tolerances",
    },
    {
      name: "a float32 output",
      run: () => gradcheck((x) => x.to("float32"), [leaf([1])]),
      message: "gradcheck: the function returned float32; it must compute in float64",
    },
    {
      name: "inputs that do not require grad",
      run: () => gradcheck((x) => x.exp(), [tensor([1], { dtype: "float64" })]),
      message: "gradcheck: no input requires grad, so there is nothing to check",
    },
  ])("refuses $name", ({ run, message }) => {
    expect(run).toThrow(message);
  });

  // gradcheck used to set the inputs' .grad to null and accumulate into every leaf's .grad
  // (the inputs' and the parameters' that fn closes over). torch.autograd.gradcheck uses
  // torch.autograd.grad, which leaves .grad alone.
  it("leaves every .grad as it found it: the inputs' and those of parameters fn uses", () => {
    const x = leaf([1, 2]);
    const weight = leaf([3, 4]);
    const unused = leaf([5]);
    const previous = tensor([10, 20], { dtype: "float64" });
    x.grad = previous;
    gradcheck((t) => t.mul(weight).exp(), [x, unused]);
    expect(x.grad).toBe(previous);
    expect(previous.tolist()).toEqual([10, 20]);
    expect(weight.grad).toBeNull();
    expect(unused.grad).toBeNull();
  });

  it("throws naming the element where a deliberately wrong backward goes wrong", () => {
    // Right everywhere except at [1, 0], where it adds 1 to the derivative of x².
    const wrongSquare = defineOp({
      name: "wrongSquare",
      forward: (x: Tensor) => ({ output: x.mul(x), saved: x }),
      backward: (dy, x) => [
        dy.mul(
          x.mul(2).add(
            tensor(
              [
                [0, 0],
                [1, 0],
              ],
              { dtype: "float64" },
            ),
          ),
        ),
      ],
    });
    const x = tensor(
      [
        [1, 2],
        [3, 4],
      ],
      { dtype: "float64", requiresGrad: true },
    );
    expect(() => gradcheck(wrongSquare, [x])).toThrow(
      /^gradcheck failed for input 0 \(shape \[2, 2\]\) at element \[1, 0\]: analytic .+, numeric .+ \(atol 0.00001, rtol 0.001, eps 0.000001\)$/,
    );
  });
});

describe("the gradients backward makes", () => {
  it("are released as soon as they are consumed, leaving only the leaves' .grad", () => {
    const x = tensor([[1, 2, 3]], { requiresGrad: true });
    const w = tensor([[0.5], [-1], [2]], { requiresGrad: true });
    const y = x.matmul(w).relu().mul(3).exp().sum();
    const before = liveBuffers();
    y.backward();
    // Two .grad tensors appear; every intermediate gradient went back to the backend.
    expect(liveBuffers()).toBe(before + 2);
    expect(x.grad?.isDisposed).toBe(false);
  });

  it("reach two leaves from one tensor without sharing it", () => {
    const a = tensor([1, 2], { requiresGrad: true });
    const b = tensor([3, 4], { requiresGrad: true });
    a.add(b).mul(2).sum().backward();
    expect(a.grad).not.toBe(b.grad);
    a.grad?.add_(1);
    expect(b.grad?.tolist()).toEqual([2, 2]);
  });

  it("leave the gradient passed to backward() alone", () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const dy = tensor([1, -1]);
    x.mul(2).backward(dy);
    expect(dy.isDisposed).toBe(false);
    expect(x.grad?.tolist()).toEqual([2, -2]);
  });

  it("are kept where a custom backward returns a tensor it holds", () => {
    const constant = tensor([5, 6]);
    const op = defineOp<Tensor[], null>({
      name: "withConstantGradient",
      forward: (x) => ({ output: x.clone(), saved: null }),
      backward: () => [constant],
    });
    const x = tensor([1, 2], { requiresGrad: true });
    op(x).sum().backward();
    expect(constant.isDisposed).toBe(false);
    expect(x.grad?.tolist()).toEqual([5, 6]);
  });
});
