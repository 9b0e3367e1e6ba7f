// Storage: a device buffer shared by a tensor and its views, with a reference count and a version.
import type { Backend, DeviceBuffer } from "./backend.ts";

/**
 * The memory behind one or more tensors. Views share it; the buffer is released when the last
 * tensor using it is disposed. `version` counts in-place writes, so backward can tell when a
 * value it saved has changed under it (PyTorch's version counter).
 */
export class Storage {
  #references = 0;
  #freed = false;
  version = 0;
  constructor(
    readonly backend: Backend,
    readonly buffer: DeviceBuffer,
  ) {}

  /** Tensors (views included) using this storage. */
  get references(): number {
    return this.#references;
  }

  /** Counts one more tensor using this storage (a new tensor or view on it). */
  retain(): void {
    // A backstop: the tensor methods refuse disposed tensors with an error naming the op.
    if (this.#freed) throw new Error("a tensor was made on a storage whose buffer was already freed");
    this.#references++;
  }

  /** Counts one tensor fewer; the last release frees the device buffer. */
  release(): void {
    this.#references--;
    if (this.#references === 0) {
      this.#freed = true;
      this.backend.release(this.buffer);
    }
  }
}
