// Test helpers: the PyTorch 1.13.1 fixtures (see fixtures/README.md), seeded inputs and closeness checks.
import { readdirSync, readFileSync } from "node:fs";
import { type DType, fromValues, Generator, type Shape, shapeSize, type Tensor } from "@normgrad/core";
import { expect } from "vitest";

/** A tensor as the fixtures store it: flat row-major values. */
export interface FixtureTensor {
  shape: number[];
  dtype: "float64" | "int64";
  data: number[];
}

/** One reference case of an op (the fields these tests read). */
export interface OpFixture {
  name: string;
  config: Record<string, unknown>;
  inputs: Record<string, FixtureTensor>;
  params: Record<string, FixtureTensor>;
  expected: { output: FixtureTensor; grads: Record<string, FixtureTensor>; indices?: FixtureTensor };
}

const FIXTURES = new URL("./fixtures/", import.meta.url);

/** Every fixture whose file name starts with `prefix`, sorted by name. */
export function fixturesStartingWith(prefix: string): OpFixture[] {
  return readdirSync(FIXTURES)
    .filter((file) => file.startsWith(prefix) && file.endsWith(".json"))
    .sort()
    .map((file) => JSON.parse(readFileSync(new URL(file, FIXTURES), "utf8")));
}

/** A JSON fixture file parsed. */
export function readFixture(file: string): unknown {
  return JSON.parse(readFileSync(new URL(file, FIXTURES), "utf8"));
}

/** A fixture tensor as a normgrad tensor: floats in `dtype`, int64 as int32. */
export function toTensor(value: FixtureTensor, dtype: DType, requiresGrad = false): Tensor {
  const target = value.dtype === "int64" ? "int32" : dtype;
  return fromValues(value.data, value.shape, {
    dtype: target,
    requiresGrad: requiresGrad && target !== "int32",
  });
}

/** Tolerances against the float64 reference, per dtype (ARCHITECTURE.md §6). */
export const TOLERANCE = {
  float64: { rtol: 1e-10, atol: 1e-12 },
  float32: { rtol: 5e-4, atol: 1e-6 },
} as const;

/** The dtypes every forward/backward fixture test runs in. */
export const FLOAT_DTYPES = ["float64", "float32"] as const;

/** Asserts `actual` has `expected`'s shape and values within `atol + rtol·|expected|`, naming the first bad element. */
export function expectClose(
  actual: Tensor | null,
  expected: FixtureTensor,
  { rtol, atol }: { rtol: number; atol: number },
  what: string,
): void {
  if (actual === null) throw new Error(`${what} is missing (null)`);
  expect(actual.shape, `${what} shape`).toEqual(expected.shape);
  const values = actual.dataSync();
  for (let i = 0; i < expected.data.length; i++) {
    const error = Math.abs(values[i] - expected.data[i]);
    if (!(error <= atol + rtol * Math.abs(expected.data[i]))) {
      throw new Error(
        `${what}[${i}] = ${values[i]}, expected ${expected.data[i]} (rtol ${rtol}, atol ${atol})`,
      );
    }
  }
}

/** A seeded float64 tensor of N(0, 1) values (requiring grad by default), for gradcheck. */
export function seeded(
  shape: Shape,
  seed: number,
  { requiresGrad = true, dtype = "float64" as DType } = {},
): Tensor {
  const generator = new Generator(seed);
  return fromValues(
    Array.from({ length: shapeSize(shape) }, () => generator.normal()),
    shape,
    { dtype, requiresGrad },
  );
}
