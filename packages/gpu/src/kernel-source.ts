// Writing GPU.js kernel sources: parameters, strided addressing with collapsed dims, exact index splitting.
import type { Shape } from "@normgrad/core";
import type { GpuBuffer } from "./gpu-buffer.ts";

/** A kernel argument: a buffer (an array parameter) or a number (a uniform). */
export type KernelArgument = GpuBuffer | number;

/** How one operand is addressed: element (c0, c1, …) lives at `offset + Σ ck·strides[k]`. */
export interface Strided {
  readonly strides: readonly number[];
  readonly offset: number;
}

/**
 * The source of one kernel call and its arguments, built together so they cannot disagree.
 * The source text is the kernel cache's key: geometry (sizes, strides, offsets) goes in as
 * uniforms, so one compiled kernel serves every shape of the same rank.
 */
export class KernelSource {
  readonly #params: string[] = [];
  readonly #args: KernelArgument[] = [];
  readonly #lines: string[] = [];
  #arrays = 0;

  /** Adds an array parameter; GPU.js allows few of them (textures / storage buffers), so at most 7. */
  array(buffer: GpuBuffer): string {
    if (this.#arrays === 7) throw new Error("a GPU.js kernel takes at most 7 array arguments");
    const name = `x${this.#arrays++}`;
    this.#params.push(name);
    this.#args.push(buffer);
    return name;
  }

  /** Adds a number parameter (a uniform) and returns its name. */
  number(value: number): string {
    const name = `u${this.#params.length}`;
    this.#params.push(name);
    this.#args.push(value);
    return name;
  }

  /** Appends statements to the kernel body. */
  line(...statements: string[]): void {
    this.#lines.push(...statements);
  }

  /** The kernel function's source text. */
  get text(): string {
    return `function (${this.#params.join(", ")}) {\n${this.#lines.join("\n")}\n}`;
  }

  /** The arguments, in parameter order. */
  get args(): readonly KernelArgument[] {
    return this.#args;
  }
}

/**
 * Drops size-1 dims and merges neighbouring dims that every operand walks as one (outer stride
 * = inner stride · inner size), so a contiguous view becomes rank 1 and index splitting costs
 * as few divisions as the layout allows. Returns the collapsed shape and operand strides.
 */
export function collapseDims(
  shape: Shape,
  operands: readonly Strided[],
): { shape: number[]; operands: Strided[] } {
  const dims: number[] = [];
  const strides: number[][] = operands.map(() => []);
  shape.forEach((dim, axis) => {
    if (dim === 1) return;
    const last = dims.length - 1;
    const mergeable =
      last >= 0 && operands.every((operand, k) => strides[k][last] === operand.strides[axis] * dim);
    if (mergeable) {
      dims[last] *= dim;
      operands.forEach((operand, k) => {
        strides[k][last] = operand.strides[axis];
      });
    } else {
      dims.push(dim);
      operands.forEach((operand, k) => {
        strides[k].push(operand.strides[axis]);
      });
    }
  });
  return {
    shape: dims,
    operands: operands.map((operand, k) => ({ strides: strides[k], offset: operand.offset })),
  };
}

/**
 * Emits `q = ⌊a/b⌋` and `r = a − q·b` for integers held in floats. The quotient is corrected by
 * one either way, because GLSL division is not correctly rounded on every GPU (exact up to 2^24).
 */
export function emitDivision(source: KernelSource, a: string, b: string, q: string, r: string): void {
  source.line(
    `const ${q}_ = Math.floor(${a} / ${b});`,
    `const ${q} = ${q}_ - (${a} - ${q}_ * ${b} < 0 ? 1 : 0) + (${a} - ${q}_ * ${b} >= ${b} ? 1 : 0);`,
    `const ${r} = ${a} - ${q} * ${b};`,
  );
}

/**
 * Splits the flat index `index` into coordinates `${prefix}0 … ${prefix}{rank−1}` of a
 * row-major `shape` (sizes as uniforms) and returns their names.
 */
export function emitCoordinates(
  source: KernelSource,
  shape: readonly number[],
  index: string,
  prefix: string,
): string[] {
  const rank = shape.length;
  const names = shape.map((_, axis) => `${prefix}${axis}`);
  let rest = index;
  for (let axis = rank - 1; axis >= 1; axis--) {
    const size = source.number(shape[axis]);
    emitDivision(source, rest, size, `${prefix}q${axis}`, names[axis]);
    rest = `${prefix}q${axis}`;
  }
  if (rank >= 1) source.line(`const ${names[0]} = ${rest};`);
  return names;
}

/**
 * Coordinates `${prefix}0 …` of a row-major `shape` (rank ≥ 2) for one output per thread: with
 * `grid`, the last two dims are `this.thread.x`/`y` and the rest `this.thread.z` (run the kernel
 * on `planeGrid(shape)`; webasm's SIMD then shares y and z across its four lanes, so reads
 * indexed by them are single loads); without, split from the flat `this.thread.x`.
 */
export function emitPlaneCoordinates(
  source: KernelSource,
  shape: readonly number[],
  grid: boolean,
  prefix: string,
): string[] {
  if (!grid) {
    source.line("const i = this.thread.x;");
    return emitCoordinates(source, shape, "i", prefix);
  }
  const rank = shape.length;
  source.line(
    `const ${prefix}x = this.thread.x;`,
    `const ${prefix}y = this.thread.y;`,
    `const ${prefix}z = this.thread.z;`,
  );
  const outer = emitCoordinates(source, shape.slice(0, -2), `${prefix}z`, `${prefix}o`);
  return [...outer, `${prefix}y`, `${prefix}x`].slice(0, rank);
}

/** The GPU.js output grid `[x, y, z]` that `emitPlaneCoordinates` with `grid` expects. */
export function planeGrid(shape: readonly number[]): [number, number, number] {
  const rank = shape.length;
  return [shape[rank - 1], shape[rank - 2], shape.slice(0, -2).reduce((product, dim) => product * dim, 1)];
}

/** The address expression of an operand at the given coordinates (strides and offset as uniforms). */
export function address(source: KernelSource, operand: Strided, coordinates: readonly string[]): string {
  const terms = [source.number(operand.offset)];
  coordinates.forEach((coordinate, axis) => {
    terms.push(`${coordinate} * ${source.number(operand.strides[axis])}`);
  });
  return terms.join(" + ");
}
