// After training: fold BatchNorm with fuseModel, check the predictions, and time inference before and after.
import { Generator, noGrad, type Tensor, tidy } from "@normgrad/core";
import { DataLoader, type TensorDataset } from "@normgrad/data";
import {
  BatchNorm,
  Conv2d,
  fuseConvBn,
  fuseLinearBn,
  fuseModel,
  Linear,
  ReLU,
  Sequential,
} from "@normgrad/nn";
import { buildNetwork } from "./build-network.ts";
import type { StudyConfig } from "./study-config.ts";
import { loadStudySplit } from "./study-data.ts";
import type { FoldingRecord, FoldingResult } from "./study-result.ts";
import { EVAL_BATCH, loadWeights, type SavedWeights, type TrainJob } from "./train-job.ts";

/** A trained network to fold: the job that trained it and its weights. */
export interface TrainedNetwork {
  job: TrainJob;
  weights: SavedWeights;
}

/** Why `relu-bn` cannot fold into the layer before its BatchNorm, printed in study.md. */
export const RELU_BN_EXPLANATION =
  "In relu-bn each BatchNorm follows a ReLU, not the Linear/Conv2d. Folding it into the preceding layer " +
  "would need W', b' with W'x + b' = BN(ReLU(Wx + b)) for every x, but the right side is not affine in x " +
  "(ReLU is not linear), so no such W', b' exist. Moving the BN in front of the ReLU does not help either: " +
  "with BN as y = a·z + c per channel (a = γ/√(σ²+ε), c = β − μ·a), ReLU(a·z + c) equals a·ReLU(z) + c " +
  "only where c = 0 and a > 0. What remains is folding the BN forward into the next layer, which is " +
  "linear in the BN's output: exact for the MLP, whose next layer is a Linear, but not for the CNN, where " +
  "a max-pool (it commutes with the BN only where a > 0) and the next conv's zero padding (the padded " +
  "zeros would have to become c) sit in between.";

/** The logits of `network` (eval mode) on every sample of `data`, row by row. */
export function predictLogits(network: Sequential, data: TensorDataset): Float32Array {
  network.eval();
  const logits = new Float32Array(data.length * 10);
  let row = 0;
  for (const [x, y] of new DataLoader(data, { batchSize: EVAL_BATCH })) {
    noGrad(() => tidy(() => logits.set(network.forward(x).dataSync(), row * 10)));
    row += y.shape[0];
    x.dispose();
    y.dispose();
  }
  return logits;
}

function argmaxRow(logits: Float32Array, row: number): number {
  let best = 0;
  for (let c = 1; c < 10; c++) if (logits[row * 10 + c] > logits[row * 10 + best]) best = c;
  return best;
}

function accuracyOf(logits: Float32Array, labels: ArrayLike<number>): number {
  let correct = 0;
  for (let i = 0; i < labels.length; i++) if (argmaxRow(logits, i) === labels[i]) correct++;
  return correct / labels.length;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Batches timed per repeat. */
const TIMED_BATCHES = 4;

/**
 * Median over `repeats` of the mean milliseconds per eval-mode forward pass over `batches`, for
 * each network. The networks alternate within each repeat, in reverse order every other repeat
 * (after one warm-up round), so neither a slowdown of the machine nor going first favours one.
 */
export function timeInference(
  networks: readonly Sequential[],
  batches: readonly Tensor[],
  repeats: number,
): number[] {
  const run = (network: Sequential) => {
    const start = performance.now();
    for (const batch of batches) {
      noGrad(() =>
        tidy(() => {
          // Reading the output makes a lazy backend finish the pass inside the timed region.
          network.forward(batch).dataSync();
        }),
      );
    }
    return (performance.now() - start) / batches.length;
  };
  for (const network of networks) {
    network.eval();
    run(network);
  }
  const samples = networks.map((): number[] => []);
  for (let r = 0; r < repeats; r++) {
    const order = networks.map((_, i) => i);
    if (r % 2 === 1) order.reverse();
    for (const i of order) samples[i].push(run(networks[i]));
  }
  return samples.map(median);
}

/**
 * The `relu-bn` network with each BN folded into the layer before its ReLU anyway (Linear/Conv →
 * ReLU → BN becomes Linear'/Conv' → ReLU): the function that folding into the preceding layer
 * would compute, to show by how much it differs.
 */
export function foldAcrossRelu(network: Sequential): Sequential {
  const items = [...network];
  const modules: ConstructorParameters<typeof Sequential> = [];
  for (let i = 0; i < items.length; i++) {
    const [layer, relu, bn] = [items[i], items[i + 1], items[i + 2]];
    if (relu instanceof ReLU && bn instanceof BatchNorm) {
      if (layer instanceof Linear) {
        modules.push(fuseLinearBn(layer, bn), relu);
        i += 2;
        continue;
      }
      if (layer instanceof Conv2d) {
        modules.push(fuseConvBn(layer, bn), relu);
        i += 2;
        continue;
      }
    }
    modules.push(layer);
  }
  return new Sequential(...modules).eval();
}

function countBatchNorms(network: Sequential): number {
  return [...network.modules()].filter((module) => module instanceof BatchNorm).length;
}

/**
 * Rebuilds each trained `bn-relu` / `relu-bn` network, folds it with `fuseModel`, and measures the
 * test accuracy, the changed predictions, the largest logit difference and the inference time per
 * batch before and after. For `relu-bn` it also measures the accuracy of folding across the ReLU.
 * Runs in this process after training, so the timings do not compete with training workers.
 */
export function measureFolding(trained: readonly TrainedNetwork[], config: StudyConfig): FoldingResult {
  const test = loadStudySplit(config.dataset, "test", config.testSize);
  const labels = test.tensors[1].dataSync();
  const timingRows = Math.min(test.length, TIMED_BATCHES * config.folding.batchSize);
  const images = test.tensors[0];
  const batches = Array.from(
    { length: Math.max(1, Math.floor(timingRows / config.folding.batchSize)) },
    (_, i) => images.narrow(0, i * config.folding.batchSize, Math.min(config.folding.batchSize, test.length)),
  );
  const records: FoldingRecord[] = [];
  for (const { job, weights } of trained) {
    if (job.variant === "none") continue;
    const network = buildNetwork({ model: job.model, variant: job.variant, generator: new Generator(0) });
    loadWeights(network, weights);
    network.eval();
    const fused = fuseModel(network);
    const folded = fused.model.eval();
    const before = predictLogits(network, test);
    const after = predictLogits(folded, test);
    let maxDifference = 0;
    let changed = 0;
    for (let i = 0; i < before.length; i++)
      maxDifference = Math.max(maxDifference, Math.abs(before[i] - after[i]));
    for (let row = 0; row < test.length; row++)
      if (argmaxRow(before, row) !== argmaxRow(after, row)) changed++;
    const [msBefore, msAfter] = timeInference([network, folded], batches, config.folding.repeats);
    records.push({
      model: job.model,
      variant: job.variant,
      seed: job.seed,
      layersBefore: [...network].map((module) => module.typeName),
      layersAfter: [...folded].map((module) => module.typeName),
      decisions: fused.notes.map((note) => ({
        modules: note.modules,
        action: note.action,
        reason: note.reason,
      })),
      batchNormLayersLeft: countBatchNorms(folded),
      testAccuracyBefore: accuracyOf(before, labels),
      testAccuracyAfter: accuracyOf(after, labels),
      predictionsChanged: changed,
      maxAbsLogitDifference: maxDifference,
      inferenceBatchSize: batches[0].shape[0],
      msPerBatchBefore: msBefore,
      msPerBatchAfter: msAfter,
      speedup: msBefore / msAfter,
      accuracyIfFoldedAcrossRelu:
        job.variant === "relu-bn" ? accuracyOf(predictLogits(foldAcrossRelu(network), test), labels) : null,
    });
  }
  return { records, reluBnExplanation: RELU_BN_EXPLANATION };
}
