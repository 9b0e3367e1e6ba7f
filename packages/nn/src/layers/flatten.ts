// Shape layers: Flatten (merge a range of dims) and Identity (pass-through).
import type { Tensor } from "@normgrad/core";
import { Module } from "../module.ts";

/** Merges dims `startDim..endDim` (default 1..−1: everything but the batch dim). */
export class Flatten extends Module {
  readonly startDim: number;
  readonly endDim: number;

  constructor({ startDim = 1, endDim = -1 }: { startDim?: number; endDim?: number } = {}) {
    super();
    if (!Number.isInteger(startDim) || !Number.isInteger(endDim)) {
      throw new RangeError(`Flatten: startDim and endDim must be integers, got ${startDim} and ${endDim}`);
    }
    this.startDim = startDim;
    this.endDim = endDim;
  }

  forward(x: Tensor): Tensor {
    return x.flatten(this.startDim, this.endDim);
  }

  override extraRepr(): string {
    return `start_dim=${this.startDim}, end_dim=${this.endDim}`;
  }
}

/** Returns its input unchanged (a placeholder, e.g. where a layer was removed). */
export class Identity extends Module {
  forward(x: Tensor): Tensor {
    return x;
  }
}
