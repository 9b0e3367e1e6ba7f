// The replica the data-parallel tests train: a small BatchNorm MLP or CNN on seeded random data, as fitDataParallel's setup and in-process.
import { type DType, Generator, randint, randn, tensor } from "@normgrad/core";
import { DataLoader, TensorDataset } from "@normgrad/data";
import {
  BatchNorm1d,
  BatchNorm2d,
  Conv2d,
  convertSyncBatchnorm,
  F,
  Flatten,
  Linear,
  MaxPool2d,
  ReLU,
  Sequential,
} from "@normgrad/nn";
import { SGD } from "@normgrad/optim";
import type { Replica, ReplicaContext } from "../src/index.ts";

/** What a test varies. */
export interface ReplicaArgument {
  model: "mlp" | "cnn";
  dtype: DType;
  /** Convert the BatchNorm layers to SyncBatchNorm. */
  sync: boolean;
  samples: number;
  batchSize: number;
}

/** The network, PyTorch-default init from Generator(0). */
function buildModel({ model, dtype, sync }: ReplicaArgument): Sequential {
  const generator = new Generator(0);
  const network =
    model === "mlp"
      ? new Sequential(
          new Linear(12, 16, { bias: false, generator }),
          new BatchNorm1d(16),
          new ReLU(),
          new Linear(16, 3, { generator }),
        )
      : new Sequential(
          new Conv2d(2, 4, 3, { padding: 1, bias: false, generator }),
          new BatchNorm2d(4, { momentum: null }),
          new ReLU(),
          new MaxPool2d(2),
          new Flatten(),
          new Linear(4 * 3 * 3, 3, { generator }),
        );
  const converted = sync ? convertSyncBatchnorm(network) : network;
  return converted.to(dtype);
}

/**
 * Inputs whose features have very different means and scales per sample group, so each half of
 * a batch has batch statistics of its own; three classes.
 */
function dataset({ model, dtype, samples }: ReplicaArgument): TensorDataset {
  const generator = new Generator(1);
  const shape = model === "mlp" ? [samples, 12] : [samples, 2, 6, 6];
  const scale = tensor(
    Array.from({ length: samples }, (_, i) => 1 + (i % 5)),
    { dtype: "float64" },
  );
  const inputs = randn(shape, { generator, dtype: "float64" })
    .mul(scale.reshape([samples, ...shape.slice(1).map(() => 1)]))
    .add(3)
    .to(dtype);
  return new TensorDataset(inputs, randint(0, 3, [samples], { generator }));
}

/** The replica; in-process (no process group) SyncBatchNorm acts as BatchNorm, the single-process reference. */
export function buildReplica(argument: ReplicaArgument): Replica {
  const model = buildModel(argument);
  return {
    model,
    optimizer: new SGD(model.parameters(), { lr: 0.1, momentum: 0.9 }),
    lossFn: F.crossEntropy,
    train: new DataLoader(dataset(argument), {
      batchSize: argument.batchSize,
      shuffle: true,
      generator: new Generator(2),
    }),
  };
}

/** fitDataParallel's entry: every rank builds the same replica. */
export function setup({ argument }: ReplicaContext<ReplicaArgument>): Replica {
  return buildReplica(argument);
}
