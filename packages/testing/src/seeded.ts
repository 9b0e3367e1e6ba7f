// seeded: reproducible test inputs from core's seeded Generator, drawn away from the kinks and poles of the op under test.
import {
  type DType,
  fromValues,
  Generator,
  type Shape,
  shapeSize,
  type Tensor,
} from "../../core/src/index.ts";

/** Where seeded values are drawn from: N(0, 1), [0.5, 2) (log, sqrt, pow bases), or ±[0.3, 1.3) (division, kinks at 0). */
export type Domain = "normal" | "positive" | "nonzero";

/** How `seeded` draws and wraps its values. */
export interface SeededOptions {
  /** Default "normal". */
  domain?: Domain;
  /** Default float64. */
  dtype?: DType;
  /** Default true (gradcheck inputs). */
  requiresGrad?: boolean;
  /** Each value becomes `offset + scale·value`. Defaults 1 and 0. */
  scale?: number;
  offset?: number;
}

/** `count` values drawn from `domain` by a Generator seeded with `seed`. */
export function seededValues(count: number, seed: number, domain: Domain = "normal"): number[] {
  const generator = new Generator(seed);
  const draw = (): number => {
    switch (domain) {
      case "normal":
        return generator.normal();
      case "positive":
        return 0.5 + 1.5 * generator.random();
      case "nonzero":
        return (generator.random() < 0.5 ? -1 : 1) * (0.3 + generator.random());
      default:
        return domain satisfies never;
    }
  };
  return Array.from({ length: count }, draw);
}

/** A seeded CPU tensor of `shape`: float64 and requiring grad unless told otherwise. */
export function seeded(
  shape: Shape,
  seed: number,
  { domain = "normal", dtype = "float64", requiresGrad = true, scale = 1, offset = 0 }: SeededOptions = {},
): Tensor {
  const values = seededValues(shapeSize(shape), seed, domain).map((value) => offset + scale * value);
  return fromValues(values, shape, { dtype, requiresGrad });
}
