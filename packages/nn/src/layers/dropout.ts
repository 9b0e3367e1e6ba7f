// The Dropout layer: seeded inverted dropout in training, the identity in eval.
import type { Generator, Tensor } from "@normgrad/core";
import { assertDropoutProbability, dropout } from "../functional/activation.ts";
import { Module } from "../module.ts";
import { formatPythonFloat } from "../repr.ts";

/**
 * In training, zeroes each element with probability `p` (default 0.5) and scales the rest by
 * `1/(1−p)`; in eval mode it passes x through. Draws from `generator` (default: the global one,
 * so `manualSeed` makes runs repeatable).
 */
export class Dropout extends Module {
  readonly p: number;
  #generator: Generator | undefined;

  constructor(p = 0.5, { generator }: { generator?: Generator } = {}) {
    super();
    assertDropoutProbability(p);
    this.p = p;
    this.#generator = generator;
  }

  forward(x: Tensor): Tensor {
    return dropout(x, { p: this.p, training: this.training, generator: this.#generator });
  }

  override extraRepr(): string {
    return `p=${formatPythonFloat(this.p)}, inplace=False`;
  }
}
