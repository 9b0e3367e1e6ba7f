// Elementwise kernels over strided, broadcast inputs: unary and binary functions, where, copy and fill.
import type { BinaryOp, DType, Shape, UnaryOp } from "@normgrad/core";
import type { GpuBuffer } from "../gpu-buffer.ts";
import { address, collapseDims, emitCoordinates, KernelSource, type Strided } from "../kernel-source.ts";

/** A strided view of a GPU buffer, as a kernel reads it. */
export interface Operand extends Strided {
  readonly buffer: GpuBuffer;
}

/**
 * One output per thread over `shape`: every operand is read at the thread's coordinates and
 * `body` turns those values (variable names) into the result expression.
 */
export function elementwiseSource(
  shape: Shape,
  operands: readonly Operand[],
  body: (values: string[], source: KernelSource) => string,
): KernelSource {
  const collapsed = collapseDims(shape, operands);
  const source = new KernelSource();
  const arrays = operands.map((operand) => source.array(operand.buffer));
  source.line("const i = this.thread.x;");
  const coordinates = emitCoordinates(source, collapsed.shape, "i", "c");
  const values = collapsed.operands.map((operand, k) => {
    source.line(`const v${k} = ${arrays[k]}[${address(source, operand, coordinates)}];`);
    return `v${k}`;
  });
  source.line(`return ${body(values, source)};`);
  return source;
}

/** Formats a constant for a kernel source (full double precision, parenthesized when negative). */
export function literal(value: number): string {
  const text = Number.isInteger(value) ? value.toFixed(1) : String(value);
  return value < 0 ? `(${text})` : text;
}

/** `p(x) = coefficients[0] + x·(coefficients[1] + x·(…))` as a kernel expression. */
function horner(x: string, coefficients: readonly number[]): string {
  return coefficients.reduceRight(
    (inner, c) => (inner === "" ? literal(c) : `${literal(c)} + ${x} * (${inner})`),
    "",
  );
}

const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);
/** erf(x) = 2/√π Σ (−1)ⁿ x^(2n+1) / (n!(2n+1)): the coefficients of x·p(x²), 11 terms (|x| < 1: error < 2e-8). */
const ERF_SERIES = Array.from({ length: 11 }, (_, n) => {
  let factorial = 1;
  for (let k = 2; k <= n; k++) factorial *= k;
  return (TWO_OVER_SQRT_PI * (n % 2 === 0 ? 1 : -1)) / (factorial * (2 * n + 1));
});
/** tanh(x) = x − x³/3 + 2x⁵/15 − …: the coefficients of x·p(x²) up to x¹³ (|x| < 0.4: error < 1e-8). */
const TANH_SERIES = [1, -1 / 3, 2 / 15, -17 / 315, 62 / 2835, -1382 / 155925, 21844 / 6081075];
/** eˣ − 1 = x·(1 + x/2! + x²/3! + …), 11 terms (|x| < 0.5: error < 2e-11, relative). */
const EXPM1_SERIES = Array.from({ length: 11 }, (_, n) => {
  let factorial = 1;
  for (let k = 2; k <= n + 1; k++) factorial *= k;
  return 1 / factorial;
});
/** ln(1 + x) = 2·atanh(s), s = x/(2 + x): 2s·(1 + s²/3 + s⁴/5 + …), 8 terms (|x| < 0.5: |s| < 1/3, error < 1e-9). */
const LOG1P_SERIES = Array.from({ length: 8 }, (_, n) => 2 / (2 * n + 1));

/**
 * Statements computing `name` = op(v). GPU.js's GLSL tanh is (e²ˣ−1)/(e²ˣ+1), which loses
 * digits near 0 and gives NaN past |x| ≈ 44, and GLSL has no erf: both are written out here.
 */
export function emitUnary(source: KernelSource, op: UnaryOp, v: string, name: string): void {
  switch (op) {
    case "neg":
      source.line(`const ${name} = -${v};`);
      return;
    case "exp":
      source.line(`const ${name} = Math.exp(${v});`);
      return;
    case "log":
      source.line(`const ${name} = Math.log(${v});`);
      return;
    case "sqrt":
      source.line(`const ${name} = Math.sqrt(${v});`);
      return;
    case "recip":
      emitDivide(source, "1.0", v, name);
      return;
    case "tanh":
      source.line(
        `const ${name}a = Math.abs(${v});`,
        `const ${name}t = ${v} * ${v};`,
        `const ${name}e = Math.exp(-2 * ${name}a);`,
        `const ${name}y = (1 - ${name}e) / (1 + ${name}e);`,
        `const ${name} = ${name}a < 0.4 ? ${v} * (${horner(`${name}t`, TANH_SERIES)}) : (${v} < 0 ? -${name}y : ${name}y);`,
      );
      return;
    // Two branches so that exp never overflows: σ(x) = 1/(1+e^−x) = e^x/(1+e^x).
    case "sigmoid":
      source.line(
        `const ${name}e = Math.exp(-Math.abs(${v}));`,
        `const ${name} = ${v} >= 0 ? 1 / (1 + ${name}e) : ${name}e / (1 + ${name}e);`,
      );
      return;
    // `x < 0 ? 0 : x` rather than max(x, 0): NaN passes through, as on the CPU.
    case "relu":
      source.line(`const ${name} = ${v} < 0 ? 0 : ${v};`);
      return;
    case "abs":
      source.line(`const ${name} = Math.abs(${v});`);
      return;
    case "sign":
      source.line(`const ${name} = Math.sign(${v});`);
      return;
    // |x| < 1: the series; beyond, Abramowitz & Stegun 7.1.26 (absolute error < 1.5e-7).
    case "erf":
      source.line(
        `const ${name}a = Math.abs(${v});`,
        `const ${name}t = 1 / (1 + 0.3275911 * ${name}a);`,
        `const ${name}p = ((((1.061405429 * ${name}t - 1.453152027) * ${name}t + 1.421413741) * ${name}t - 0.284496736) * ${name}t + 0.254829592) * ${name}t;`,
        `const ${name}y = 1 - ${name}p * Math.exp(-${name}a * ${name}a);`,
        `const ${name}s = ${v} * ${v};`,
        `const ${name} = ${name}a < 1 ? ${v} * (${horner(`${name}s`, ERF_SERIES)}) : (${v} < 0 ? -${name}y : ${name}y);`,
      );
      return;
    case "sin":
      source.line(`const ${name} = Math.sin(${v});`);
      return;
    case "cos":
      source.line(`const ${name} = Math.cos(${v});`);
      return;
    case "atan":
      source.line(`const ${name} = Math.atan(${v});`);
      return;
    // Near 0, exp(x) − 1 and log(1 + x) cancel away the digits: a series there.
    case "expm1":
      source.line(
        `const ${name}e = Math.exp(${v}) - 1;`,
        `const ${name} = Math.abs(${v}) < 0.5 ? ${v} * (${horner(v, EXPM1_SERIES)}) : ${name}e;`,
      );
      return;
    case "log1p":
      source.line(
        `const ${name}s = ${v} / (2 + ${v});`,
        `const ${name}q = ${name}s * ${name}s;`,
        `const ${name}l = Math.log(1 + ${v});`,
        `const ${name} = Math.abs(${v}) < 0.5 ? ${name}s * (${horner(`${name}q`, LOG1P_SERIES)}) : ${name}l;`,
      );
      return;
    default:
      op satisfies never;
  }
}

/**
 * `name = a / b` with IEEE results for b = 0 (±∞, NaN for 0/0), which GLSL leaves undefined (llvmpipe gives 0).
 * NaN is detected as `a === a` failing: on WebGPU (Dawn on lavapipe) `a !== a` is false for NaN too.
 */
function emitDivide(source: KernelSource, a: string, b: string, name: string): void {
  const infinity = source.number(Number.POSITIVE_INFINITY);
  const nan = source.number(Number.NaN);
  source.line(
    `const ${name} = ${b} === 0 ? (${a} === 0 ? ${nan} : (${a} === ${a} ? (${a} > 0 ? ${infinity} : -${infinity}) : ${nan})) : ${a} / ${b};`,
  );
}

/**
 * Statements computing `name` = op(a, b). pow is spelled out because GLSL's pow is undefined
 * for a negative base (PyTorch: an odd integer exponent keeps the sign, a fractional one gives
 * NaN) and for a zero base with exponent ≤ 0.
 */
export function emitBinary(source: KernelSource, op: BinaryOp, a: string, b: string, name: string): void {
  switch (op) {
    case "add":
      source.line(`const ${name} = ${a} + ${b};`);
      return;
    case "sub":
      source.line(`const ${name} = ${a} - ${b};`);
      return;
    case "mul":
      source.line(`const ${name} = ${a} * ${b};`);
      return;
    case "div":
      emitDivide(source, a, b, name);
      return;
    case "pow": {
      const infinity = source.number(Number.POSITIVE_INFINITY);
      const nan = source.number(Number.NaN);
      source.line(
        `const ${name}a = Math.abs(${a});`,
        `const ${name}m = Math.pow(${name}a, ${b});`,
        `const ${name}i = Math.floor(${b}) === ${b} ? 1 : 0;`,
        `const ${name}o = Math.abs(${b} - 2 * Math.floor(${b} / 2)) === 1 ? 1 : 0;`,
        `const ${name} = ${b} === 0 ? 1 : (${name}a === 0 ? (${b} > 0 ? 0 : ${infinity}) : ` +
          `(${a} < 0 ? (${name}i === 1 ? (${name}o === 1 ? -${name}m : ${name}m) : ${nan}) : ${name}m));`,
      );
      return;
    }
    // NaN propagates through maximum/minimum, as in PyTorch (a NaN a fails a === a, a NaN b every comparison).
    case "maximum":
      source.line(`const ${name} = ${a} === ${a} ? (${a} > ${b} ? ${a} : ${b}) : ${a};`);
      return;
    case "minimum":
      source.line(`const ${name} = ${a} === ${a} ? (${a} < ${b} ? ${a} : ${b}) : ${a};`);
      return;
    case "eq":
      source.line(`const ${name} = ${a} === ${b} ? 1 : 0;`);
      return;
    // Not a !== b: WebGPU (Dawn on lavapipe) gives false for NaN !== NaN, PyTorch true.
    case "ne":
      source.line(`const ${name} = ${a} === ${b} ? 0 : 1;`);
      return;
    case "lt":
      source.line(`const ${name} = ${a} < ${b} ? 1 : 0;`);
      return;
    case "le":
      source.line(`const ${name} = ${a} <= ${b} ? 1 : 0;`);
      return;
    case "gt":
      source.line(`const ${name} = ${a} > ${b} ? 1 : 0;`);
      return;
    case "ge":
      source.line(`const ${name} = ${a} >= ${b} ? 1 : 0;`);
      return;
    default:
      op satisfies never;
  }
}

/** The value stored for `dtype`: int32 truncates toward zero (float → int casts), bool is 1 where nonzero (NaN too), floats pass. */
export function storedAs(dtype: DType, value: string): string {
  if (dtype === "bool") return `(${value} === 0 ? 0 : 1)`;
  return dtype === "int32" ? `Math.trunc(${value})` : value;
}

/** `op(x)` per element of `shape`, from a strided view (float32 results). */
export function unarySource(op: UnaryOp, x: Operand, shape: Shape): KernelSource {
  return elementwiseSource(shape, [x], ([v], source) => {
    emitUnary(source, op, v, "r");
    return "r";
  });
}

/** `op(a, b)` per element of `shape`; `a` and `b` arrive already broadcast (stride-0 views). */
export function binarySource(op: BinaryOp, a: Operand, b: Operand, shape: Shape, dtype: DType): KernelSource {
  return elementwiseSource(shape, [a, b], ([va, vb], source) => {
    emitBinary(source, op, va, vb, "r");
    // Integer arithmetic stays integral except pow with a negative exponent: truncate, as PyTorch.
    return op === "pow" ? storedAs(dtype, "r") : "r";
  });
}

/** `condition ≠ 0 ? a : b` per element of `shape` (all three broadcast views). */
export function whereSource(condition: Operand, a: Operand, b: Operand, shape: Shape): KernelSource {
  return elementwiseSource(shape, [condition, a, b], ([c, va, vb]) => `${c} === 0 ? ${vb} : ${va}`);
}

/** A contiguous copy of a strided view, converted to `dtype`. */
export function copySource(x: Operand, shape: Shape, dtype: DType): KernelSource {
  return elementwiseSource(shape, [x], ([v]) => storedAs(dtype, v));
}

/** `value` everywhere. */
export function fillSource(value: number): KernelSource {
  const source = new KernelSource();
  source.line(`return ${source.number(value)};`);
  return source;
}
