// Data-parallel training's public types (the setup module's contract, options, result) and the messages between coordinator and ranks.
import type { DType, Tensor, TypedArray } from "@normgrad/core";
import type { DataLoader } from "@normgrad/data";
import type { Module } from "@normgrad/nn";
import type { EpochMetrics, FitOptions, TrainableOptimizer } from "./fit.ts";
import type { SharedMemory } from "./shared-memory-group.ts";

/** What a replica's `setup` is called with. */
export interface ReplicaContext<Argument> {
  /** This replica's index, 0 ≤ rank < worldSize. */
  rank: number;
  worldSize: number;
  /** `fitDataParallel`'s `argument`, structured-cloned into the worker. */
  argument: Argument;
}

/**
 * One replica, as the setup module builds it inside its worker (models cannot be sent between
 * threads). Every rank must build the same architecture and the same loader: the same dataset,
 * batch size and shuffle seed, so that every rank iterates the same global batches.
 */
export interface Replica {
  model: Module<[Tensor], Tensor>;
  optimizer: TrainableOptimizer;
  /** Must return the batch mean, as `fit`'s does. */
  lossFn: FitOptions["lossFn"];
  /** The global batches; each rank trains on its slice of each. */
  train: DataLoader;
  /** Evaluated by rank 0 after every epoch when given. */
  test?: DataLoader;
}

/**
 * What a setup module exports as `setup`: builds this rank's replica (the same seed on every
 * rank; rank 0's parameters and buffers are broadcast to the others before training anyway).
 */
export type ReplicaSetup<Argument> = (context: ReplicaContext<Argument>) => Replica | Promise<Replica>;

/** Options of `fitDataParallel`. */
export interface DataParallelOptions<Argument> {
  /** The setup module: a path or file URL of a module exporting `setup` ({@link ReplicaSetup}). */
  module: string | URL;
  /** Replicas, one worker thread each (an integer ≥ 1). */
  worldSize: number;
  /** Passes over the training loader (an integer ≥ 1). */
  epochs: number;
  /** Sent to every rank's `setup` (default undefined); must be structured-cloneable. */
  argument?: Argument;
  /** Return every step's state (rank 0's, checked bit-identical on every rank) in `states` (default false: tests). */
  recordStates?: boolean;
  /** Float64 values per all-reduce round (default 2¹⁹, 4 MiB per rank); longer reductions go in several rounds. */
  slotLength?: number;
  /** Called in this thread with each epoch's metrics as rank 0 reports them. */
  onEpochEnd?: (metrics: EpochMetrics) => void;
}

/** What `fitDataParallel` resolves to. */
export interface DataParallelResult {
  /** Per epoch: the global batches' sample-weighted loss and accuracy, rank 0's evaluation and throughput. */
  epochs: EpochMetrics[];
  /** Each step's loss over its whole global batch, in order. */
  losses: number[];
  /**
   * Rank 0's trained state dict. The parameters are identical on every rank (checked bit for
   * bit); buffers that no layer synchronizes (plain BatchNorm's running statistics) are rank 0's.
   */
  state: Map<string, Tensor>;
  /** With `recordStates`: the state dict after every step; else null. */
  states: Map<string, Tensor>[] | null;
}

/** A tensor as plain data, to cross between threads. */
export interface TensorRecord {
  name: string;
  shape: number[];
  dtype: DType;
  values: TypedArray;
}

/** What every rank's worker starts with. */
export interface RankData {
  moduleUrl: string;
  rank: number;
  worldSize: number;
  epochs: number;
  argument: unknown;
  recordStates: boolean;
  memory: SharedMemory;
}

/** Coordinator → rank: the ranks' models agree, start training. */
export type CoordinatorMessage = { kind: "start" };

/** Rank → coordinator. */
export type RankMessage =
  | {
      kind: "ready";
      rank: number;
      /** The parameters, then the buffers. */
      tensors: Omit<TensorRecord, "values">[];
      /** How many of `tensors` are parameters. */
      parameters: number;
      batches: number;
    }
  | { kind: "epoch"; metrics: EpochMetrics }
  | { kind: "done"; rank: number; losses: number[]; state: TensorRecord[]; states: TensorRecord[][] | null }
  | { kind: "error"; rank: number; message: string };
