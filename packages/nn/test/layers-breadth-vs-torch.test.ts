// The #20 layers against PyTorch 1.13.1 (test/fixtures/layers-breadth.json): outputs, gradients, reprs, state-dict keys.
import { readFileSync } from "node:fs";
import { type DType, type Tensor, zeros } from "@normgrad/core";
import { type Fixture, fromFixture } from "@normgrad/testing";
import { describe, expect, it } from "vitest";
import {
  AdaptiveMaxPool2d,
  type AnyModule,
  AvgPool1d,
  Conv1d,
  Conv2d,
  Embedding,
  F,
  Linear,
  MaxPool1d,
  ModuleDict,
  ParameterList,
  ReLU,
  Sequential,
  Upsample,
} from "../src/index.ts";
import { loadLocalFixtures } from "./local-fixtures.ts";

/** As layers-vs-torch.test.ts: float64 tight, float32 at the parity tolerance. */
const TOLERANCE = {
  float64: { rtol: 1e-12, atol: 1e-12 },
  float32: { rtol: 5e-4, atol: 1e-6 },
} as const;

type Config = Record<string, unknown>;
const num = (value: unknown) => Number(value);
const optionalNum = (value: unknown) => (value === undefined || value === null ? undefined : Number(value));
const pairOrNum = (value: unknown) =>
  Array.isArray(value) ? ([Number(value[0]), Number(value[1])] as [number, number]) : Number(value);

function convOptions(config: Config, dtype: DType) {
  const padding = config.padding;
  return {
    stride: config.stride === undefined ? undefined : pairOrNum(config.stride),
    padding:
      typeof padding === "string"
        ? (padding as "same" | "valid")
        : padding === undefined
          ? undefined
          : pairOrNum(padding),
    dilation: config.dilation === undefined ? undefined : pairOrNum(config.dilation),
    groups: optionalNum(config.groups),
    bias: config.bias !== false,
    paddingMode: (config.padding_mode ?? "zeros") as "zeros" | "reflect" | "replicate" | "circular",
    dtype,
  };
}

function interpolateOptions(config: Config): F.InterpolateOptions {
  const sizeOf = (value: unknown) => (Array.isArray(value) ? value.map(Number) : optionalNum(value));
  return {
    size: sizeOf(config.size),
    scaleFactor: sizeOf(config.scale_factor),
    mode: config.mode as F.InterpolateMode,
    alignCorners: config.align_corners === undefined ? null : config.align_corners === true,
  };
}

const adaptiveSize = (value: unknown): F.AdaptiveSize =>
  Array.isArray(value)
    ? [value[0] === null ? null : Number(value[0]), value[1] === null ? null : Number(value[1])]
    : Number(value);

/** Each op's module (null: functional only), built from the config and given the fixture's params. */
const modules: Record<string, (c: Config, dtype: DType) => AnyModule | null> = {
  embedding: (c, dtype) =>
    new Embedding(num(c.num_embeddings), num(c.embedding_dim), {
      paddingIdx: optionalNum(c.padding_idx),
      dtype,
    }),
  conv1d: (c, dtype) => {
    const { stride, padding, dilation, ...rest } = convOptions(c, dtype);
    return new Conv1d(num(c.in_channels), num(c.out_channels), num(c.kernel_size), {
      ...rest,
      stride: stride as number | undefined,
      padding: padding as number | "same" | "valid" | undefined,
      dilation: dilation as number | undefined,
    });
  },
  conv2d: (c, dtype) =>
    new Conv2d(num(c.in_channels), num(c.out_channels), pairOrNum(c.kernel_size), convOptions(c, dtype)),
  pad: () => null,
  max_pool1d: (c) =>
    new MaxPool1d(num(c.kernel_size), {
      stride: optionalNum(c.stride),
      padding: optionalNum(c.padding),
      dilation: optionalNum(c.dilation),
      ceilMode: c.ceil_mode === true,
    }),
  avg_pool1d: (c) =>
    new AvgPool1d(num(c.kernel_size), {
      stride: optionalNum(c.stride),
      padding: optionalNum(c.padding),
      ceilMode: c.ceil_mode === true,
      countIncludePad: c.count_include_pad !== false,
    }),
  adaptive_max_pool2d: (c) => new AdaptiveMaxPool2d(adaptiveSize(c.output_size)),
  interpolate: (c) => new Upsample(interpolateOptions(c)),
};

const functional: Record<string, (c: Config, x: Tensor, p: Record<string, Tensor>) => Tensor> = {
  embedding: (c, x, p) => F.embedding(x, p.weight, { paddingIdx: optionalNum(c.padding_idx) }),
  conv1d: () => {
    throw new Error("conv1d cases are checked through the module (padding modes live there)");
  },
  conv2d: () => {
    throw new Error("conv2d cases are checked through the module");
  },
  pad: (c, x) =>
    F.pad(x, (c.pad as number[]).map(Number), { mode: c.mode as F.PadMode, value: optionalNum(c.value) }),
  max_pool1d: (c, x) =>
    F.maxPool1d(x, num(c.kernel_size), {
      stride: optionalNum(c.stride),
      padding: optionalNum(c.padding),
      dilation: optionalNum(c.dilation),
      ceilMode: c.ceil_mode === true,
    }),
  avg_pool1d: (c, x) =>
    F.avgPool1d(x, num(c.kernel_size), {
      stride: optionalNum(c.stride),
      padding: optionalNum(c.padding),
      ceilMode: c.ceil_mode === true,
      countIncludePad: c.count_include_pad !== false,
    }),
  adaptive_max_pool2d: (c, x) => F.adaptiveMaxPool2d(x, adaptiveSize(c.output_size)),
  interpolate: (c, x) => F.interpolate(x, interpolateOptions(c)),
};

/** The module's input (x, or the embedding's indices) and the fixture's params as tensors. */
function load(fixture: Fixture, dtype: DType) {
  const input = fromFixture(fixture.inputs.x ?? fixture.inputs.indices, dtype, {
    requiresGrad: "x" in fixture.expected.grads,
  });
  const params: Record<string, Tensor> = {};
  for (const [name, value] of Object.entries(fixture.params))
    params[name] = fromFixture(value, dtype, { requiresGrad: true });
  return { input, params };
}

function check(
  fixture: Fixture,
  dtype: keyof typeof TOLERANCE,
  output: Tensor,
  named: Record<string, Tensor | null>,
) {
  expect(output.dtype).toBe(dtype);
  expect(output, "output").toBeAllclose(fixture.expected.output, TOLERANCE[dtype]);
  output.backward(fromFixture(fixture.inputs.dy, dtype));
  for (const [name, expected] of Object.entries(fixture.expected.grads)) {
    expect(named[name]?.grad, `grad of ${name}`).toBeAllclose(expected, TOLERANCE[dtype]);
  }
}

const fixtures = loadLocalFixtures("layers-breadth.json");
const named = (fixture: Fixture) => [fixture.name, fixture] as const;

describe.each(["float64", "float32"] as const)("layers-breadth.json (%s)", (dtype) => {
  it.each(fixtures.filter((f) => !f.op.startsWith("conv")).map(named))("F: %s", (_, fixture) => {
    const { input, params } = load(fixture, dtype);
    check(fixture, dtype, functional[fixture.op](fixture.config, input, params), { x: input, ...params });
  });

  it.each(fixtures.filter((f) => f.op !== "pad").map(named))("module: %s", (_, fixture) => {
    const { input, params } = load(fixture, dtype);
    const module = modules[fixture.op](fixture.config, dtype) as AnyModule & { forward(x: Tensor): Tensor };
    module.loadStateDict(params);
    const state = Object.fromEntries(module.namedParameters());
    check(fixture, dtype, module.forward(input), { x: input, ...state });
  });
});

const { reprs, state_dicts: stateDicts } = JSON.parse(
  readFileSync(new URL("./fixtures/layers-breadth.json", import.meta.url), "utf8"),
) as { reprs: { expr: string; str: string }[]; state_dicts: { expr: string; keys: string[] }[] };

const conv = () => new Conv1d(2, 3, 3);
const fromExpr: Record<string, () => AnyModule> = {
  "nn.Embedding(10, 3)": () => new Embedding(10, 3),
  "nn.Embedding(10, 3, padding_idx=0)": () => new Embedding(10, 3, { paddingIdx: 0 }),
  "nn.Embedding(10, 3, padding_idx=-2)": () => new Embedding(10, 3, { paddingIdx: -2 }),
  "nn.Conv1d(2, 3, 3)": conv,
  "nn.Conv1d(4, 6, 3, stride=2, padding=1, groups=2, bias=False)": () =>
    new Conv1d(4, 6, 3, { stride: 2, padding: 1, groups: 2, bias: false }),
  "nn.Conv1d(2, 3, 3, dilation=2, padding='same')": () =>
    new Conv1d(2, 3, 3, { dilation: 2, padding: "same" }),
  "nn.Conv1d(2, 3, 3, padding='valid')": () => new Conv1d(2, 3, 3, { padding: "valid" }),
  "nn.Conv1d(2, 3, 3, padding=1, padding_mode='reflect')": () =>
    new Conv1d(2, 3, 3, { padding: 1, paddingMode: "reflect" }),
  "nn.Conv1d(2, 3, 3, padding=1, padding_mode='circular')": () =>
    new Conv1d(2, 3, 3, { padding: 1, paddingMode: "circular" }),
  "nn.Conv2d(2, 3, 3, padding=1, padding_mode='replicate')": () =>
    new Conv2d(2, 3, 3, { padding: 1, paddingMode: "replicate" }),
  "nn.Conv2d(2, 3, (2, 3), padding=(1, 2), padding_mode='reflect')": () =>
    new Conv2d(2, 3, [2, 3], { padding: [1, 2], paddingMode: "reflect" }),
  "nn.MaxPool1d(2)": () => new MaxPool1d(2),
  "nn.MaxPool1d(3, stride=2, padding=1, dilation=2, ceil_mode=True)": () =>
    new MaxPool1d(3, { stride: 2, padding: 1, dilation: 2, ceilMode: true }),
  "nn.AvgPool1d(3)": () => new AvgPool1d(3),
  "nn.AvgPool1d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)": () =>
    new AvgPool1d(3, { stride: 2, padding: 1, ceilMode: true, countIncludePad: false }),
  "nn.AdaptiveMaxPool2d(3)": () => new AdaptiveMaxPool2d(3),
  "nn.AdaptiveMaxPool2d((2, 3))": () => new AdaptiveMaxPool2d([2, 3]),
  "nn.AdaptiveMaxPool2d((None, 3))": () => new AdaptiveMaxPool2d([null, 3]),
  "nn.Upsample(scale_factor=2)": () => new Upsample({ scaleFactor: 2 }),
  "nn.Upsample(scale_factor=1.5, mode='bilinear')": () =>
    new Upsample({ scaleFactor: 1.5, mode: "bilinear" }),
  "nn.Upsample(size=(4, 6), mode='bilinear', align_corners=True)": () =>
    new Upsample({ size: [4, 6], mode: "bilinear", alignCorners: true }),
  "nn.Upsample(size=5)": () => new Upsample({ size: 5 }),
  "nn.Upsample(scale_factor=(2, 3))": () => new Upsample({ scaleFactor: [2, 3] }),
  "nn.ModuleDict({'conv': nn.Conv1d(2, 3, 3), 'act': nn.ReLU()})": () =>
    new ModuleDict<AnyModule>({ conv: conv(), act: new ReLU() }),
  "nn.ModuleDict()": () => new ModuleDict(),
  "nn.ParameterList([nn.Parameter(torch.zeros(3, 4)), nn.Parameter(torch.zeros(2, dtype=torch.float64))])":
    () => new ParameterList([zeros([3, 4]), zeros([2], { dtype: "float64" })]),
  "nn.ParameterList()": () => new ParameterList(),
};

const stateFromExpr: Record<string, () => AnyModule> = {
  "nn.Embedding(10, 3, padding_idx=0)": fromExpr["nn.Embedding(10, 3, padding_idx=0)"],
  "nn.Conv1d(2, 3, 3)": conv,
  "nn.Conv1d(2, 3, 3, bias=False, padding_mode='reflect')": () =>
    new Conv1d(2, 3, 3, { bias: false, paddingMode: "reflect" }),
  "nn.ModuleDict({'conv': nn.Conv1d(2, 3, 3), 'act': nn.ReLU(), 'head': nn.Linear(3, 1)})": () =>
    new ModuleDict<AnyModule>([
      ["conv", conv()],
      ["act", new ReLU()],
      ["head", new Linear(3, 1)],
    ]),
  "nn.ParameterList([nn.Parameter(torch.zeros(3, 4)), nn.Parameter(torch.zeros(2))])": () =>
    new ParameterList([zeros([3, 4]), zeros([2])]),
  "nn.Sequential(nn.ModuleDict({'a': nn.Linear(2, 2)}), nn.ParameterList([nn.Parameter(torch.zeros(1))]))":
    () => {
      const holder = new Sequential();
      Reflect.set(holder, "0", new ModuleDict({ a: new Linear(2, 2) }));
      Reflect.set(holder, "1", new ParameterList([zeros([1])]));
      return holder;
    },
};

describe("reprs and state-dict keys as PyTorch 1.13 prints them (layers-breadth.json)", () => {
  it("covers every fixture expression", () => {
    expect(reprs.map(({ expr }) => expr).filter((expr) => !(expr in fromExpr))).toEqual([]);
    expect(stateDicts.map(({ expr }) => expr).filter((expr) => !(expr in stateFromExpr))).toEqual([]);
  });

  it.each(reprs.map(({ expr, str }) => [expr, str] as const))("%s", (expr, str) => {
    expect(fromExpr[expr]().toString()).toBe(str);
  });

  it.each(stateDicts.map(({ expr, keys }) => [expr, keys] as const))("state dict of %s", (expr, keys) => {
    expect([...stateFromExpr[expr]().stateDict().keys()]).toEqual(keys);
  });
});
