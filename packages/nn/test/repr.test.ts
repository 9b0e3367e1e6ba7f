// Reprs: PyTorch's exact module strings (repr.json of @normgrad/testing) and Python float formatting.
import { loadReprFixture } from "@normgrad/testing";
import { describe, expect, it } from "vitest";
import {
  AdaptiveAvgPool2d,
  type AnyModule,
  AvgPool2d,
  BCEWithLogitsLoss,
  Conv2d,
  CrossEntropyLoss,
  Dropout,
  Flatten,
  formatPythonFloat,
  GELU,
  Identity,
  LeakyReLU,
  Linear,
  LogSoftmax,
  MaxPool2d,
  ModuleList,
  MSELoss,
  NLLLoss,
  ReLU,
  Sequential,
  Sigmoid,
  Softmax,
  Tanh,
} from "../src/index.ts";

/** The repr.json expressions built from this package's layers (the norm layers are tested with them). */
const fromFixture: Record<string, () => AnyModule> = {
  "nn.Linear(3,4, bias=False)": () => new Linear(3, 4, { bias: false }),
  "nn.Conv2d(1, 16, 3, stride=2, padding=1, bias=False)": () =>
    new Conv2d(1, 16, 3, { stride: 2, padding: 1, bias: false }),
  "nn.Sequential(nn.Linear(2,3), nn.ReLU())": () => new Sequential(new Linear(2, 3), new ReLU()),
  "nn.Linear(3, 4)": () => new Linear(3, 4),
  "nn.Conv2d(3, 6, 3)": () => new Conv2d(3, 6, 3),
  "nn.Conv2d(4, 8, (3, 5), padding='same', dilation=2, groups=2)": () =>
    new Conv2d(4, 8, [3, 5], { padding: "same", dilation: 2, groups: 2 }),
  "nn.MaxPool2d(2)": () => new MaxPool2d(2),
  "nn.MaxPool2d(3, stride=2, padding=1)": () => new MaxPool2d(3, { stride: 2, padding: 1 }),
  "nn.AvgPool2d(3, stride=2, padding=1)": () => new AvgPool2d(3, { stride: 2, padding: 1 }),
  "nn.ReLU()": () => new ReLU(),
};

const reprs = loadReprFixture().expected.reprs.filter(({ expr }) => expr in fromFixture);

describe("repr matches PyTorch (repr.json)", () => {
  it("covers every layer of this package in the fixture", () => {
    expect(reprs.length).toBe(Object.keys(fromFixture).length);
  });
  it.each(reprs.map(({ expr, str }) => [expr, str] as const))("%s", (expr, str) => {
    expect(fromFixture[expr]().toString()).toBe(str);
  });
});

describe("repr of the other layers, as PyTorch 1.13 prints them", () => {
  it.each([
    [new LeakyReLU(), "LeakyReLU(negative_slope=0.01)"],
    [new LeakyReLU(1), "LeakyReLU(negative_slope=1.0)"],
    [new Sigmoid(), "Sigmoid()"],
    [new Tanh(), "Tanh()"],
    [new GELU(), "GELU(approximate='none')"],
    [new GELU({ approximate: "tanh" }), "GELU(approximate='tanh')"],
    [new Softmax(1), "Softmax(dim=1)"],
    [new LogSoftmax(-1), "LogSoftmax(dim=-1)"],
    [new Dropout(), "Dropout(p=0.5, inplace=False)"],
    [new Dropout(0.25), "Dropout(p=0.25, inplace=False)"],
    [new Flatten(), "Flatten(start_dim=1, end_dim=-1)"],
    [new Identity(), "Identity()"],
    [new AdaptiveAvgPool2d(1), "AdaptiveAvgPool2d(output_size=1)"],
    [new AdaptiveAvgPool2d([5, null]), "AdaptiveAvgPool2d(output_size=(5, None))"],
    [
      new MaxPool2d([2, 3], { stride: 1, ceilMode: true }),
      "MaxPool2d(kernel_size=(2, 3), stride=1, padding=0, dilation=1, ceil_mode=True)",
    ],
    [
      new Conv2d(2, 4, 3, { padding: "valid" }),
      "Conv2d(2, 4, kernel_size=(3, 3), stride=(1, 1), padding=valid)",
    ],
    [new CrossEntropyLoss(), "CrossEntropyLoss()"],
    [new NLLLoss(), "NLLLoss()"],
    [new MSELoss(), "MSELoss()"],
    [new BCEWithLogitsLoss(), "BCEWithLogitsLoss()"],
    [new Sequential(), "Sequential()"],
    [
      new Sequential(new Linear(2, 3, { bias: false }), new Sequential(new Linear(3, 1))),
      "Sequential(\n  (0): Linear(in_features=2, out_features=3, bias=False)\n  (1): Sequential(\n" +
        "    (0): Linear(in_features=3, out_features=1, bias=True)\n  )\n)",
    ],
    [new ModuleList([new ReLU()]), "ModuleList(\n  (0): ReLU()\n)"],
  ] as const)("%s", (module, expected) => {
    expect(module.toString()).toBe(expected);
  });
});

describe("formatPythonFloat prints as Python's repr(float)", () => {
  it.each([
    [1e-5, "1e-05"],
    [0.001, "0.001"],
    [0.0001, "0.0001"],
    [0.1, "0.1"],
    [0.3, "0.3"],
    [1, "1.0"],
    [-2.5, "-2.5"],
    [100, "100.0"],
    [123456789012345.6, "123456789012345.6"],
    [1e16, "1e+16"],
    [1.5e16, "1.5e+16"],
    [1e100, "1e+100"],
    [1.25e-7, "1.25e-07"],
    [-3e-300, "-3e-300"],
    [0, "0.0"],
    [-0, "-0.0"],
    [Number.NaN, "nan"],
    [Number.POSITIVE_INFINITY, "inf"],
    [Number.NEGATIVE_INFINITY, "-inf"],
  ])("%d → %s", (value, expected) => {
    expect(formatPythonFloat(value)).toBe(expected);
  });
});
