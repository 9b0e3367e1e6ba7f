// The ProcessGroup of threads sharing memory: a SharedArrayBuffer, an Atomics barrier, and a one-barrier allReduce over two banks of slots.
import type { ProcessGroup } from "@normgrad/nn";

/** Int32 control words: arrivals at the barrier, its generation, and the abort flag. */
const ARRIVED = 0;
const GENERATION = 1;
const ABORTED = 2;
const CONTROL_WORDS = 3;

/** What every thread of a group receives: the shared memory (created by {@link createSharedMemory}) and the slot size. */
export interface SharedMemory {
  control: SharedArrayBuffer;
  /** Two banks of worldSize send slots, each slot `slotLength` float64 values. */
  data: SharedArrayBuffer;
  slotLength: number;
}

/** The shared memory of a group of `worldSize` threads, each sending at most `slotLength` values per round. */
export function createSharedMemory(worldSize: number, slotLength: number): SharedMemory {
  return {
    control: new SharedArrayBuffer(CONTROL_WORDS * Int32Array.BYTES_PER_ELEMENT),
    data: new SharedArrayBuffer(2 * worldSize * slotLength * Float64Array.BYTES_PER_ELEMENT),
    slotLength,
  };
}

/** Thrown in every rank's collective call once a rank failed (so none waits forever for it). */
export class ProcessGroupAbortedError extends Error {
  override name = "ProcessGroupAbortedError";
}

/**
 * Wakes every thread waiting in a collective call and makes them, and every later call, throw
 * {@link ProcessGroupAbortedError}: what the coordinator does when a rank fails.
 */
export function abortSharedMemory(memory: SharedMemory): void {
  const control = new Int32Array(memory.control);
  Atomics.store(control, ABORTED, 1);
  Atomics.add(control, GENERATION, 1);
  Atomics.notify(control, GENERATION);
}

/**
 * One rank of threads sharing memory. `allReduce` goes in rounds of at most `slotLength` values:
 * every rank writes its values to its own slot of the round's bank; after one barrier, every rank
 * sums all slots in rank order 0, 1, … into its own values, so each gets the same bits. Rounds
 * alternate between two banks: a rank rewrites a bank two rounds later, after the barrier of the
 * round between, which no rank passes before it has read that bank. One barrier per round, not
 * the two a shared result slot needs: on a virtual machine waking a sleeping thread costs
 * hundreds of microseconds, and a training step makes several collective calls.
 */
export class SharedMemoryProcessGroup implements ProcessGroup {
  readonly rank: number;
  readonly worldSize: number;
  readonly #control: Int32Array;
  readonly #data: Float64Array;
  readonly #slotLength: number;
  /** Rounds so far: every rank makes the same collective calls, so the counts agree. */
  #round = 0;

  constructor(memory: SharedMemory, rank: number, worldSize: number) {
    this.rank = rank;
    this.worldSize = worldSize;
    this.#control = new Int32Array(memory.control);
    this.#data = new Float64Array(memory.data);
    this.#slotLength = memory.slotLength;
  }

  /** The sense-reversing barrier: the last to arrive resets the count and starts the next generation. */
  barrier(): void {
    const control = this.#control;
    const generation = Atomics.load(control, GENERATION);
    if (Atomics.load(control, ABORTED) === 1) throw this.#aborted();
    if (Atomics.add(control, ARRIVED, 1) === this.worldSize - 1) {
      Atomics.store(control, ARRIVED, 0);
      Atomics.add(control, GENERATION, 1);
      Atomics.notify(control, GENERATION);
      return;
    }
    while (Atomics.load(control, GENERATION) === generation) Atomics.wait(control, GENERATION, generation);
    if (Atomics.load(control, ABORTED) === 1) throw this.#aborted();
  }

  allReduce(values: Float64Array): void {
    const { worldSize, rank } = this;
    const slot = this.#slotLength;
    const data = this.#data;
    for (let start = 0; start < values.length; start += slot) {
      const length = Math.min(slot, values.length - start);
      const bank = (this.#round++ % 2) * worldSize * slot;
      data.set(values.subarray(start, start + length), bank + rank * slot);
      this.barrier();
      for (let i = 0; i < length; i++) {
        let sum = data[bank + i];
        for (let r = 1; r < worldSize; r++) sum += data[bank + r * slot + i];
        values[start + i] = sum;
      }
    }
  }

  #aborted(): ProcessGroupAbortedError {
    return new ProcessGroupAbortedError(
      `rank ${this.rank} of ${this.worldSize}: the process group was aborted because another rank failed`,
    );
  }
}
