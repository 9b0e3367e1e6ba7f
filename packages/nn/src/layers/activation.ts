// Activation layers: ReLU, LeakyReLU, Sigmoid, Tanh, GELU, Softmax, LogSoftmax.

import type { Tensor } from "@normgrad/core";
import { formatValue } from "@normgrad/core";
import { gelu, leakyRelu, logSoftmax, softmax } from "../functional/activation.ts";
import { Module } from "../module.ts";
import { formatPythonFloat } from "../repr.ts";

/** `max(x, 0)` elementwise. */
export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return x.relu();
  }
}

/** `x` for x > 0, else `negativeSlope·x` (default 0.01). */
export class LeakyReLU extends Module {
  readonly negativeSlope: number;

  constructor(negativeSlope = 0.01) {
    super();
    if (!Number.isFinite(negativeSlope))
      throw new RangeError(`LeakyReLU: negativeSlope must be finite, got ${negativeSlope}`);
    this.negativeSlope = negativeSlope;
  }

  forward(x: Tensor): Tensor {
    return leakyRelu(x, this.negativeSlope);
  }

  override extraRepr(): string {
    return `negative_slope=${formatPythonFloat(this.negativeSlope)}`;
  }
}

/** `σ(x) = 1/(1 + e⁻ˣ)` elementwise. */
export class Sigmoid extends Module {
  forward(x: Tensor): Tensor {
    return x.sigmoid();
  }
}

/** `tanh(x)` elementwise. */
export class Tanh extends Module {
  forward(x: Tensor): Tensor {
    return x.tanh();
  }
}

/** GELU `x·Φ(x)`, or its tanh approximation with `approximate: "tanh"`. */
export class GELU extends Module {
  readonly approximate: "none" | "tanh";

  constructor({ approximate = "none" }: { approximate?: "none" | "tanh" } = {}) {
    super();
    if (approximate !== "none" && approximate !== "tanh") {
      throw new RangeError(`GELU: approximate must be "none" or "tanh", got ${formatValue(approximate)}`);
    }
    this.approximate = approximate;
  }

  forward(x: Tensor): Tensor {
    return gelu(x, { approximate: this.approximate });
  }

  override extraRepr(): string {
    return `approximate='${this.approximate}'`;
  }
}

/** `softmax` along `dim` (required, as PyTorch's implicit choice is deprecated). */
export class Softmax extends Module {
  readonly dim: number;

  constructor(dim: number) {
    super();
    if (!Number.isInteger(dim)) throw new RangeError(`Softmax: dim must be an integer, got ${dim}`);
    this.dim = dim;
  }

  forward(x: Tensor): Tensor {
    return softmax(x, this.dim);
  }

  override extraRepr(): string {
    return `dim=${this.dim}`;
  }
}

/** `logSoftmax` along `dim`. */
export class LogSoftmax extends Module {
  readonly dim: number;

  constructor(dim: number) {
    super();
    if (!Number.isInteger(dim)) throw new RangeError(`LogSoftmax: dim must be an integer, got ${dim}`);
    this.dim = dim;
  }

  forward(x: Tensor): Tensor {
    return logSoftmax(x, this.dim);
  }

  override extraRepr(): string {
    return `dim=${this.dim}`;
  }
}
