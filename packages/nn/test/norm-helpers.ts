// Test helpers of the normalization tests: PyTorch fixtures (see fixtures/README.md), seeded inputs, closeness.
import { readdirSync, readFileSync } from "node:fs";
import { type DType, fromValues, Generator, type Shape, type Tensor } from "@normgrad/core";
import { expect } from "vitest";

/** A tensor as the fixtures store it: flat row-major values. */
export interface FixtureTensor {
  shape: number[];
  dtype: "float64" | "int64";
  data: number[];
}

/** One PyTorch 1.13.1 reference case (the format of fixtures/README.md). */
export interface Fixture {
  name: string;
  op: string;
  config: Record<string, unknown>;
  inputs: Record<string, FixtureTensor>;
  params: Record<string, FixtureTensor>;
  expected: {
    output: FixtureTensor;
    grads: Record<string, FixtureTensor>;
    buffers: Record<string, FixtureTensor | null>;
    buffers_history?: Record<string, FixtureTensor | null>[];
    eval?: { output: FixtureTensor; grads: Record<string, FixtureTensor> };
    stats?: Record<string, FixtureTensor>;
    fused?: { weight: FixtureTensor; bias: FixtureTensor; output: FixtureTensor };
  };
  notes: string;
}

const FIXTURES = new URL("./fixtures/", import.meta.url);

/** The fixture files whose names start with `prefix`, without `.json`, sorted. */
export function fixtureNames(prefix: string): string[] {
  return readdirSync(FIXTURES)
    .filter((file) => file.startsWith(prefix) && file.endsWith(".json"))
    .map((file) => file.slice(0, -".json".length))
    .sort();
}

export function loadFixture(name: string): Fixture {
  const fixture: Fixture = JSON.parse(readFileSync(new URL(`${name}.json`, FIXTURES), "utf8"));
  return fixture;
}

/** A fixture tensor as a normgrad tensor of `dtype`. */
export function fromFixture(
  value: FixtureTensor,
  dtype: DType,
  { requiresGrad = false }: { requiresGrad?: boolean } = {},
): Tensor {
  return fromValues(value.data, value.shape, { dtype, requiresGrad });
}

/** Tolerances of a comparison with a float64 reference. */
export interface Tolerance {
  rtol: number;
  atol: number;
}

/** The dtypes the fixtures are run in. */
export type FloatDType = "float32" | "float64";

/** Per-dtype tolerances against the float64 PyTorch values (ARCHITECTURE.md §6). */
export const TOLERANCES: { [D in FloatDType]: { output: Tolerance; stats: Tolerance } } = {
  float64: { output: { rtol: 1e-10, atol: 1e-12 }, stats: { rtol: 1e-12, atol: 1e-14 } },
  float32: { output: { rtol: 5e-4, atol: 1e-5 }, stats: { rtol: 1e-5, atol: 1e-7 } },
};

/** Asserts `actual` matches `expected` elementwise within `atol + rtol·|expected|`, naming the first bad element. */
export function expectClose(
  actual: Tensor | null,
  expected: FixtureTensor | ArrayLike<number>,
  { rtol, atol }: Tolerance,
  what = "value",
): void {
  expect(actual, `${what} is missing`).not.toBeNull();
  const values = actual?.dataSync() ?? [];
  const reference = "data" in expected ? expected.data : expected;
  if ("shape" in expected) expect(actual?.shape, `${what} shape`).toEqual(expected.shape);
  expect(values.length, `${what} size`).toBe(reference.length);
  for (let i = 0; i < reference.length; i++) {
    const tolerance = atol + rtol * Math.abs(reference[i]);
    if (!(Math.abs(values[i] - reference[i]) <= tolerance)) {
      expect.fail(`${what}[${i}]: got ${values[i]}, expected ${reference[i]} (tolerance ${tolerance})`);
    }
  }
}

/** The largest |actual − expected| over all elements. */
export function maxAbsError(actual: Tensor, expected: FixtureTensor | ArrayLike<number>): number {
  const values = actual.dataSync();
  const reference = "data" in expected ? expected.data : expected;
  let worst = 0;
  for (let i = 0; i < reference.length; i++) worst = Math.max(worst, Math.abs(values[i] - reference[i]));
  return worst;
}

/** A seeded float64 tensor of standard normal values (optionally scaled and shifted). */
export function seeded(
  shape: Shape,
  seed: number,
  {
    requiresGrad = true,
    scale = 1,
    offset = 0,
  }: { requiresGrad?: boolean; scale?: number; offset?: number } = {},
): Tensor {
  const generator = new Generator(seed);
  const size = shape.reduce((product, dim) => product * dim, 1);
  const values = Array.from({ length: size }, () => offset + scale * generator.normal());
  return fromValues(values, shape, { dtype: "float64", requiresGrad });
}
