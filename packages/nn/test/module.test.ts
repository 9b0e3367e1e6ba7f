// The module system: field discovery, names, train/eval, apply, zeroGrad, to(), containers, call.
import {
  liveBuffers,
  manualSeed,
  noGrad,
  ones,
  randint,
  randn,
  type Tensor,
  tensor,
  tidy,
  zeros,
} from "@normgrad/core";
import { describe, expect, it } from "vitest";
import {
  type AnyModule,
  AvgPool2d,
  BatchNorm1d,
  Buffer,
  Conv2d,
  Dropout,
  F,
  Flatten,
  Linear,
  MaxPool2d,
  Module,
  ModuleList,
  Parameter,
  ReLU,
  Sequential,
} from "../src/index.ts";

class Block extends Module {
  weight = new Parameter(randn([3, 2]));
  bias: Parameter | null = null;
  runningMean = new Buffer(zeros([3]));
  scratch = new Buffer(zeros([3]), { persistent: false });
  steps = new Buffer(zeros([], { dtype: "int32" }));
  inner = new Linear(3, 3);
  scale = 2;

  forward(x: Tensor): Tensor {
    return this.inner.forward(x.matmul(this.weight.mT)).mul(this.scale);
  }
}

class Net extends Module {
  first = new Block();
  act = new ReLU();
  second = new Block();

  forward(x: Tensor): Tensor {
    return this.second.forward(this.act.forward(this.first.forward(x)).matmul(this.second.weight));
  }
}

describe("field discovery", () => {
  it("lists parameters, buffers and children in declaration order with PyTorch names", () => {
    const block = new Block();
    expect([...block.namedParameters()].map(([name]) => name)).toEqual([
      "weight",
      "inner.weight",
      "inner.bias",
    ]);
    expect([...block.namedBuffers()].map(([name]) => name)).toEqual(["running_mean", "scratch", "steps"]);
    expect([...block.namedChildren()].map(([name]) => name)).toEqual(["inner"]);
    expect([...block.namedModules()].map(([name]) => name)).toEqual(["", "inner"]);
    expect([...block.parameters({ recurse: false })]).toEqual([block.weight]);
    expect([...block.buffers({ recurse: false })].length).toBe(3);
  });

  it("walks nested modules depth first and skips null optionals", () => {
    const net = new Net();
    expect([...net.namedModules()].map(([name]) => name)).toEqual([
      "",
      "first",
      "first.inner",
      "act",
      "second",
      "second.inner",
    ]);
    expect([...net.children()]).toEqual([net.first, net.act, net.second]);
    expect([...net.parameters()].length).toBe(6);
  });

  it("lists a shared parameter or module once", () => {
    class Tied extends Module {
      a = new Linear(2, 2);
      b = this.a;
      extra = this.a.weight;
      forward(x: Tensor): Tensor {
        return this.b.forward(this.a.forward(x));
      }
    }
    const tied = new Tied();
    expect([...tied.namedParameters()].map(([name]) => name)).toEqual(["extra", "a.bias"]);
    expect([...tied.modules()].length).toBe(2);
  });

  it("refuses arrays of modules with advice", () => {
    class Bad extends Module {
      layers = [new Linear(2, 2)];
      forward(x: Tensor): Tensor {
        return x;
      }
    }
    expect(() => [...new Bad().parameters()]).toThrow(/Bad\.layers is an array .* use a ModuleList/);
  });

  it("gives parameters that are requiresGrad leaves sharing storage with their data", () => {
    const data = zeros([2, 2]);
    const parameter = new Parameter(data);
    expect(parameter.requiresGrad).toBe(true);
    expect(parameter.isLeaf).toBe(true);
    expect(parameter).toBeInstanceOf(Parameter);
    data.fill_(3);
    expect(parameter.tolist()).toEqual([
      [3, 3],
      [3, 3],
    ]);
    expect(new Parameter(data, { requiresGrad: false }).requiresGrad).toBe(false);
    expect(parameter.toString()).toMatch(/^Parameter containing:\ntensor\(/);
  });

  it("copies a view so the parameter owns its storage (in-place updates need it)", () => {
    const base = ones([4, 4]);
    const parameter = new Parameter(base.transpose(0, 1));
    base.fill_(2);
    expect(parameter.sum().item()).toBe(16);
  });

  it("keeps parameters and buffers alive past a tidy scope they were created in", () => {
    const made: Block[] = [];
    tidy(() => {
      made.push(new Block());
    });
    const [block] = made;
    expect([...block.parameters(), ...block.buffers()].some((t) => t.isDisposed)).toBe(false);
    expect(block.forward(ones([1, 2])).shape).toEqual([1, 3]);
  });

  it("refuses an int32 parameter that requires grad", () => {
    expect(() => new Parameter(zeros([2], { dtype: "int32" }))).toThrow(/must be float, got int32/);
  });
});

describe("train / eval", () => {
  it("sets the flag on every module, recursively", () => {
    const net = new Net();
    expect([...net.modules()].every((m) => m.training)).toBe(true);
    expect(net.eval()).toBe(net);
    expect([...net.modules()].every((m) => !m.training)).toBe(true);
    net.train();
    expect([...net.modules()].every((m) => m.training)).toBe(true);
  });

  it("makes dropout the identity in eval and seeded in training", () => {
    const model = new Sequential(new Dropout(0.5));
    const x = ones([4, 8]);
    manualSeed(3);
    const first = Array.from(model.forward(x).dataSync());
    manualSeed(3);
    expect(Array.from(model.forward(x).dataSync())).toEqual(first);
    expect(first.every((v) => v === 0 || v === 2)).toBe(true);
    expect(first).toContain(0);
    model.eval();
    expect(model.forward(x).tolist()).toEqual(x.tolist());
  });
});

describe("apply, zeroGrad, call", () => {
  it("applies fn to children before the parent", () => {
    const net = new Net();
    const visited: AnyModule[] = [];
    expect(net.apply((m) => visited.push(m))).toBe(net);
    expect(visited).toEqual([net.first.inner, net.first, net.act, net.second.inner, net.second, net]);
  });

  it("sets gradients to null, or to zeros with setToNone: false", () => {
    const layer = new Linear(3, 2);
    layer
      .call(ones([1, 3]))
      .sum()
      .backward();
    expect(layer.weight.grad).not.toBeNull();
    layer.zeroGrad({ setToNone: false });
    expect(layer.weight.grad?.tolist()).toEqual([
      [0, 0, 0],
      [0, 0, 0],
    ]);
    layer.zeroGrad();
    expect(layer.weight.grad).toBeNull();
    expect(layer.bias?.grad).toBeNull();
  });

  it("requiresGrad_ freezes and unfreezes every parameter, recursively, and returns the module", () => {
    // torch: net[0].requires_grad_(False) → net[0] has no grads after backward, net[1] has.
    const net = new Sequential(new Sequential(new Linear(3, 4), new ReLU()), new Linear(4, 2));
    const frozen = net.at(0);
    expect(frozen.requiresGrad_(false)).toBe(frozen);
    expect([...net.parameters()].map((p) => p.requiresGrad)).toEqual([false, false, true, true]);
    net
      .call(randn([2, 3]))
      .sum()
      .backward();
    expect([...frozen.parameters()].map((p) => p.grad)).toEqual([null, null]);
    expect([...net.at(1).parameters()].every((p) => p.grad !== null)).toBe(true);
    net.requiresGrad_();
    expect([...net.parameters()].every((p) => p.requiresGrad)).toBe(true);
    expect(net.training).toBe(true);
  });

  it("requiresGrad_(false) leaves BatchNorm's running statistics to train()/eval()", () => {
    const bn = new BatchNorm1d(2).requiresGrad_(false);
    const x = tensor([
      [1, 2],
      [3, 6],
    ]);
    bn.forward(x);
    // Frozen γ and β, but training mode: the running mean still moved (0.1·batch mean).
    expect(bn.runningMean?.tolist()).toEqual([Math.fround(0.2), Math.fround(0.4)]);
    bn.eval().forward(x);
    expect(bn.numBatchesTracked?.item()).toBe(1);
  });

  it("call() runs forward()", () => {
    const layer = new Linear(3, 2);
    const x = randn([2, 3]);
    expect(layer.call(x).tolist()).toEqual(layer.forward(x).tolist());
  });
});

describe("to(dtype | device)", () => {
  it("converts float parameters and buffers, keeps integer buffers, converts gradients", () => {
    const block = new Block();
    block
      .forward(randn([2, 2]))
      .sum()
      .backward();
    const before = block.weight.tolist();
    expect(block.to("float64")).toBe(block);
    expect([...block.parameters()].map((p) => p.dtype)).toEqual(["float64", "float64", "float64"]);
    expect(block.weight).toBeInstanceOf(Parameter);
    expect(block.weight.requiresGrad).toBe(true);
    expect(block.weight.grad?.dtype).toBe("float64");
    expect(block.runningMean.dtype).toBe("float64");
    expect(block.scratch.persistent).toBe(false);
    expect(block.steps.dtype).toBe("int32");
    expect(block.weight.tolist()).toEqual(before);
  });

  it("keeps a shared parameter shared", () => {
    class Tied extends Module {
      a = new Linear(2, 2);
      b = new Linear(2, 2);
      constructor() {
        super();
        this.b.weight = this.a.weight;
      }
      forward(x: Tensor): Tensor {
        return this.b.forward(this.a.forward(x));
      }
    }
    const tied = new Tied().to("float64");
    expect(tied.a.weight).toBe(tied.b.weight);
    expect(tied.a.weight.dtype).toBe("float64");
  });

  it("is a no-op for the current device", () => {
    const layer = new Linear(2, 2);
    const weight = layer.weight;
    layer.to("cpu");
    expect(layer.weight).toBe(weight);
  });
});

describe("containers", () => {
  it("Sequential chains its children and indexes them", () => {
    const first = new Linear(2, 3);
    const model = new Sequential(first, new ReLU());
    model.append(new Linear(3, 1));
    expect(model.length).toBe(3);
    expect(model.at(0)).toBe(first);
    expect(model.at(-1)).toBeInstanceOf(Linear);
    expect([...model].length).toBe(3);
    const x = randn([4, 2]);
    const expected = model.at(2).forward(model.at(1).forward(first.forward(x)));
    expect(model.forward(x).tolist()).toEqual(expected.tolist());
    expect([...model.namedParameters()].map(([name]) => name)).toEqual([
      "0.weight",
      "0.bias",
      "2.weight",
      "2.bias",
    ]);
    expect(() => model.at(3)).toThrow(/Sequential index 3 is out of range for length 3/);
  });

  it("ModuleList holds modules for a hand-written forward and has no forward of its own", () => {
    const list = new ModuleList([new Linear(2, 2), new Linear(2, 2)]);
    expect([...list.namedParameters()].map(([name]) => name)).toEqual([
      "0.weight",
      "0.bias",
      "1.weight",
      "1.bias",
    ]);
    let x = randn([1, 2]);
    for (const layer of list) x = layer.forward(x);
    expect(x.shape).toEqual([1, 2]);
    expect(() => list.forward()).toThrow(/ModuleList has no forward\(\)/);
  });

  it("refuses something that is not a module", () => {
    expect(() => new ModuleList([tensor([1]) as unknown as AnyModule])).toThrow(/item 0 is not a Module/);
  });
});

describe("memory", () => {
  it("a conv-net training step inside tidy leaves the live-buffer count unchanged", () => {
    const model = new Sequential(
      new Conv2d(1, 2, 3, { padding: 1 }),
      new ReLU(),
      new MaxPool2d(2),
      new AvgPool2d(2),
      new Flatten(),
      new Linear(2, 3),
    );
    const x = randn([2, 1, 4, 4]);
    const target = randint(0, 3, [2]);
    const step = () =>
      tidy(() => {
        model.zeroGrad();
        F.crossEntropy(model.forward(x), target).backward();
        noGrad(() => {
          for (const p of model.parameters()) if (p.grad !== null) p.sub_(p.grad.mul(0.1));
        });
      });
    step();
    const before = liveBuffers();
    step();
    expect(liveBuffers()).toBe(before);
  });
});
