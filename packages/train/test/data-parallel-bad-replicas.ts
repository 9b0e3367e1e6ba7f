// Replicas that disagree across ranks, for fitDataParallel's error tests: rank 1 builds another model.

import type { Tensor } from "@normgrad/core";
import { randint, randn } from "@normgrad/core";
import { DataLoader, TensorDataset } from "@normgrad/data";
import { F, Linear, type Module } from "@normgrad/nn";
import { SGD } from "@normgrad/optim";
import type { Replica, ReplicaContext } from "../src/index.ts";

/** "parameter-count": rank 1 has a bias-free layer more; "shape": rank 1's layer takes 5 features. */
export function setup({ rank, argument }: ReplicaContext<"parameter-count" | "shape">): Replica {
  const model: Module<[Tensor], Tensor> =
    rank === 0
      ? new Linear(4, 3, { bias: false, dtype: "float64" })
      : argument === "shape"
        ? new Linear(5, 3, { bias: false, dtype: "float64" })
        : new Linear(4, 3, { dtype: "float64" });
  return {
    model,
    optimizer: new SGD(model.parameters(), { lr: 0.1 }),
    lossFn: F.crossEntropy,
    train: new DataLoader(new TensorDataset(randn([8, 4], { dtype: "float64" }), randint(0, 3, [8])), {
      batchSize: 4,
    }),
  };
}
