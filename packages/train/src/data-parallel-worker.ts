// One rank of fitDataParallel, in a worker thread: builds its replica, trains on its slice of every batch, all-reduces the gradients.
import { parentPort, workerData } from "node:worker_threads";
import { fromValues, noGrad, type Tensor, tidy } from "@normgrad/core";
import { DataLoader } from "@normgrad/data";
import { initProcessGroup, Module } from "@normgrad/nn";
import type {
  CoordinatorMessage,
  RankData,
  RankMessage,
  Replica,
  TensorRecord,
} from "./data-parallel-protocol.ts";
import { countCorrect, type EpochMetrics, evaluate, lossFunctionOf, Tally } from "./fit.ts";
import { SharedMemoryProcessGroup } from "./shared-memory-group.ts";

function isRankData(value: unknown): value is RankData {
  return typeof value === "object" && value !== null && "moduleUrl" in value && "memory" in value;
}

/** The members a replica needs, checked as far as they can be at run time (the rest is the setup module's types). */
function isReplica(value: unknown): value is Replica {
  return (
    typeof value === "object" &&
    value !== null &&
    "model" in value &&
    value.model instanceof Module &&
    "train" in value &&
    value.train instanceof DataLoader &&
    "optimizer" in value &&
    "lossFn" in value
  );
}

function post(message: RankMessage): void {
  parentPort?.postMessage(message);
}

/** The setup module's `setup`, called and its result checked, with errors naming what is missing. */
async function buildReplica(data: RankData): Promise<Replica> {
  const imported: unknown = await import(data.moduleUrl);
  if (typeof imported !== "object" || imported === null || !("setup" in imported)) {
    const names = typeof imported === "object" && imported !== null ? Object.keys(imported) : [];
    throw new TypeError(
      `the setup module ${data.moduleUrl} does not export a setup function ` +
        `(its exports: ${names.length === 0 ? "none" : names.join(", ")})`,
    );
  }
  const { setup } = imported;
  if (typeof setup !== "function") {
    throw new TypeError(
      `the setup module ${data.moduleUrl} exports setup as a ${typeof setup}, not a function`,
    );
  }
  const made: unknown = await setup({ rank: data.rank, worldSize: data.worldSize, argument: data.argument });
  if (!isReplica(made)) {
    const keys =
      typeof made === "object" && made !== null ? `{ ${Object.keys(made).join(", ")} }` : String(made);
    throw new TypeError(
      `setup of ${data.moduleUrl} returned ${keys}: it must return { model, optimizer, lossFn, train, test? } ` +
        "with model a Module and train a DataLoader",
    );
  }
  return made;
}

/** Every parameter and buffer, in a fixed order (what is broadcast). */
function namedTensors(model: Module<[Tensor], Tensor>): [string, Tensor][] {
  return [...model.namedParameters(), ...model.namedBuffers()];
}

function records(entries: Iterable<[string, Tensor]>): TensorRecord[] {
  return [...entries].map(([name, t]) => ({
    name,
    shape: [...t.shape],
    dtype: t.dtype,
    values: t.dataSync(),
  }));
}

/** Rank 0's parameters and buffers copied into every rank's (DDP's broadcast at construction). */
function broadcastFromRankZero(group: SharedMemoryProcessGroup, tensors: readonly [string, Tensor][]): void {
  const flat = new Float64Array(tensors.reduce((sum, [, t]) => sum + t.size, 0));
  if (group.rank === 0) {
    let offset = 0;
    for (const [, t] of tensors) {
      flat.set(t.dataSync(), offset);
      offset += t.size;
    }
  }
  group.allReduce(flat);
  let offset = 0;
  noGrad(() => {
    for (const [, t] of tensors) {
      const values = fromValues(flat.subarray(offset, offset + t.size), t.shape, {
        dtype: t.dtype,
        device: t.device,
      });
      t.copy_(values);
      values.dispose();
      offset += t.size;
    }
  });
}

/** Rank r's slice [start, start + count) of a batch of `total`: the first `total mod worldSize` ranks get one more. */
function shardOf(total: number, rank: number, worldSize: number): { start: number; count: number } {
  const base = Math.floor(total / worldSize);
  const extra = total % worldSize;
  return { start: rank * base + Math.min(rank, extra), count: base + (rank < extra ? 1 : 0) };
}

async function run(data: RankData): Promise<void> {
  const { rank, worldSize } = data;
  const replica = await buildReplica(data);
  const group = new SharedMemoryProcessGroup(data.memory, rank, worldSize);
  initProcessGroup(group);
  const { model, optimizer, train, test } = replica;
  const computeLoss = lossFunctionOf(replica.lossFn);
  const tensors = namedTensors(model);
  // A lasting listener keeps the worker alive after it reports, until the coordinator ends it.
  const started = new Promise<void>((resolve) => {
    parentPort?.on("message", (message: CoordinatorMessage) => {
      if (message.kind === "start") resolve();
    });
  });
  post({
    kind: "ready",
    rank,
    tensors: records(tensors).map(({ values: _, ...rest }) => rest),
    parameters: [...model.parameters()].length,
    batches: train.length,
  });
  await started;
  broadcastFromRankZero(group, tensors);
  const parameters = [...model.parameters()];
  const gradientLength = parameters.reduce((sum, p) => sum + p.size, 0);
  const losses: number[] = [];
  const states: TensorRecord[][] | null = data.recordStates ? [] : null;
  for (let epoch = 1; epoch <= data.epochs; epoch++) {
    model.train();
    const lr = optimizer.paramGroups[0]?.lr ?? Number.NaN;
    const tally = new Tally();
    const start = performance.now();
    for (const batch of train) {
      const [input, target] = batch;
      const total = input.shape[0];
      if (batch.length !== 2 || total < worldSize) {
        throw new RangeError(
          `fitDataParallel needs batches of [input, target] with at least worldSize (${worldSize}) samples, ` +
            `got ${batch.length} tensor(s) of ${total} sample(s): use a larger batch size or dropLast: true`,
        );
      }
      const { start: first, count } = shardOf(total, rank, worldSize);
      let loss = Number.NaN;
      let correct = Number.NaN;
      tidy(() => {
        optimizer.zeroGrad();
        const output = model.forward(input.narrow(0, first, count));
        const part = target.narrow(0, first, count);
        // Weighted by this rank's share, the ranks' losses add up to the global batch's mean loss,
        // so every dy (SyncBatchNorm's global sums included) is a gradient of that one scalar.
        const weighted = computeLoss(output, part).mul(count / total);
        weighted.backward();
        const flat = new Float64Array(gradientLength + 2);
        let offset = 0;
        for (const p of parameters) {
          if (p.grad !== null) flat.set(p.grad.dataSync(), offset);
          offset += p.size;
        }
        flat[gradientLength] = weighted.item();
        flat[gradientLength + 1] = countCorrect(output, part)?.item() ?? Number.NaN;
        group.allReduce(flat);
        offset = 0;
        for (const p of parameters) {
          p.grad = fromValues(flat.subarray(offset, offset + p.size), p.shape, {
            dtype: p.dtype,
            device: p.device,
          });
          offset += p.size;
        }
        optimizer.step();
        [loss, correct] = flat.subarray(gradientLength);
      });
      for (const t of batch) t.dispose();
      losses.push(loss);
      tally.add(total, loss, Number.isNaN(correct) ? null : correct);
      states?.push(records(model.stateDict()));
    }
    const seconds = (performance.now() - start) / 1000;
    if (rank === 0) {
      const evaluation = test === undefined ? null : await evaluate(model, test, computeLoss);
      const metrics: EpochMetrics = {
        epoch,
        trainLoss: tally.loss,
        trainAccuracy: tally.accuracy,
        testLoss: evaluation?.loss ?? null,
        testAccuracy: evaluation?.accuracy ?? null,
        lr,
        samplesPerSec: tally.samples / seconds,
        seconds,
      };
      post({ kind: "epoch", metrics });
    }
  }
  post({ kind: "done", rank, losses, state: records(model.stateDict()), states });
}

if (parentPort !== null && isRankData(workerData)) {
  const data = workerData;
  run(data).catch((error: unknown) => {
    post({
      kind: "error",
      rank: data.rank,
      message: error instanceof Error ? (error.stack ?? error.message) : String(error),
    });
  });
}
