// The norm layers' reprs and state-dict keys against PyTorch's (repr.json of @normgrad/testing).
import { loadReprFixture } from "@normgrad/testing";
import { describe, expect, it } from "vitest";
import { ReLU } from "../src/layers/activation.ts";
import { BatchNorm1d, BatchNorm2d } from "../src/layers/batch-norm.ts";
import { Sequential } from "../src/layers/container.ts";
import { Conv2d } from "../src/layers/conv2d.ts";
import { GroupNorm } from "../src/layers/group-norm.ts";
import { InstanceNorm2d } from "../src/layers/instance-norm.ts";
import { LayerNorm } from "../src/layers/layer-norm.ts";
import { Linear } from "../src/layers/linear.ts";
import type { AnyModule } from "../src/module.ts";

const fixture = loadReprFixture();

/** Every repr.json expression that builds a norm layer, as normgrad writes it. */
const NORM_EXPRESSIONS: Record<string, () => AnyModule> = {
  "nn.BatchNorm1d(100)": () => new BatchNorm1d(100),
  "nn.BatchNorm2d(64, eps=1e-3, momentum=None, affine=False)": () =>
    new BatchNorm2d(64, { eps: 1e-3, momentum: null, affine: false }),
  "nn.LayerNorm((10,20))": () => new LayerNorm([10, 20]),
  "nn.GroupNorm(4, 32)": () => new GroupNorm(4, 32),
  "nn.BatchNorm1d(10, track_running_stats=False)": () => new BatchNorm1d(10, { trackRunningStats: false }),
  "nn.LayerNorm(5)": () => new LayerNorm(5),
  "nn.LayerNorm(8, elementwise_affine=False)": () => new LayerNorm(8, { elementwiseAffine: false }),
  "nn.GroupNorm(2, 4, affine=False)": () => new GroupNorm(2, 4, { affine: false }),
  "nn.InstanceNorm2d(3)": () => new InstanceNorm2d(3),
  "nn.InstanceNorm2d(3, affine=True)": () => new InstanceNorm2d(3, { affine: true }),
  "nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU())": () =>
    new Sequential(new Conv2d(3, 8, 3), new BatchNorm2d(8), new ReLU()),
};

const normReprs = fixture.expected.reprs.filter(({ expr }) => /Norm/.test(expr));

/** The extra state dicts of repr.json, built with normgrad's layers. */
const STATE_DICT_EXPRESSIONS: Record<string, () => AnyModule> = {
  "nn.BatchNorm2d(4, track_running_stats=False)": () => new BatchNorm2d(4, { trackRunningStats: false }),
  "nn.BatchNorm2d(4, affine=False)": () => new BatchNorm2d(4, { affine: false }),
  "nn.Sequential(nn.Linear(2, 3, bias=False), nn.Sequential(nn.LayerNorm(3), nn.Linear(3, 1)))": () =>
    new Sequential(new Linear(2, 3, { bias: false }), new Sequential(new LayerNorm(3), new Linear(3, 1))),
};

describe("norm reprs match PyTorch (repr.json)", () => {
  it("covers every norm expression of the fixture", () => {
    expect(normReprs.map(({ expr }) => expr).sort()).toEqual(Object.keys(NORM_EXPRESSIONS).sort());
  });

  it.each(normReprs.map(({ expr, str }) => [expr, str] as const))("%s", (expr, str) => {
    expect(NORM_EXPRESSIONS[expr]().toString()).toBe(str);
  });

  it("names the BatchNorm2d state as PyTorch in Sequential(Conv2d, BatchNorm2d, ReLU, Linear)", () => {
    const model = new Sequential(new Conv2d(3, 8, 3), new BatchNorm2d(8), new ReLU(), new Linear(8, 4));
    const { keys, buffers } = fixture.expected.state_dict;
    expect([...model.stateDict().keys()]).toEqual(keys);
    expect([...model.namedBuffers()].map(([name]) => name)).toEqual(buffers);
  });

  it.each(fixture.expected.extra_state_dicts.map(({ expr, keys }) => [expr, keys] as const))(
    "state dict keys of %s",
    (expr, keys) => {
      expect([...STATE_DICT_EXPRESSIONS[expr]().stateDict().keys()]).toEqual(keys);
    },
  );
});
