// The process group data-parallel layers synchronize over: the interface, the current group, and allGather built on allReduce.

/**
 * The replicas of a data-parallel run, as seen from one of them (PyTorch's
 * `torch.distributed` process group, reduced to what SyncBatchNorm and the trainer need). Every
 * call is collective: each rank makes the same calls in the same order, and each call returns
 * only when every rank has made it. `@normgrad/train`'s `fitDataParallel` implements it over
 * worker threads and a SharedArrayBuffer; another transport (sockets, MPI) only has to supply
 * these four members.
 */
export interface ProcessGroup {
  /** This replica's index, 0 ≤ rank < worldSize. */
  readonly rank: number;
  /** How many replicas take part (≥ 1). */
  readonly worldSize: number;
  /**
   * Replaces `values` with their element-wise sum over the ranks, `Σ_r values_r`. The sum is
   * taken in rank order and every rank receives the same bits, so replicas that apply it stay
   * bit-identical. Every rank passes an array of the same length.
   */
  allReduce(values: Float64Array): void;
  /** Returns once every rank has called it. */
  barrier(): void;
}

let current: ProcessGroup | null = null;

/**
 * Makes `group` the default group of this thread (PyTorch's `init_process_group`):
 * SyncBatchNorm synchronizes over it from then on. Throws if one is already set or if `rank`
 * and `worldSize` are not integers with 0 ≤ rank < worldSize.
 */
export function initProcessGroup(group: ProcessGroup): void {
  const { rank, worldSize } = group;
  if (!Number.isInteger(worldSize) || worldSize < 1) {
    throw new RangeError(`initProcessGroup: worldSize must be an integer ≥ 1, got ${worldSize}`);
  }
  if (!Number.isInteger(rank) || rank < 0 || rank >= worldSize) {
    throw new RangeError(`initProcessGroup: rank must be an integer in [0, ${worldSize}), got ${rank}`);
  }
  if (current !== null) {
    throw new Error(
      `initProcessGroup: a process group (rank ${current.rank} of ${current.worldSize}) is already ` +
        "initialized in this thread: call destroyProcessGroup() first",
    );
  }
  current = group;
}

/** Forgets the default group (PyTorch's `destroy_process_group`); SyncBatchNorm then acts as BatchNorm. */
export function destroyProcessGroup(): void {
  current = null;
}

/** The default group set by {@link initProcessGroup}, or null when none is (a single process). */
export function getProcessGroup(): ProcessGroup | null {
  return current;
}

/**
 * Every rank's `values`, concatenated in rank order (all ranks pass the same length), through one
 * `allReduce`: each rank contributes its values at its own offset and zeros elsewhere, and
 * `x + 0 = x` exactly, so the gathered values are the sent bits.
 */
export function allGather(group: ProcessGroup, values: Float64Array): Float64Array {
  const gathered = new Float64Array(values.length * group.worldSize);
  gathered.set(values, values.length * group.rank);
  group.allReduce(gathered);
  return gathered;
}
