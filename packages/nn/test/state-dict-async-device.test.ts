// loadStateDict from an asynchronous device ("gpu" faked on the CPU kernels): refused before anything is copied.
import { randn } from "@normgrad/core";
import { registerFakeGpu } from "@normgrad/testing";
import { beforeAll, describe, expect, it } from "vitest";
import { Linear, Sequential } from "../src/index.ts";

describe("loadStateDict across devices", () => {
  beforeAll(() => registerFakeGpu({ asynchronous: true }));

  it("refuses a state on an asynchronous device for a module on another, copying nothing", () => {
    const target = new Sequential(new Linear(2, 3), new Linear(3, 1));
    const before = target.stateDict().get("0.weight")?.tolist();
    const state = new Sequential(new Linear(2, 3), new Linear(3, 1)).stateDict();
    // Only 1.weight lives on the asynchronous device; 0.weight would be copied before it.
    const weight = state.get("1.weight");
    if (weight === undefined) throw new Error("no 1.weight");
    state.set("1.weight", weight.to("gpu"));
    expect(() => target.loadStateDict(state)).toThrow(
      "device mismatch for 1.weight: the state dict's tensor is on gpu, which is read asynchronously, the module's is on cpu; move the module first with .to(\"gpu\")",
    );
    expect(target.stateDict().get("0.weight")?.tolist()).toEqual(before);
  });

  it("loads a CPU state into a module on the asynchronous device", async () => {
    const source = new Linear(2, 3);
    const target = new Linear(2, 3).to("gpu");
    target.loadStateDict(source.stateDict());
    const x = randn([4, 2]);
    expect(Array.from(await target.forward(x.to("gpu")).data())).toEqual(
      Array.from(source.forward(x).dataSync()),
    );
  });
});
