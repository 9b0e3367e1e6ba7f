// Core's own PyTorch 1.13.1 reference cases (test/fixtures, made by generate_fixtures.py there); NaN and ±∞ are stored as strings.
import { readFileSync } from "node:fs";
import type { FixtureTensor } from "@normgrad/testing";

/** A tensor as the files store it: JSON has no NaN or ±∞, so those are "NaN", "Infinity", "-Infinity". */
interface StoredTensor {
  shape: number[];
  dtype: "float64";
  data: (number | "NaN" | "Infinity" | "-Infinity")[];
}

interface StoredCase {
  name: string;
  op: string;
  config: Record<string, unknown>;
  inputs: Record<string, StoredTensor>;
  expected: { output: StoredTensor; grads: Record<string, StoredTensor> };
  notes: string;
}

/** One case: its inputs (and `dy`), PyTorch's output, and d sum(output·dy) / d input for each input. */
export interface CoreFixture {
  name: string;
  op: string;
  config: Record<string, unknown>;
  inputs: Record<string, FixtureTensor>;
  expected: { output: FixtureTensor; grads: Record<string, FixtureTensor> };
  notes: string;
}

function decode({ shape, dtype, data }: StoredTensor): FixtureTensor {
  return { shape, dtype, data: data.map(Number) };
}

function decodeAll(tensors: Record<string, StoredTensor>): Record<string, FixtureTensor> {
  return Object.fromEntries(Object.entries(tensors).map(([name, value]) => [name, decode(value)]));
}

/** The cases of one file in test/fixtures whose op is one of `ops`, e.g. ("maximum-ties.json", "maximum"). */
export function loadCoreFixtures(file: string, ...ops: string[]): CoreFixture[] {
  const parsed: { source: string; cases: StoredCase[] } = JSON.parse(
    readFileSync(new URL(`./fixtures/${file}`, import.meta.url), "utf8"),
  );
  const cases = parsed.cases.filter(({ op }) => ops.includes(op));
  if (cases.length === 0) throw new Error(`test/fixtures/${file} holds no ${ops.join("/")} case`);
  return cases.map(({ inputs, expected, ...rest }) => ({
    ...rest,
    inputs: decodeAll(inputs),
    expected: { output: decode(expected.output), grads: decodeAll(expected.grads) },
  }));
}
