// State dicts: PyTorch key order, loadStateDict checks and errors, versions, and save → load round trips.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { manualSeed, ones, randn, type Tensor, tensor, zeros } from "@normgrad/core";
import { loadReprFixture } from "@normgrad/testing";
import { afterAll, describe, expect, it } from "vitest";
import {
  Buffer,
  Conv2d,
  Flatten,
  fromBytes,
  Linear,
  load,
  MaxPool2d,
  Module,
  Parameter,
  ReLU,
  Sequential,
  StateDict,
  save,
  toBytes,
} from "../src/index.ts";

/** A stand-in with BatchNorm's state layout (the norm layers have their own tests). */
class NormLike extends Module {
  weight: Parameter;
  bias: Parameter;
  runningMean: Buffer;
  runningVar: Buffer;
  numBatchesTracked = new Buffer(zeros([], { dtype: "int32" }));

  constructor(channels: number) {
    super();
    this.weight = new Parameter(ones([channels]));
    this.bias = new Parameter(zeros([channels]));
    this.runningMean = new Buffer(zeros([channels]));
    this.runningVar = new Buffer(ones([channels]));
  }

  forward(x: Tensor): Tensor {
    return x.mul(this.weight.reshape([-1, 1, 1])).add(this.bias.reshape([-1, 1, 1]));
  }
}

describe("state dict keys follow PyTorch (repr.json)", () => {
  const reference = loadReprFixture().expected.state_dict;
  // nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Linear(8, 4)), in float64
  const model = new Sequential(new Conv2d(3, 8, 3), new NormLike(8), new ReLU(), new Linear(8, 4)).to(
    "float64",
  );

  it("has the same keys, shapes and dtypes (int32 saved as int64)", () => {
    const state = model.stateDict();
    expect([...state.keys()]).toEqual(reference.keys);
    const bytes = toBytes(model);
    const saved = fromBytes(bytes);
    const header = readHeader(bytes);
    for (const { key, shape, dtype } of reference.entries) {
      expect(state.get(key)?.shape, key).toEqual(shape);
      expect(saved.get(key)?.shape, key).toEqual(shape);
      expect(header[key].dtype, key).toBe(dtype === "int64" ? "I64" : "F64");
    }
  });

  it("lists parameters and buffers under the same names", () => {
    expect([...model.namedParameters()].map(([name]) => name)).toEqual(reference.parameters);
    expect([...model.namedBuffers()].map(([name]) => name)).toEqual(reference.buffers);
  });
});

/** The parsed JSON header of safetensors bytes. */
function readHeader(bytes: Uint8Array): Record<string, { dtype: string }> {
  const length = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length)));
}

describe("stateDict", () => {
  it("holds detached tensors sharing storage, and leaves out non-persistent buffers", () => {
    class WithScratch extends Module {
      weight = new Parameter(ones([2]));
      scratch = new Buffer(zeros([2]), { persistent: false });
      forward(x: Tensor): Tensor {
        return x;
      }
    }
    const module = new WithScratch();
    const state = module.stateDict();
    expect([...state.keys()]).toEqual(["weight"]);
    const weight = state.get("weight");
    expect(weight?.requiresGrad).toBe(false);
    weight?.fill_(5);
    expect(module.weight.tolist()).toEqual([5, 5]);
  });

  it("records each module's state version by prefix", () => {
    const model = new Sequential(new Linear(2, 2), new ReLU());
    expect([...model.stateDict().versions]).toEqual([
      ["", 1],
      ["0", 1],
      ["1", 1],
    ]);
  });
});

describe("loadStateDict", () => {
  it("copies in place, so parameter objects (and optimizers holding them) stay valid", () => {
    const source = new Linear(3, 2);
    const target = new Linear(3, 2);
    const weight = target.weight;
    expect(target.loadStateDict(source.stateDict())).toEqual({ missingKeys: [], unexpectedKeys: [] });
    expect(target.weight).toBe(weight);
    expect(target.weight.tolist()).toEqual(source.weight.tolist());
    expect(target.weight.requiresGrad).toBe(true);
  });

  it("accepts a plain record of tensors", () => {
    const target = new Linear(2, 1);
    target.loadStateDict({ weight: tensor([[1, 2]]), bias: tensor([3]) });
    expect(target.forward(tensor([[1, 1]])).tolist()).toEqual([[6]]);
  });

  it("reports missing and unexpected keys together", () => {
    const target = new Sequential(new Linear(2, 2), new Linear(2, 2));
    const state = target.stateDict();
    state.delete("1.bias");
    state.set("2.weight", ones([2, 2]));
    expect(() => target.loadStateDict(state)).toThrow(
      /error\(s\) loading the state dict of Sequential:\n {2}missing key\(s\): 1\.bias\n {2}unexpected key\(s\): 2\.weight/,
    );
    expect(target.loadStateDict(state, { strict: false })).toEqual({
      missingKeys: ["1.bias"],
      unexpectedKeys: ["2.weight"],
    });
  });

  it("names the key and both shapes on a size mismatch, and copies nothing", () => {
    const target = new Sequential(new Linear(2, 3), new Linear(3, 1));
    const before = target.at(0).stateDict().get("weight")?.tolist();
    const state = new Sequential(new Linear(2, 3), new Linear(4, 1)).stateDict();
    expect(() => target.loadStateDict(state, { strict: false })).toThrow(
      "size mismatch for 1.weight: copying a tensor of shape [1, 4] from the state dict, the shape in the current module is [1, 3]",
    );
    expect(target.at(0).stateDict().get("weight")?.tolist()).toEqual(before);
  });

  it("refuses a disposed tensor in the state dict before copying anything", () => {
    const target = new Sequential(new Linear(2, 3), new Linear(3, 1));
    const before = target.stateDict().get("0.weight")?.tolist();
    const state = new Sequential(new Linear(2, 3), new Linear(3, 1)).stateDict();
    state.get("1.weight")?.dispose();
    expect(() => target.loadStateDict(state)).toThrow(
      "1.weight: the state dict's tensor was disposed; load it before disposing it",
    );
    // 0.weight comes first in the copy order: a failure during the copy would have half-loaded it.
    expect(target.stateDict().get("0.weight")?.tolist()).toEqual(before);
  });

  it("refuses to load into a module whose tensor was disposed, copying nothing", () => {
    const target = new Sequential(new Linear(2, 3), new Linear(3, 1));
    const [first, , second] = target.parameters();
    const before = first.tolist();
    second.dispose();
    expect(() =>
      target.loadStateDict(new Sequential(new Linear(2, 3), new Linear(3, 1)).stateDict()),
    ).toThrow("1.weight: the module's tensor was disposed; build a new module to load into");
    expect(first.tolist()).toEqual(before);
  });

  it("names the key and both dtypes on a dtype mismatch", () => {
    const target = new Linear(2, 2);
    const state = new Linear(2, 2).to("float64").stateDict();
    expect(() => target.loadStateDict(state)).toThrow(
      /dtype mismatch for weight: the state dict has float64, the module has float32 \(shape \[2, 2\]\)/,
    );
  });

  it("migrates entries saved at an older version through upgradeStateDict", () => {
    class Renamed extends Module {
      gain = new Parameter(ones([2]));
      override get stateVersion(): number {
        return 2;
      }
      // Version 1 called the parameter "scale".
      protected override upgradeStateDict(
        state: Map<string, Tensor>,
        prefix: string,
        fromVersion: number | null,
      ): void {
        const old = state.get(`${prefix}scale`);
        if ((fromVersion === null || fromVersion < 2) && old !== undefined) {
          state.delete(`${prefix}scale`);
          state.set(`${prefix}gain`, old);
        }
      }
      forward(x: Tensor): Tensor {
        return x.mul(this.gain);
      }
    }
    const model = new Sequential(new Renamed());
    const old = new StateDict([["0.scale", tensor([4, 5])]]);
    old.versions.set("", 1);
    old.versions.set("0", 1);
    model.loadStateDict(old);
    expect(model.stateDict().get("0.gain")?.tolist()).toEqual([4, 5]);
    expect(model.stateDict().versions.get("0")).toBe(2);
  });
});

describe("save → load round trips", () => {
  const directory = mkdtempSync(join(tmpdir(), "normgrad-nn-"));
  afterAll(() => rmSync(directory, { recursive: true, force: true }));

  const makeModel = () =>
    new Sequential(
      new Conv2d(1, 4, 3, { padding: 1 }),
      new NormLike(4),
      new ReLU(),
      new MaxPool2d(2),
      new Flatten(),
      new Linear(16, 3),
    );

  it.each(["float32", "float64"] as const)("gives identical outputs (%s), through a file", async (dtype) => {
    manualSeed(1);
    const original = makeModel().to(dtype);
    const stats = original.at(1).stateDict();
    stats.get("running_mean")?.copy_(randn([4]));
    stats.get("num_batches_tracked")?.fill_(7);
    const path = join(directory, `model-${dtype}.safetensors`);
    await save(original, path);
    manualSeed(2);
    const restored = makeModel().to(dtype);
    restored.loadStateDict(await load(path));
    const x = randn([2, 1, 4, 4], { dtype });
    expect(restored.forward(x).tolist()).toEqual(original.forward(x).tolist());
    expect(restored.stateDict().get("1.num_batches_tracked")?.item()).toBe(7);
    expect(restored.stateDict().get("1.num_batches_tracked")?.dtype).toBe("int32");
  });

  it("keeps versions and user metadata in memory (toBytes/fromBytes)", () => {
    const model = new Sequential(new Linear(2, 2));
    const loaded = fromBytes(toBytes(model, { metadata: { format: "pt", author: "normgrad" } }));
    expect([...loaded.versions]).toEqual([...model.stateDict().versions]);
    expect(Object.fromEntries(loaded.metadata)).toEqual({ format: "pt", author: "normgrad" });
  });
});
