// The Optimizer machinery: parameter groups, option errors, zeroGrad, fused-kernel routing, state dicts (resume) and flat memory.
import { CpuBackend, liveBuffers, type NestedArray, Tensor, tensor, tidy } from "@normgrad/core";
import { describe, expect, it, vi } from "vitest";
import { Adam, AdamW, type BaseOptions, type Optimizer, type ParamState, SGD } from "../src/index.ts";

function parameter(values: number[]): Tensor {
  return tensor(values, { dtype: "float64" }).requiresGrad_();
}

/** Sets each parameter's gradient to that of ½‖p‖² (the parameter itself), as a backward would. */
function setGradToParam(...params: Tensor[]): void {
  for (const p of params) p.grad = p.detach().clone();
}

describe("parameter groups", () => {
  it("apply each group's own options over the defaults", () => {
    const a = parameter([1, 2]);
    const b = parameter([3, 4]);
    const optimizer = new SGD([{ params: [a] }, { params: [b], lr: 0.5, momentum: 0.9 }], { lr: 0.1 });
    expect(optimizer.paramGroups.map((g) => [g.lr, g.momentum])).toEqual([
      [0.1, 0],
      [0.5, 0.9],
    ]);
    a.grad = tensor([1, 1], { dtype: "float64" });
    b.grad = tensor([1, 1], { dtype: "float64" });
    optimizer.step();
    expect(a.tolist()).toEqual([0.9, 1.9]);
    expect(b.tolist()).toEqual([2.5, 3.5]);
    expect(optimizer.state.has(a)).toBe(false);
    expect(optimizer.state.has(b)).toBe(true);
  });

  it("treat an explicit undefined option as the default", () => {
    const optimizer = new Adam([parameter([1])], { betas: undefined, eps: undefined });
    expect(optimizer.paramGroups[0].betas).toEqual([0.9, 0.999]);
    expect(optimizer.paramGroups[0].eps).toBe(1e-8);
  });

  it("skip parameters without a gradient", () => {
    const a = parameter([1]);
    const optimizer = new Adam([a], { lr: 0.1 });
    optimizer.step();
    expect(a.tolist()).toEqual([1]);
    expect(optimizer.state.size).toBe(0);
  });

  it("keep the module's tensor objects and bump their version (in-place update)", () => {
    const fused = parameter([1, 2]);
    const generic = parameter([1, 2]);
    const optimizers = [new SGD([fused], { lr: 0.1 }), new SGD([generic], { lr: 0.1, fused: false })];
    setGradToParam(fused, generic);
    for (const optimizer of optimizers) optimizer.step();
    expect(fused.version).toBe(1);
    expect(generic.version).toBe(1);
    expect(fused.tolist()).toEqual(generic.tolist());
  });

  it.each([
    ["SGD", "sgdStep", 2, (p: Tensor, fused: boolean) => new SGD([p], { lr: 0.1, momentum: 0.9, fused })],
    ["Adam", "adamStep", 4, (p: Tensor, fused: boolean) => new Adam([p], { lr: 0.1, amsgrad: true, fused })],
  ] as const)(
    "%s: fused groups run the backend's %s and bump each of the %i written tensors' versions",
    (_, kernel, count, make) => {
      const spy = vi.spyOn(CpuBackend.prototype, kernel);
      try {
        const [fused, generic] = [parameter([1, -2]), parameter([1, -2])];
        const optimizers = [make(fused, true), make(generic, false)];
        for (let step = 0; step < 2; step++) {
          setGradToParam(fused, generic);
          for (const optimizer of optimizers) optimizer.step();
        }
        expect(spy).toHaveBeenCalledTimes(2);
        expect(fused.tolist()).toEqual(generic.tolist());
        const state = Object.values(optimizers[0].state.get(fused) ?? {});
        const written = [fused, ...state].filter((t): t is Tensor => t instanceof Tensor);
        expect(written.map((t) => t.version)).toEqual(Array(count).fill(2));
      } finally {
        spy.mockRestore();
      }
    },
  );

  it("maximize ascends: the same as descending on the negated gradient", () => {
    for (const make of [
      (p: Tensor, maximize: boolean) => new SGD([p], { lr: 0.1, momentum: 0.9, maximize }),
      (p: Tensor, maximize: boolean) => new Adam([p], { lr: 0.1, maximize }),
    ]) {
      const up = parameter([1, -2]);
      const down = parameter([1, -2]);
      const [ascend, descend] = [make(up, true), make(down, false)];
      for (let step = 0; step < 3; step++) {
        up.grad = tensor([0.5, 0.25], { dtype: "float64" });
        down.grad = tensor([-0.5, -0.25], { dtype: "float64" });
        ascend.step();
        descend.step();
      }
      expect(up.tolist()).toEqual(down.tolist());
    }
  });
});

describe("bad options are errors naming the value", () => {
  const p = () => parameter([1]);
  it.each([
    [
      "SGD negative lr",
      () => new SGD([p()], { lr: -0.1 }),
      /SGD: parameter group 0: lr must be a finite number >= 0, got -0.1/,
    ],
    ["SGD NaN lr", () => new SGD([p()], { lr: Number.NaN }), /lr must be a finite number >= 0, got NaN/],
    [
      "SGD negative momentum",
      () => new SGD([p()], { lr: 0.1, momentum: -0.5 }),
      /momentum must be .* got -0.5/,
    ],
    [
      "SGD negative weightDecay",
      () => new SGD([p()], { lr: 0.1, weightDecay: -1 }),
      /weightDecay must be .* got -1/,
    ],
    [
      "SGD nesterov with dampening",
      () => new SGD([p()], { lr: 0.1, momentum: 0.9, dampening: 0.5, nesterov: true }),
      /Nesterov momentum needs momentum > 0 and dampening 0, got momentum 0.9 and dampening 0.5/,
    ],
    [
      "SGD nesterov without momentum",
      () => new SGD([p()], { lr: 0.1, nesterov: true }),
      /got momentum 0 and/,
    ],
    [
      "Adam beta1 = 1",
      () => new Adam([p()], { betas: [1, 0.999] }),
      /Adam: parameter group 0: betas\[0\] must be in \[0, 1\), got 1/,
    ],
    [
      "Adam negative beta2",
      () => new Adam([p()], { betas: [0.9, -0.1] }),
      /betas\[1\] must be in \[0, 1\), got -0.1/,
    ],
    ["Adam negative eps", () => new Adam([p()], { eps: -1e-8 }), /eps must be .* got -1e-8/],
    ["AdamW negative lr", () => new AdamW([p()], { lr: -1 }), /AdamW: parameter group 0: lr .* got -1/],
    [
      "a bad group option",
      () => new SGD([{ params: [p()] }, { params: [p()], lr: -2 }], { lr: 0.1 }),
      /parameter group 1: lr .* got -2/,
    ],
    ["no parameters", () => new SGD([], { lr: 0.1 }), /SGD: got an empty parameter list/],
    [
      "an int32 parameter",
      () => new SGD([tensor([1], { dtype: "int32" })], { lr: 0.1 }),
      /parameter 0 is int32/,
    ],
    ["a non-leaf parameter", () => new SGD([p().mul(2)], { lr: 0.1 }), /parameter 0 is not a leaf tensor/],
    [
      "a parameter twice",
      () => {
        const shared = p();
        return new SGD([{ params: [shared] }, { params: [shared] }], { lr: 0.1 });
      },
      /parameter group 1: some parameters appear more than once/,
    ],
    [
      "SGD NaN momentum",
      () => new SGD([p()], { lr: 0.1, momentum: Number.NaN }),
      /momentum must be .* got NaN/,
    ],
    [
      "SGD infinite weightDecay",
      () => new SGD([p()], { lr: 0.1, weightDecay: Number.POSITIVE_INFINITY }),
      /weightDecay must be a finite number >= 0, got Infinity/,
    ],
    ["SGD infinite lr", () => new SGD([p()], { lr: Number.NEGATIVE_INFINITY }), /lr .* got -Infinity/],
    ["AdamW NaN weightDecay", () => new AdamW([p()], { weightDecay: Number.NaN }), /weightDecay .* got NaN/],
    ["Adam NaN beta2", () => new Adam([p()], { betas: [0.9, Number.NaN] }), /betas\[1\] .* got NaN/],
    // Reflect.construct passes what TypeScript would refuse, as plain JavaScript callers can.
    [
      "Adam betas that are not a pair",
      () => Reflect.construct(Adam, [[p()], { betas: 0.9 }]),
      /Adam: parameter group 0: betas must be a pair \[beta1, beta2\] such as \[0\.9, 0\.999\], got 0\.9$/,
    ],
    ["Adam betas of one number", () => Reflect.construct(Adam, [[p()], { betas: [0.9] }]), /got \[0\.9\]$/],
    [
      "Adam betas given as strings",
      () => Reflect.construct(Adam, [[p()], { betas: ["0.9", 0.999] }]),
      /betas\[0\] must be in \[0, 1\), got "0\.9"$/,
    ],
    [
      "SGD lr given as a string",
      () => Reflect.construct(SGD, [[p()], { lr: "0.1" }]),
      /lr must be a finite number >= 0, got "0\.1"$/,
    ],
    [
      "SGD over numbers",
      () => Reflect.construct(SGD, [[1, 2, 3], { lr: 0.1 }]),
      /SGD: params must be tensors \(e\.g\. model\.parameters\(\)\) or parameter groups \{ params, \.\.\.options \}, but item 0 is 1$/,
    ],
    [
      "SGD over a non-iterable",
      () => Reflect.construct(SGD, [{ weight: p() }, { lr: 0.1 }]),
      /SGD: params must be an iterable of tensors \(e\.g\. model\.parameters\(\)\) .* got an object$/,
    ],
    [
      "a group whose params are not iterable",
      () => Reflect.construct(Adam, [[{ params: 3 }]]),
      /Adam: params must be tensors .* but item 0 is an object$/,
    ],
    [
      "addParamGroup without params",
      () => {
        const sgd = new SGD([p()], { lr: 0.1 });
        return Reflect.apply(sgd.addParamGroup, sgd, [p()]);
      },
      /SGD: parameter group 1 must be \{ params, \.\.\.options \} with an iterable of tensors as params, got a Tensor of shape \[1\]$/,
    ],
  ])("%s", (_, make, message) => {
    expect(make).toThrow(message);
  });
});

describe("zeroGrad", () => {
  it("disposes the gradients and sets them to null by default", () => {
    const a = parameter([1, 2]);
    setGradToParam(a);
    const grad = a.grad;
    new SGD([a], { lr: 0.1 }).zeroGrad();
    expect(a.grad).toBeNull();
    expect(grad?.isDisposed).toBe(true);
  });

  it("zeroes them in place with setToNone: false", () => {
    const a = parameter([1, 2]);
    setGradToParam(a);
    const grad = a.grad;
    new SGD([a], { lr: 0.1 }).zeroGrad({ setToNone: false });
    expect(a.grad).toBe(grad);
    expect(a.grad?.tolist()).toEqual([0, 0]);
  });
});

/** Runs 5 steps straight through, and 2 steps + state dict + 3 steps in a fresh optimizer; returns both results. */
function straightAndResumed<O extends BaseOptions, S extends ParamState>(
  make: (p: Tensor) => Optimizer<O, S>,
): [NestedArray, NestedArray] {
  const straight = parameter([1, -2, 3]);
  const resumed = parameter([1, -2, 3]);
  const first = make(straight);
  for (let step = 0; step < 2; step++) {
    setGradToParam(straight);
    first.step();
  }
  const snapshot = first.stateDict();
  resumed.detach().copy_(straight);
  const second = make(resumed);
  second.loadStateDict(snapshot);
  for (let step = 0; step < 3; step++) {
    setGradToParam(straight, resumed);
    first.step();
    second.step();
  }
  return [straight.tolist(), resumed.tolist()];
}

function optimizerCase<O extends BaseOptions, S extends ParamState>(
  name: string,
  make: (p: Tensor) => Optimizer<O, S>,
) {
  return { name, make, resume: () => straightAndResumed(make) };
}

describe.each([
  optimizerCase(
    "SGD with Nesterov momentum",
    (p) => new SGD([p], { lr: 0.1, momentum: 0.9, nesterov: true }),
  ),
  optimizerCase("Adam with AMSGrad", (p) => new Adam([p], { lr: 0.1, amsgrad: true, weightDecay: 0.1 })),
  optimizerCase("AdamW, tensor-op path", (p) => new AdamW([p], { lr: 0.1, fused: false })),
])("$name", ({ make, resume }) => {
  it("resumes from a state dict exactly where it left off", () => {
    const [straight, resumed] = resume();
    expect(resumed).toEqual(straight);
  });

  it("keeps memory flat when each step runs inside tidy", () => {
    const p = parameter([1, -2, 3]);
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
});

describe("state dicts", () => {
  it("hold copies: later steps do not change a snapshot", () => {
    const p = parameter([1, 2]);
    const optimizer = new SGD([p], { lr: 0.1, momentum: 0.9 });
    setGradToParam(p);
    optimizer.step();
    const snapshot = optimizer.stateDict();
    setGradToParam(p);
    optimizer.step();
    expect(snapshot.state[0].momentum_buffer.tolist()).toEqual([1, 2]);
    expect(snapshot.paramGroups).toEqual([
      {
        lr: 0.1,
        momentum: 0.9,
        dampening: 0,
        nesterov: false,
        weightDecay: 0,
        maximize: false,
        fused: true,
        params: [0],
      },
    ]);
  });

  it("restore the group options", () => {
    const source = new SGD([parameter([1])], { lr: 0.5, momentum: 0.3 });
    const target = new SGD([parameter([1])], { lr: 0.1 });
    target.loadStateDict(source.stateDict());
    expect(target.paramGroups[0].lr).toBe(0.5);
    expect(target.paramGroups[0].momentum).toBe(0.3);
  });

  it.each([
    [
      "a different number of groups",
      () => new SGD([{ params: [parameter([1])] }, { params: [parameter([1])] }], { lr: 0.1 }),
      /SGD.loadStateDict: the state dict has 1 parameter group\(s\), this optimizer 2/,
    ],
    [
      "a group of a different size",
      () => new SGD([parameter([1]), parameter([2])], { lr: 0.1 }),
      /parameter group 0 has 1 parameter\(s\) in the state dict but 2 here/,
    ],
    [
      "state of another shape",
      () => new SGD([parameter([1, 2])], { lr: 0.1 }),
      /state of parameter 0 has shape \[3\], the parameter \[2\]/,
    ],
  ])("refuse %s", (_, makeTarget, message) => {
    const p = parameter([1, 2, 3]);
    const source = new SGD([p], { lr: 0.1, momentum: 0.9 });
    setGradToParam(p);
    source.step();
    expect(() => makeTarget().loadStateDict(source.stateDict())).toThrow(message);
  });
});
