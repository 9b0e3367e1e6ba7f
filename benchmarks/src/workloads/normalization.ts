// W2 (BatchNorm2d/1d) and W3 (LayerNorm, GroupNorm): one forward + backward per call, effective GB/s.
import { type Device, Generator, ones, randn, type Shape, type Tensor, zeros } from "@normgrad/core";
import { F } from "@normgrad/nn";
import type { MicroResult, WorkloadId } from "../result-format.ts";
import { timeCalls } from "../timing.ts";
import { microResult, type Workload, type WorkloadContext } from "./workload.ts";

/** One normalization case: its input shape, its affine parameters' shape, and the op in training mode. */
interface NormCase {
  name: string;
  shape: Shape;
  parameterShape: Shape;
  /** The op in training mode (a BatchNorm case closes over its running statistics). */
  forward: (x: Tensor, weight: Tensor, bias: Tensor) => Tensor;
}

function batchNormCase(name: string, shape: Shape, device: Device): NormCase {
  const channels = shape[1];
  // Running statistics as nn.BatchNorm2d/1d keeps them: each training call also updates them.
  const runningMean = zeros([channels], { device });
  const runningVar = ones([channels], { device });
  return {
    name,
    shape,
    parameterShape: [channels],
    forward: (x, weight, bias) => F.batchNorm(x, runningMean, runningVar, { weight, bias, training: true }),
  };
}

/**
 * Times `y = norm(x); y.backward(dy)` with gradients for x, weight and bias (what the peers'
 * `tf.grads` and torch's `module(x).backward(dy)` compute). Effective bandwidth counts reading x
 * and dy and writing y and dx once each: 4·numel·4 bytes.
 */
async function timeNormCase(
  context: WorkloadContext,
  workload: WorkloadId,
  normCase: NormCase,
): Promise<MicroResult> {
  const { backend } = context;
  const generator = new Generator(7);
  const x = randn(normCase.shape, { generator, device: backend.device, requiresGrad: true });
  const dy = randn(normCase.shape, { generator, device: backend.device });
  const weight = ones(normCase.parameterShape, { device: backend.device, requiresGrad: true });
  const bias = zeros(normCase.parameterShape, { device: backend.device, requiresGrad: true });
  const leaves = [x, weight, bias];
  const times = await timeCalls(async () => {
    for (const leaf of leaves) leaf.grad = null;
    const y = normCase.forward(x, weight, bias);
    y.backward(dy);
    const grads = leaves.flatMap((leaf) => (leaf.grad === null ? [] : [leaf.grad]));
    await backend.settle(grads);
    y.dispose();
    for (const grad of grads) grad.dispose();
  }, context.timing);
  for (const t of [...leaves, dy]) t.dispose();
  const numel = x.size;
  const result = microResult(context, workload, normCase.name, times, { bytes: 4 * numel * 4 });
  context.log(
    `${workload} ${normCase.name}: ${result.ms.median.toFixed(2)} ms, ${result.gbps?.median.toFixed(2)} GB/s`,
  );
  return result;
}

/** W2: BatchNorm2d on (64,32,28,28) and BatchNorm1d on (256,1024), affine, batch statistics. */
export function batchNormWorkload(): Workload {
  return {
    id: "W2",
    title: "BatchNorm fwd+bwd",
    async run(context) {
      const { device } = context.backend;
      return [
        await timeNormCase(
          context,
          "W2",
          batchNormCase("BatchNorm2d (64,32,28,28)", [64, 32, 28, 28], device),
        ),
        await timeNormCase(context, "W2", batchNormCase("BatchNorm1d (256,1024)", [256, 1024], device)),
      ];
    },
  };
}

/** W3: LayerNorm over the last dim of (256,1024); GroupNorm with 8 groups on (32,32,28,28). */
export function layerGroupNormWorkload(): Workload {
  return {
    id: "W3",
    title: "LayerNorm / GroupNorm fwd+bwd",
    async run(context) {
      return [
        await timeNormCase(context, "W3", {
          name: "LayerNorm (256,1024) last dim",
          shape: [256, 1024],
          parameterShape: [1024],
          forward: (x, weight, bias) => F.layerNorm(x, 1024, { weight, bias }),
        }),
        await timeNormCase(context, "W3", {
          name: "GroupNorm (32,32,28,28) G=8",
          shape: [32, 32, 28, 28],
          parameterShape: [32],
          forward: (x, weight, bias) => F.groupNorm(x, 8, { weight, bias }),
        }),
      ];
    },
  };
}
