// loadFixture and its kin: the PyTorch 1.13.1 reference values in ../fixtures (format in fixtures/README.md).
import { readdirSync, readFileSync } from "node:fs";
import { type DType, fromValues, type Tensor } from "../../core/src/index.ts";

/** A tensor as the fixtures store it: flat row-major values. */
export interface FixtureTensor {
  shape: number[];
  dtype: "float64" | "int64";
  data: number[];
}

/** One reference case of an op, a layer or an optimizer (fixtures/README.md, "File format"). */
export interface Fixture {
  name: string;
  op: string;
  /** PyTorch's argument names and values, plus the seed. */
  config: Record<string, unknown>;
  inputs: Record<string, FixtureTensor>;
  params: Record<string, FixtureTensor>;
  expected: {
    output: FixtureTensor;
    grads: Record<string, FixtureTensor>;
    /** A module's buffers after the run; null for a buffer the module does not have. */
    buffers: Record<string, FixtureTensor | null>;
    /** batch_norm: the buffers (and batch statistics) after each training step. */
    buffers_history?: Record<string, FixtureTensor | null>[];
    /** batch_norm: one forward and backward in eval mode after the training steps. */
    eval?: { output: FixtureTensor; grads: Record<string, FixtureTensor> };
    /** numerics_*: per-channel (per-row) mean and variances. */
    stats?: Record<string, FixtureTensor>;
    /** fold_*: the fused layer's parameters and output. */
    fused?: { weight: FixtureTensor; bias: FixtureTensor; output: FixtureTensor };
    /** max_pool2d: the flat index of each window's maximum. */
    indices?: FixtureTensor;
    /** optim_*: the parameter after each step. */
    param_history?: FixtureTensor[];
    /** optim_*: the optimizer state after the last step. */
    state?: Record<string, FixtureTensor>;
  };
  notes: string;
}

/** repr.json: PyTorch's module strings and state-dict keys. */
export interface ReprFixture {
  name: string;
  expected: {
    reprs: { expr: string; str: string }[];
    state_dict: {
      expr: string;
      keys: string[];
      entries: { key: string; shape: number[]; dtype: string }[];
      parameters: string[];
      buffers: string[];
    };
    extra_state_dicts: { expr: string; keys: string[] }[];
  };
}

const FIXTURES = new URL("../fixtures/", import.meta.url);

function readJson(file: string): unknown {
  return JSON.parse(readFileSync(new URL(file, FIXTURES), "utf8"));
}

/** Whether `value` has a fixture tensor's `shape` and `data` arrays. */
export function isFixtureTensor(value: object): value is FixtureTensor {
  return "shape" in value && Array.isArray(value.shape) && "data" in value && Array.isArray(value.data);
}

function isFixture(value: unknown, name: string): value is Fixture {
  return (
    typeof value === "object" &&
    value !== null &&
    "name" in value &&
    value.name === name &&
    "expected" in value &&
    typeof value.expected === "object" &&
    value.expected !== null &&
    "output" in value.expected
  );
}

function isReprFixture(value: unknown): value is ReprFixture {
  return (
    typeof value === "object" &&
    value !== null &&
    "expected" in value &&
    typeof value.expected === "object" &&
    value.expected !== null &&
    "reprs" in value.expected
  );
}

/** The names (file names without `.json`) of the op fixtures starting with `prefix`, sorted. */
export function fixtureNames(prefix: string): string[] {
  return readdirSync(FIXTURES)
    .filter((file) => file.startsWith(prefix) && file.endsWith(".json") && file !== "index.json")
    .map((file) => file.slice(0, -".json".length))
    .sort();
}

/** The fixture `name` (its file name without `.json`). */
export function loadFixture(name: string): Fixture {
  const fixture = readJson(`${name}.json`);
  if (!isFixture(fixture, name)) throw new Error(`fixtures/${name}.json is not an op fixture named ${name}`);
  return fixture;
}

/** Every fixture whose name starts with `prefix`, sorted by name. */
export function loadFixtures(prefix: string): Fixture[] {
  return fixtureNames(prefix).map(loadFixture);
}

/** repr.json: PyTorch's module strings and the state-dict keys of a small model. */
export function loadReprFixture(): ReprFixture {
  const fixture = readJson("repr.json");
  if (!isReprFixture(fixture)) throw new Error("fixtures/repr.json has no expected.reprs");
  return fixture;
}

/** A fixture tensor as a normgrad tensor: floats in `dtype` (requiring grad if asked), int64 as int32. */
export function fromFixture(
  value: FixtureTensor,
  dtype: DType,
  { requiresGrad = false }: { requiresGrad?: boolean } = {},
): Tensor {
  const target = value.dtype === "int64" ? "int32" : dtype;
  return fromValues(value.data, value.shape, {
    dtype: target,
    requiresGrad: requiresGrad && target !== "int32",
  });
}
