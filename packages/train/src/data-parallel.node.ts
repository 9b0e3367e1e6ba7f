// Node: fitDataParallel, the coordinator that starts one worker thread per rank, checks their models agree and collects the results.
import { isAbsolute, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { fromValues, type Tensor } from "@normgrad/core";
import type {
  CoordinatorMessage,
  DataParallelOptions,
  DataParallelResult,
  RankData,
  RankMessage,
  TensorRecord,
} from "./data-parallel-protocol.ts";
import type { EpochMetrics } from "./fit.ts";
import { abortSharedMemory, createSharedMemory } from "./shared-memory-group.ts";

/** Inside the workspace this file runs as TypeScript source, and its worker must too. */
const FROM_SOURCES = import.meta.url.endsWith(".ts");
const WORKER_URL = new URL(`./data-parallel-worker.${FROM_SOURCES ? "ts" : "js"}`, import.meta.url);

/**
 * A worker running the rank entry. Node 20's workers do not inherit the loader hooks that run
 * TypeScript (tsx), so from sources the entry is imported through tsx's `tsImport`, with the
 * workspace's source condition; the built package starts its `.js` entry directly.
 */
function startWorker(data: RankData): Worker {
  if (!FROM_SOURCES) return new Worker(WORKER_URL, { workerData: data });
  const bootstrap = `import("tsx/esm/api").then((api) => api.tsImport(${JSON.stringify(WORKER_URL.href)}, ${JSON.stringify(import.meta.url)}))`;
  return new Worker(bootstrap, { eval: true, workerData: data, execArgv: ["--conditions=@normgrad/source"] });
}

function moduleUrlOf(module: string | URL): string {
  if (module instanceof URL) return module.href;
  if (module.startsWith("file:")) return module;
  return pathToFileURL(isAbsolute(module) ? module : resolve(module)).href;
}

function describe(record: Omit<TensorRecord, "values">): string {
  return `${record.dtype} [${record.shape.join(", ")}]`;
}

/** Throws unless every rank reported rank 0's tensors (names, shapes, dtypes) and batch count. */
function checkReplicasAgree(ready: Extract<RankMessage, { kind: "ready" }>[]): void {
  const [first, ...others] = ready;
  for (const other of others) {
    const where = `rank ${other.rank}'s replica`;
    if (other.tensors.length !== first.tensors.length) {
      throw new Error(
        `fitDataParallel: ${where} has ${other.tensors.length} parameters and buffers, rank 0's has ` +
          `${first.tensors.length}: every rank's setup must build the same model`,
      );
    }
    other.tensors.forEach((tensor, i) => {
      const expected = first.tensors[i];
      if (tensor.name !== expected.name || describe(tensor) !== describe(expected)) {
        throw new Error(
          `fitDataParallel: ${where} has ${tensor.name} ${describe(tensor)} where rank 0's has ` +
            `${expected.name} ${describe(expected)}: every rank's setup must build the same model`,
        );
      }
    });
    if (other.batches !== first.batches) {
      throw new Error(
        `fitDataParallel: ${where} has ${other.batches} training batches per epoch, rank 0's has ${first.batches}: ` +
          "every rank must iterate the same loader",
      );
    }
  }
}

function toState(records: readonly TensorRecord[]): Map<string, Tensor> {
  return new Map(
    records.map(({ name, shape, dtype, values }) => [name, fromValues(values, shape, { dtype })]),
  );
}

/**
 * Throws unless the parameters among `records` hold the same bits as rank 0's (NaN included).
 * Buffers may differ: plain BatchNorm's running statistics follow each rank's own slices.
 */
function checkIdentical(
  rank: number,
  step: string,
  parameters: ReadonlySet<string>,
  expected: readonly TensorRecord[],
  records: readonly TensorRecord[],
): void {
  records.forEach(({ name, values }, i) => {
    if (!parameters.has(name)) return;
    const reference = expected[i].values;
    const at = values.findIndex((value, j) => !Object.is(value, reference[j]));
    if (at >= 0) {
      throw new Error(
        `fitDataParallel: replicas diverged ${step}: ${name}[${at}] is ${values[at]} on rank ${rank}, ` +
          `${reference[at]} on rank 0`,
      );
    }
  });
}

/**
 * Data-parallel training on one machine (PyTorch's DistributedDataParallel over worker threads):
 * `worldSize` workers each import `module` and call its `setup({ rank, worldSize, argument })`
 * for a replica; the coordinator checks that the replicas' parameters and buffers agree in name,
 * shape and dtype, rank 0's values are broadcast, and then every global batch is split into
 * contiguous slices (sizes differ by at most one; each needs ≥ 1 sample). Rank r, holding n_r of
 * the batch's n samples, back-propagates its mean loss weighted by n_r/n; the gradients are
 * summed by an all-reduce over a SharedArrayBuffer (in rank order, computed once, read by every
 * rank), which gives exactly the gradient of the global batch's mean loss, uneven last batches
 * included. Every rank takes the same optimizer step, so the replicas stay bit-identical (checked
 * at the end). SyncBatchNorm layers synchronize over the same group. Rank 0 evaluates `test`
 * after each epoch. A failing rank aborts the others and rejects with its error.
 *
 * ```ts
 * // replica.ts: export function setup({ rank }: ReplicaContext<undefined>): Replica { … }
 * const { epochs, state } = await fitDataParallel({ module: "./replica.ts", worldSize: 2, epochs: 3 });
 * ```
 */
export async function fitDataParallel<Argument = undefined>(
  options: DataParallelOptions<Argument>,
): Promise<DataParallelResult> {
  const { worldSize, epochs, recordStates = false, slotLength = 1 << 19, onEpochEnd } = options;
  if (!Number.isInteger(worldSize) || worldSize < 1) {
    throw new RangeError(`fitDataParallel: worldSize must be an integer ≥ 1, got ${worldSize}`);
  }
  if (!Number.isInteger(epochs) || epochs < 1) {
    throw new RangeError(`fitDataParallel: epochs must be a positive integer, got ${epochs}`);
  }
  if (!Number.isInteger(slotLength) || slotLength < 1) {
    throw new RangeError(`fitDataParallel: slotLength must be an integer ≥ 1, got ${slotLength}`);
  }
  const memory = createSharedMemory(worldSize, slotLength);
  const moduleUrl = moduleUrlOf(options.module);
  const workers = Array.from({ length: worldSize }, (_, rank) =>
    startWorker({ moduleUrl, rank, worldSize, epochs, argument: options.argument, recordStates, memory }),
  );
  const ready: Extract<RankMessage, { kind: "ready" }>[] = [];
  const done: Extract<RankMessage, { kind: "done" }>[] = [];
  const history: EpochMetrics[] = [];
  try {
    await new Promise<void>((resolvePromise, reject) => {
      const fail = (error: Error) => {
        abortSharedMemory(memory);
        reject(error);
      };
      workers.forEach((worker, rank) => {
        worker.on("message", (message: RankMessage) => {
          switch (message.kind) {
            case "ready":
              ready.push(message);
              if (ready.length < worldSize) return;
              try {
                checkReplicasAgree(ready.sort((a, b) => a.rank - b.rank));
              } catch (error) {
                if (error instanceof Error) fail(error);
                return;
              }
              for (const w of workers) w.postMessage({ kind: "start" } satisfies CoordinatorMessage);
              return;
            case "epoch":
              history.push(message.metrics);
              onEpochEnd?.(message.metrics);
              return;
            case "done":
              done.push(message);
              if (done.length === worldSize) resolvePromise();
              return;
            case "error":
              fail(new Error(`fitDataParallel: rank ${message.rank} failed: ${message.message}`));
              return;
            default:
              message satisfies never;
          }
        });
        worker.on("error", (error) =>
          fail(new Error(`fitDataParallel: rank ${rank}'s worker crashed: ${error.message}`)),
        );
        worker.on("exit", (code) => {
          if (done.length < worldSize)
            fail(new Error(`fitDataParallel: rank ${rank}'s worker exited early (code ${code})`));
        });
      });
    });
  } finally {
    await Promise.all(workers.map((worker) => worker.terminate()));
  }
  done.sort((a, b) => a.rank - b.rank);
  const [first, ...others] = done;
  const parameters = new Set(ready[0].tensors.slice(0, ready[0].parameters).map(({ name }) => name));
  for (const other of others) {
    checkIdentical(other.rank, "at the end", parameters, first.state, other.state);
    other.states?.forEach((state, step) => {
      const expected = first.states?.[step];
      if (expected !== undefined)
        checkIdentical(other.rank, `after step ${step + 1}`, parameters, expected, state);
    });
  }
  return {
    epochs: history,
    losses: first.losses,
    state: toState(first.state),
    states: first.states === null ? null : first.states.map(toState),
  };
}
