// Every nn layer, moved with module.to("gpu"), forward and backward against its float64 CPU copy.
import {
  full,
  Generator,
  noGrad,
  randint,
  type Shape,
  type Tensor,
  tensor,
  tidy,
  zeros,
} from "@normgrad/core";
import {
  AdaptiveAvgPool2d,
  AdaptiveMaxPool2d,
  type AnyModule,
  AvgPool1d,
  AvgPool2d,
  BatchNorm1d,
  BatchNorm2d,
  BCELoss,
  Conv1d,
  Conv2d,
  ConvTranspose2d,
  CrossEntropyLoss,
  ELU,
  Embedding,
  F,
  GELU,
  GRU,
  GroupNorm,
  Hardswish,
  HuberLoss,
  InstanceNorm2d,
  KLDivLoss,
  L1Loss,
  LayerNorm,
  Linear,
  LSTM,
  MaxPool1d,
  MaxPool2d,
  Mish,
  Module,
  MSELoss,
  MultiheadAttention,
  PReLU,
  Sequential,
  SiLU,
  SmoothL1Loss,
  Softplus,
  Tanh,
  TransformerEncoderLayer,
  Upsample,
} from "@normgrad/nn";
import { seeded, type Tolerance } from "@normgrad/testing";
import { describe, expect, it } from "vitest";
import { LAYER_TOLERANCE, SUITE_MODES, skipReason, toGpu, useGpuBackend } from "./helpers.ts";

/** A module whose forward takes one tensor. */
interface Layer extends AnyModule {
  forward(x: Tensor): Tensor;
}

interface LayerCase {
  name: string;
  make: (generator: Generator) => Layer;
  input: Shape;
  /** Run in eval mode (after one training forward, so running statistics have moved). */
  evalMode?: boolean;
  /** Default LAYER_TOLERANCE; looser only for whole blocks, whose float32 chains are long. */
  tolerance?: Tolerance;
}

/** A recurrent layer's output sequence alone, so it fits the one-tensor Layer shape. */
class SequenceOutput extends Module {
  constructor(readonly recurrent: LSTM | GRU) {
    super();
  }

  forward(x: Tensor): Tensor {
    return this.recurrent.forward(x)[0];
  }
}

/** Causal self-attention: a bool mask made on the input's device, true above the diagonal (masked). */
class CausalSelfAttention extends Module {
  constructor(readonly attention: MultiheadAttention) {
    super();
  }

  forward(x: Tensor): Tensor {
    const length = x.shape[0];
    const attnMask = full([length, length], 1, { dtype: "bool", device: x.device }).triu(1);
    return this.attention.forward(x, x, x, { attnMask })[0];
  }
}

const CASES: readonly LayerCase[] = [
  { name: "Linear", make: (generator) => new Linear(7, 5, { generator }), input: [4, 7] },
  {
    name: "Linear on 3-D input, no bias",
    make: (generator) => new Linear(6, 3, { generator, bias: false }),
    input: [2, 3, 6],
  },
  {
    name: "Conv2d stride 2 padding 1 groups 2",
    make: (generator) => new Conv2d(4, 6, 3, { generator, stride: 2, padding: 1, groups: 2 }),
    input: [2, 4, 7, 7],
  },
  {
    name: "Conv2d padding same, dilation 2",
    make: (generator) => new Conv2d(2, 3, 3, { generator, padding: "same", dilation: 2 }),
    input: [1, 2, 6, 5],
  },
  { name: "BatchNorm1d (N, C), training", make: () => new BatchNorm1d(5), input: [8, 5] },
  { name: "BatchNorm1d (N, C, L), eval", make: () => new BatchNorm1d(3), input: [4, 3, 6], evalMode: true },
  { name: "BatchNorm2d, training", make: () => new BatchNorm2d(3), input: [3, 3, 4, 4] },
  { name: "BatchNorm2d, eval", make: () => new BatchNorm2d(2), input: [2, 2, 3, 3], evalMode: true },
  { name: "LayerNorm over the last two dims", make: () => new LayerNorm([4, 5]), input: [3, 4, 5] },
  { name: "GroupNorm, 2 groups", make: () => new GroupNorm(2, 6), input: [2, 6, 3, 3] },
  {
    name: "InstanceNorm2d, affine",
    make: () => new InstanceNorm2d(3, { affine: true }),
    input: [2, 3, 4, 4],
  },
  {
    name: "MaxPool2d 3×3/2 pad 1, ceil mode",
    make: () => new MaxPool2d(3, { stride: 2, padding: 1, ceilMode: true }),
    input: [1, 2, 6, 6],
  },
  {
    name: "AvgPool2d 3×3/2 pad 1, padding not counted",
    make: () => new AvgPool2d(3, { stride: 2, padding: 1, countIncludePad: false }),
    input: [2, 2, 5, 5],
  },
  { name: "AdaptiveAvgPool2d to 2×3", make: () => new AdaptiveAvgPool2d([2, 3]), input: [1, 2, 5, 7] },
  { name: "SiLU", make: () => new SiLU(), input: [3, 5] },
  {
    name: "Softplus β 2, threshold 1 (both regions)",
    make: () => new Softplus({ beta: 2, threshold: 1 }),
    input: [3, 5],
  },
  { name: "ELU alpha 0.5", make: () => new ELU(0.5), input: [3, 5] },
  { name: "Mish", make: () => new Mish(), input: [3, 5] },
  { name: "Hardswish", make: () => new Hardswish(), input: [4, 6] },
  { name: "PReLU, one slope", make: () => new PReLU(), input: [3, 5] },
  { name: "PReLU per channel", make: () => new PReLU(3), input: [2, 3, 2, 2] },
  {
    name: "Conv1d stride 2 groups 2, reflect padding",
    make: (generator) =>
      new Conv1d(4, 6, 3, { generator, stride: 2, padding: 2, groups: 2, paddingMode: "reflect" }),
    input: [2, 4, 9],
  },
  {
    name: "Conv2d circular padding",
    make: (generator) => new Conv2d(2, 3, 3, { generator, padding: [1, 2], paddingMode: "circular" }),
    input: [1, 2, 4, 5],
  },
  {
    name: "Conv1d same, replicate padding",
    make: (generator) => new Conv1d(2, 2, 4, { generator, padding: "same", paddingMode: "replicate" }),
    input: [2, 2, 6],
  },
  {
    name: "ConvTranspose2d stride 2 padding 1 output padding 1 groups 2",
    make: (generator) =>
      new ConvTranspose2d(4, 6, 3, { generator, stride: 2, padding: 1, outputPadding: 1, groups: 2 }),
    input: [2, 4, 3, 3],
  },
  {
    name: "LSTM, 2 layers, bidirectional",
    make: (generator) => new SequenceOutput(new LSTM(3, 4, { generator, numLayers: 2, bidirectional: true })),
    input: [5, 2, 3],
  },
  {
    name: "GRU, batch-first",
    make: (generator) => new SequenceOutput(new GRU(3, 4, { generator, batchFirst: true })),
    input: [2, 5, 3],
  },
  {
    name: "TransformerEncoderLayer, Pre-LN, GELU (MultiheadAttention inside)",
    make: (generator) =>
      new TransformerEncoderLayer(8, 2, {
        generator,
        dimFeedforward: 12,
        dropout: 0,
        activation: "gelu",
        normFirst: true,
      }),
    input: [4, 2, 8],
    // About 20 float32 ops deep (two LayerNorms, softmax, GELU, five matmuls) against float64, and
    // the key projection's gradient is a sum that cancels (softmax's gradient sums to zero over
    // the keys), so its float32 error is absolute: 3e-4 measured, against gradients up to ~1.
    tolerance: { rtol: 1e-3, atol: 1e-3 },
  },
  {
    name: "MultiheadAttention, causal bool mask",
    make: (generator) => new CausalSelfAttention(new MultiheadAttention(6, 2, { generator })),
    input: [4, 2, 6],
  },
  { name: "MaxPool1d 3/2 pad 1", make: () => new MaxPool1d(3, { stride: 2, padding: 1 }), input: [2, 3, 8] },
  {
    name: "AvgPool1d 3/2 pad 1, ceil, padding not counted",
    make: () => new AvgPool1d(3, { stride: 2, padding: 1, ceilMode: true, countIncludePad: false }),
    input: [2, 2, 8],
  },
  { name: "AdaptiveMaxPool2d to 3×4", make: () => new AdaptiveMaxPool2d([3, 4]), input: [1, 2, 5, 7] },
  { name: "Upsample nearest ×1.5", make: () => new Upsample({ scaleFactor: 1.5 }), input: [1, 2, 3, 4] },
  {
    name: "Upsample bilinear to 5×7",
    make: () => new Upsample({ size: [5, 7], mode: "bilinear" }),
    input: [2, 2, 3, 4],
  },
  {
    name: "Upsample bilinear ×2, align corners",
    make: () => new Upsample({ scaleFactor: 2, mode: "bilinear", alignCorners: true }),
    input: [1, 2, 3, 3],
  },
  {
    name: "a small CNN (Sequential)",
    make: (generator) =>
      new Sequential(
        new Conv2d(1, 4, 3, { generator, padding: 1 }),
        new BatchNorm2d(4),
        new GELU(),
        new MaxPool2d(2),
        new Conv2d(4, 2, 3, { generator }),
        new Tanh(),
      ),
    input: [2, 1, 8, 8],
  },
];

/** Gives every parameter seeded values (norm layers start at 1 and 0, which would hide affine mistakes). */
function randomizeParameters(module: AnyModule, seed: number): void {
  let k = 0;
  noGrad(() => {
    for (const parameter of module.parameters()) {
      parameter.copy_(
        seeded(parameter.shape, seed + k++)
          .detach()
          .mul(0.5)
          .add(1)
          .to(parameter.dtype),
      );
    }
  });
}

function forwardPass(model: Layer, x: Tensor, evalMode: boolean): Tensor {
  if (evalMode) {
    tidy(() => {
      model.train();
      model.forward(x.detach());
    });
    model.eval();
  } else {
    model.train();
  }
  return model.forward(x);
}

describe.each(SUITE_MODES)("GPU.js %s mode", (mode) => {
  const reason = skipReason(mode);
  describe.skipIf(reason !== null)("nn layers against their float64 CPU copies", () => {
    useGpuBackend(mode, { specializeInputSizes: false });

    it.each(CASES.map((c, i) => [c.name, c, i] as const))(
      "%s",
      async (_, { make, input, evalMode = false, tolerance = LAYER_TOLERANCE }, i) => {
        const cpu = make(new Generator(i)).to("float64");
        const gpu = make(new Generator(i)).to("gpu");
        randomizeParameters(cpu, 100 * i);
        randomizeParameters(gpu, 100 * i);
        const x = seeded(input, 100 * i + 50);
        const xGpu = toGpu(x);
        const expected = forwardPass(cpu, x, evalMode);
        const actual = forwardPass(gpu, xGpu, evalMode);
        expect(actual.device).toBe("gpu");
        expect(await actual.data(), "output").toBeAllclose(await expected.data(), tolerance);
        const dy = seeded(expected.shape, 100 * i + 60).detach();
        expected.backward(dy);
        actual.backward(toGpu(dy));
        if (xGpu.grad === null || x.grad === null) throw new Error("the input has no gradient");
        expect(await xGpu.grad.data(), "dx").toBeAllclose(await x.grad.data(), tolerance);
        const cpuParameters = [...cpu.namedParameters()];
        for (const [k, [name, parameter]] of [...gpu.namedParameters()].entries()) {
          const want = cpuParameters[k][1].grad;
          if (want === null || parameter.grad === null) throw new Error(`${name} has no gradient`);
          expect(await parameter.grad.data(), `d${name}`).toBeAllclose(await want.data(), tolerance);
        }
        const cpuBuffers = [...cpu.namedBuffers()];
        for (const [k, [name, buffer]] of [...gpu.namedBuffers()].entries()) {
          expect(await buffer.data(), name).toBeAllclose(await cpuBuffers[k][1].data(), tolerance);
        }
      },
    );

    it.each([
      ["cross entropy with label smoothing", new CrossEntropyLoss({ labelSmoothing: 0.1 })],
      ["MSE", new MSELoss()],
    ] as const)("%s loss", async (name, loss) => {
      const logits = seeded([5, 4], name.length);
      const target =
        loss instanceof MSELoss ? seeded([5, 4], 7).detach() : tensor([0, 3, 1, 1, 2], { dtype: "int32" });
      const expected = loss.forward(logits, target);
      const actual = loss.forward(toGpu(logits), toGpu(target));
      expect(await actual.data(), "loss").toBeAllclose(await expected.data(), LAYER_TOLERANCE);
    });

    // The #20 losses on (input, target) of one shape: the loss and both gradients.
    const same = (x: Tensor) => x;
    it.each([
      ["L1", () => new L1Loss(), same, same],
      ["smooth L1 β 0.5, sum", () => new SmoothL1Loss({ beta: 0.5, reduction: "sum" }), same, same],
      ["Huber δ 0.7, none", () => new HuberLoss({ delta: 0.7, reduction: "none" }), same, same],
      [
        "KL divergence, batchmean",
        () => new KLDivLoss({ reduction: "batchmean" }),
        (x: Tensor) => x.logSoftmax(1),
        (t: Tensor) => t.softmax(1),
      ],
      [
        "KL divergence, log target",
        () => new KLDivLoss({ logTarget: true }),
        (x: Tensor) => x.logSoftmax(1),
        same,
      ],
      ["BCE", () => new BCELoss(), (x: Tensor) => x.sigmoid(), (t: Tensor) => t.sigmoid()],
    ] as const)("%s loss and its gradients", async (name, make, prepareInput, prepareTarget) => {
      const input = seeded([5, 4], 30 + name.length);
      const target = prepareTarget(seeded([5, 4], 40 + name.length, { requiresGrad: false }))
        .detach()
        .requiresGrad_();
      const [inputGpu, targetGpu] = [toGpu(input), toGpu(target)];
      const expected = make().forward(prepareInput(input), target);
      const actual = make().forward(prepareInput(inputGpu), targetGpu);
      expect(await actual.data(), "loss").toBeAllclose(await expected.data(), LAYER_TOLERANCE);
      const dy = seeded(expected.shape, 9).detach();
      expected.backward(dy);
      actual.backward(toGpu(dy));
      for (const [label, cpu, gpu] of [
        ["dinput", input, inputGpu],
        ["dtarget", target, targetGpu],
      ] as const) {
        if (cpu.grad === null || gpu.grad === null) throw new Error(`${label} is missing`);
        expect(await gpu.grad.data(), label).toBeAllclose(await cpu.grad.data(), LAYER_TOLERANCE);
      }
    });

    // Integer inputs make most windows tie: the first maximum must take the index, the value and
    // the gradient, as on the CPU (whose rule is checked against PyTorch in @normgrad/nn).
    it.each([
      ["2×2/2", () => new MaxPool2d(2, { returnIndices: true }), [2, 2, 6, 8], 0],
      [
        "3×3/1 pad 1 (overlapping)",
        () => new MaxPool2d(3, { stride: 1, padding: 1, returnIndices: true }),
        [1, 2, 5, 6],
        0,
      ],
      ["2×2/1 on zeros", () => new MaxPool2d(2, { stride: 1, returnIndices: true }), [1, 1, 4, 5], null],
    ] as const)(
      "MaxPool2d %s at ties: the first maximum's index, value and gradient",
      async (_, make, shape, seed) => {
        const x = (
          seed === null
            ? zeros([...shape], { dtype: "float64" })
            : randint(0, 3, [...shape], { generator: new Generator(seed) }).to("float64")
        ).requiresGrad_();
        const xGpu = toGpu(x);
        const [expected, expectedIndices] = make().forward(x);
        const [actual, actualIndices] = make().forward(xGpu);
        expect(Array.from(await actualIndices.data()), "indices").toEqual(
          Array.from(await expectedIndices.data()),
        );
        expect(await actual.data(), "values").toBeAllclose(await expected.data(), { rtol: 0, atol: 0 });
        const dy = seeded(expected.shape, 7).detach();
        expected.backward(dy);
        actual.backward(toGpu(dy));
        if (xGpu.grad === null || x.grad === null) throw new Error("the input has no gradient");
        expect(await xGpu.grad.data(), "dx").toBeAllclose(await x.grad.data(), LAYER_TOLERANCE);
      },
    );

    it("Embedding with a padding index: rows and the scatter-added weight gradient", async () => {
      const cpu = new Embedding(6, 4, { paddingIdx: 1, generator: new Generator(5) }).to("float64");
      const gpu = new Embedding(6, 4, { paddingIdx: 1, generator: new Generator(5) }).to("gpu");
      const indices = tensor(
        [
          [0, 1, 3, 3],
          [5, 1, 0, 2],
        ],
        { dtype: "int32" },
      );
      const expected = cpu.forward(indices);
      const actual = gpu.forward(toGpu(indices));
      expect(await actual.data(), "rows").toBeAllclose(await expected.data(), LAYER_TOLERANCE);
      const dy = seeded(expected.shape, 11).detach();
      expected.backward(dy);
      actual.backward(toGpu(dy));
      if (gpu.weight.grad === null || cpu.weight.grad === null) throw new Error("the weight has no gradient");
      expect(await gpu.weight.grad.data(), "dweight").toBeAllclose(
        await cpu.weight.grad.data(),
        LAYER_TOLERANCE,
      );
    });

    it.each([
      ["mean", -100],
      ["sum", -100],
      ["mean", 1],
      ["sum", 2],
    ] as const)(
      "the fused cross entropy, %s with ignoreIndex %d, on large logits: loss and gradient",
      async (reduction, ignoreIndex) => {
        // Logits around ±1e3 overflow exp without the row maximum's shift.
        const logits = seeded([7, 5], 4).detach().mul(1000).requiresGrad_();
        const logitsGpu = toGpu(logits);
        const target = tensor([1, 4, 2, 1, 0, 2, 3], { dtype: "int32" });
        const expected = F.crossEntropy(logits, target, { reduction, ignoreIndex });
        const actual = F.crossEntropy(logitsGpu, toGpu(target), { reduction, ignoreIndex });
        expect(await actual.data(), "loss").toBeAllclose(await expected.data(), LAYER_TOLERANCE);
        expected.backward();
        actual.backward();
        if (logitsGpu.grad === null || logits.grad === null) throw new Error("the logits have no gradient");
        expect(await logitsGpu.grad.data(), "dlogits").toBeAllclose(
          await logits.grad.data(),
          LAYER_TOLERANCE,
        );
      },
    );

    it("the functional cross entropy's gradient", async () => {
      const logits = seeded([6, 3], 3);
      const logitsGpu = toGpu(logits);
      const target = tensor([2, 0, 1, 1, 0, 2], { dtype: "int32" });
      F.crossEntropy(logits, target).backward();
      F.crossEntropy(logitsGpu, toGpu(target)).backward();
      if (logitsGpu.grad === null || logits.grad === null) throw new Error("the logits have no gradient");
      expect(await logitsGpu.grad.data(), "dlogits").toBeAllclose(await logits.grad.data(), LAYER_TOLERANCE);
    });
  });
});
