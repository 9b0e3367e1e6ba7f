// The workloads of WORKLOADS.md in their run order.
import type { WorkloadId } from "../result-format.ts";
import { matmulWorkload } from "./matmul.ts";
import { MNIST_CNN, MNIST_MLP, trainingWorkload } from "./mnist-models.ts";
import { batchNormWorkload, layerGroupNormWorkload } from "./normalization.ts";
import type { TrainingOptions } from "./training.ts";
import type { Workload } from "./workload.ts";

/** How many training runs W4 and W5 make (each run is a fresh model; seeds 1…runs). */
export interface WorkloadOptions {
  /** Default 3, as the peers. */
  mlpRuns?: number;
  /** Default 1 (as TF.js was measured: spread over thirds of the run); 3 for the full definition. */
  cnnRuns?: number;
  /** Train W4/W5 on this many evenly spaced samples only (smoke tests); default all 7996. */
  trainLimit?: number;
}

/** Every workload, as WORKLOADS.md defines it. */
export function defaultWorkloads({ mlpRuns = 3, cnnRuns = 1, trainLimit }: WorkloadOptions = {}): Workload[] {
  const training = (runs: number): TrainingOptions => ({ runs, trainLimit });
  return [
    matmulWorkload(),
    batchNormWorkload(),
    layerGroupNormWorkload(),
    trainingWorkload(MNIST_MLP, training(mlpRuns)),
    trainingWorkload(MNIST_CNN, training(cnnRuns)),
  ];
}

/** True when `id` names a workload. */
export function isWorkloadId(id: string): id is WorkloadId {
  return id === "W1" || id === "W2" || id === "W3" || id === "W4" || id === "W5";
}
