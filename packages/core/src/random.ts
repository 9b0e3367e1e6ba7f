// Seeded random numbers: Generator on seedrandom's Alea, the global generator, and the random creation ops.
import seedrandom from "seedrandom";
import type { Device } from "./backend.ts";
import { fromValues } from "./creation.ts";
import { type DType, isFloating } from "./dtype.ts";
import { assertValidShape, type Shape, shapeSize } from "./shape.ts";
import type { Tensor } from "./tensor.ts";

/**
 * A seeded stream of random numbers: seedrandom's Alea algorithm (a fast, well-tested
 * 2^116-period generator), seeded with the decimal string of `seed`. The same seed gives the
 * same numbers on every machine and backend: random tensors are drawn on the host, then uploaded.
 */
export class Generator {
  #prng: seedrandom.PRNG;
  #seed: number;
  #spareNormal: number | null = null;

  constructor(seed = 0) {
    this.#seed = seed;
    this.#prng = seedrandom.alea(String(seed));
  }

  /** Restarts the stream from `seed` (PyTorch's `manual_seed`). */
  manualSeed(seed: number): this {
    this.#seed = seed;
    this.#prng = seedrandom.alea(String(seed));
    this.#spareNormal = null;
    return this;
  }

  /** The seed the stream was last started from. */
  initialSeed(): number {
    return this.#seed;
  }

  /** Uniform on [0, 1), 53 bits of randomness. */
  random(): number {
    return this.#prng.double();
  }

  /** Standard normal, by the Box–Muller transform (pairs; the second value is kept for the next call). */
  normal(): number {
    if (this.#spareNormal !== null) {
      const value = this.#spareNormal;
      this.#spareNormal = null;
      return value;
    }
    // 1 − u keeps the logarithm's argument in (0, 1].
    const radius = Math.sqrt(-2 * Math.log(1 - this.random()));
    const angle = 2 * Math.PI * this.random();
    this.#spareNormal = radius * Math.sin(angle);
    return radius * Math.cos(angle);
  }

  /** A uniform integer in [low, high). */
  integer(low: number, high: number): number {
    return low + Math.floor(this.random() * (high - low));
  }
}

let globalGenerator = new Generator(0);

/** Seeds the global generator (the one every random op uses unless given another). */
export function manualSeed(seed: number): Generator {
  globalGenerator = new Generator(seed);
  return globalGenerator;
}

/** The global generator. */
export function defaultGenerator(): Generator {
  return globalGenerator;
}

/** Options of the random creation functions. */
export interface RandomOptions {
  dtype?: DType;
  device?: Device;
  requiresGrad?: boolean;
  /** Defaults to the global generator. */
  generator?: Generator;
}

function randomTensor(shape: Shape, options: RandomOptions, draw: (generator: Generator) => number): Tensor {
  assertValidShape(shape);
  const generator = options.generator ?? globalGenerator;
  const values = Array.from({ length: shapeSize(shape) }, () => draw(generator));
  return fromValues(values, shape, options);
}

/** rand and randn draw fractions, which an int32 would truncate and a bool turn all true: PyTorch refuses both. */
function assertFloatingDraw(op: string, { dtype }: RandomOptions): void {
  if (dtype !== undefined && !isFloating(dtype)) {
    throw new TypeError(`${op} needs a floating dtype (float32 or float64), got ${dtype}`);
  }
}

/** Uniform on [0, 1). */
export function rand(shape: Shape, options: RandomOptions = {}): Tensor {
  assertFloatingDraw("rand", options);
  return randomTensor(shape, options, (g) => g.random());
}

/** Standard normal N(0, 1). */
export function randn(shape: Shape, options: RandomOptions = {}): Tensor {
  assertFloatingDraw("randn", options);
  return randomTensor(shape, options, (g) => g.normal());
}

/** Uniform integers in [low, high), int32 by default. */
export function randint(low: number, high: number, shape: Shape, options: RandomOptions = {}): Tensor {
  if (!Number.isInteger(low) || !Number.isInteger(high) || high <= low) {
    throw new RangeError(`randint needs integers low < high, got low ${low}, high ${high}`);
  }
  return randomTensor(shape, { dtype: "int32", ...options }, (g) => g.integer(low, high));
}

/** A random permutation of 0..n−1 (int32), by Fisher–Yates. */
export function randperm(n: number, options: RandomOptions = {}): Tensor {
  if (!Number.isInteger(n) || n < 0)
    throw new RangeError(`randperm: n must be a non-negative integer, got ${n}`);
  const generator = options.generator ?? globalGenerator;
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = generator.integer(0, i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  return fromValues(order, [n], { dtype: "int32", ...options });
}

/** `rand` with the shape (and by default the dtype and device) of `like`. */
export function randLike(like: Tensor, options: RandomOptions = {}): Tensor {
  return rand(like.shape, { dtype: like.dtype, device: like.device, ...options });
}

/** `randn` with the shape (and by default the dtype and device) of `like`. */
export function randnLike(like: Tensor, options: RandomOptions = {}): Tensor {
  return randn(like.shape, { dtype: like.dtype, device: like.device, ...options });
}
