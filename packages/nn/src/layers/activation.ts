// Activation layers: ReLU, LeakyReLU, PReLU, ELU, Sigmoid, SiLU, Tanh, GELU, Softplus, Mish, Hardswish, Softmax, LogSoftmax.

import type { Tensor } from "@normgrad/core";
import { formatValue, full } from "@normgrad/core";
import {
  elu,
  gelu,
  hardswish,
  leakyRelu,
  logSoftmax,
  mish,
  prelu,
  type SoftplusOptions,
  silu,
  softmax,
  softplus,
} from "../functional/activation.ts";
import { assertPositiveInt, type FactoryOptions } from "../functional/validate.ts";
import { Module, Parameter } from "../module.ts";
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

/**
 * PReLU: `x` for x > 0, else `weight·x`, with a learned slope: one for all channels
 * (`numParameters` 1, the default) or one per channel (dim 1). `weight` [numParameters] starts at
 * `init` (default 0.25).
 */
export class PReLU extends Module {
  readonly numParameters: number;
  weight: Parameter;

  constructor(
    numParameters = 1,
    {
      init = 0.25,
      dtype = "float32",
      device = "cpu",
    }: Omit<FactoryOptions, "generator"> & { init?: number } = {},
  ) {
    super();
    assertPositiveInt(numParameters, "PReLU numParameters");
    if (!Number.isFinite(init)) throw new RangeError(`PReLU: init must be finite, got ${init}`);
    this.numParameters = numParameters;
    this.weight = new Parameter(full([numParameters], init, { dtype, device }));
  }

  forward(x: Tensor): Tensor {
    return prelu(x, this.weight);
  }

  override extraRepr(): string {
    return `num_parameters=${this.numParameters}`;
  }
}

/** ELU: `x` for x > 0, else `alpha·(eˣ − 1)` (default alpha 1). */
export class ELU extends Module {
  readonly alpha: number;

  constructor(alpha = 1) {
    super();
    if (!Number.isFinite(alpha)) throw new RangeError(`ELU: alpha must be finite, got ${alpha}`);
    this.alpha = alpha;
  }

  forward(x: Tensor): Tensor {
    return elu(x, this.alpha);
  }

  override extraRepr(): string {
    return `alpha=${formatPythonFloat(this.alpha)}`;
  }
}

/** `σ(x) = 1/(1 + e⁻ˣ)` elementwise. */
export class Sigmoid extends Module {
  forward(x: Tensor): Tensor {
    return x.sigmoid();
  }
}

/** SiLU (swish): `x·σ(x)` elementwise. */
export class SiLU extends Module {
  forward(x: Tensor): Tensor {
    return silu(x);
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

/** Python prints an int hyperparameter without `.0` (PyTorch declares Softplus's as ints). */
function formatPythonNumber(value: number): string {
  return Number.isInteger(value) ? String(value) : formatPythonFloat(value);
}

/**
 * Softplus: `log(1 + e^(β·x))/β`, and `x` itself where `β·x > threshold` (defaults β 1,
 * threshold 20), a smooth ReLU.
 */
export class Softplus extends Module {
  readonly beta: number;
  readonly threshold: number;

  constructor({ beta = 1, threshold = 20 }: SoftplusOptions = {}) {
    super();
    if (!Number.isFinite(beta) || beta === 0)
      throw new RangeError(`Softplus: beta must be finite and nonzero, got ${beta}`);
    if (Number.isNaN(threshold))
      throw new RangeError(`Softplus: threshold must be a number, got ${threshold}`);
    this.beta = beta;
    this.threshold = threshold;
  }

  forward(x: Tensor): Tensor {
    return softplus(x, { beta: this.beta, threshold: this.threshold });
  }

  override extraRepr(): string {
    return `beta=${formatPythonNumber(this.beta)}, threshold=${formatPythonNumber(this.threshold)}`;
  }
}

/** Mish: `x·tanh(softplus(x))` elementwise. */
export class Mish extends Module {
  forward(x: Tensor): Tensor {
    return mish(x);
  }
}

/** Hardswish: `x·min(max(x + 3, 0), 6)/6` elementwise. */
export class Hardswish extends Module {
  forward(x: Tensor): Tensor {
    return hardswish(x);
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
