// ReLU, its backward's mask and product, and SGD's momentum step on contiguous float32 in WebAssembly SIMD, window by window.
import {
  defineFunction,
  emitModule,
  ensureMemory,
  f32Add,
  f32Const,
  f32ConvertI32,
  f32Gt,
  f32Load,
  f32Max,
  f32Mul,
  f32Store,
  f32Sub,
  f32x4Add,
  f32x4ConvertI32x4,
  f32x4Gt,
  f32x4Max,
  f32x4Mul,
  f32x4Splat,
  f32x4Sub,
  i32Load,
  i32Store,
  i32x4Neg,
  instantiate,
  localGet,
  localSet,
  overElements,
  v128Load,
  v128Store,
  v128Zero,
} from "./wasm-module.ts";

// Why: on activations of random sign, the JavaScript loops' `v > 0 ? v : 0` (or Math.max) is a
// branch mispredicted half the time, 6–7 ns per element here against ~0.3 ns for these
// branchless kernels plus the copies in and out. The lanes follow JavaScript exactly: f32x4.max
// gives NaN for NaN and +0 for −0 (Math.max(x, 0)), the comparison is false for NaN, and a
// product rounds once to float32 as a Float32Array store does.

const F32 = 4;
/** Elements per window: 64 KB per stream. */
const WINDOW = 16384;
const IN_A = 0;
const IN_B = IN_A + WINDOW * F32 + 64;
const OUT = IN_B + WINDOW * F32 + 64;
const IN_C = OUT + WINDOW * F32 + 64;
const MEMORY_BYTES = IN_C + WINDOW * F32;

const pointers = (...locals: number[]) => locals.map((local) => ({ local, bytes: F32 }));

/** `relu(x, y, n)`: y = max(x, 0). */
const relu = defineFunction("relu", { x: "i32", y: "i32", n: "i32" }, (code, p, declare) => {
  overElements(
    code,
    declare,
    p.n,
    8,
    pointers(p.x, p.y),
    () => {
      for (const offset of [0, 16])
        code.emit(localGet(p.y), localGet(p.x), v128Load(offset), v128Zero, f32x4Max, v128Store(offset));
    },
    () => code.emit(localGet(p.y), localGet(p.x), f32Load(), f32Const(0), f32Max, f32Store()),
  );
});

/** `greater(x, mask, n, threshold)`: mask = 1 where x > threshold, else 0 (int32). */
const greater = defineFunction(
  "greater",
  { x: "i32", mask: "i32", n: "i32", threshold: "f32" },
  (code, p, declare) => {
    const threshold = declare("v128");
    code.emit(localGet(p.threshold), f32x4Splat, localSet(threshold));
    overElements(
      code,
      declare,
      p.n,
      8,
      pointers(p.x, p.mask),
      () => {
        for (const offset of [0, 16]) {
          code.emit(localGet(p.mask), localGet(p.x), v128Load(offset), localGet(threshold), f32x4Gt);
          code.emit(i32x4Neg);
          code.emit(v128Store(offset));
        }
      },
      () => code.emit(localGet(p.mask), localGet(p.x), f32Load(), localGet(p.threshold), f32Gt, i32Store()),
    );
  },
);

/** `multiply(a, b, out, n, bIsInt32)`: out = a·b, b float32, or int32 converted to float32 first when bIsInt32 is 1. */
function multiply(name: string, bInt32: boolean) {
  return defineFunction(name, { a: "i32", b: "i32", out: "i32", n: "i32" }, (code, p, declare) => {
    overElements(
      code,
      declare,
      p.n,
      8,
      pointers(p.a, p.b, p.out),
      () => {
        for (const offset of [0, 16]) {
          code.emit(localGet(p.out), localGet(p.a), v128Load(offset), localGet(p.b), v128Load(offset));
          code.emit(bInt32 ? [f32x4ConvertI32x4] : [], f32x4Mul, v128Store(offset));
        }
      },
      () => {
        code.emit(localGet(p.out), localGet(p.a), f32Load(), localGet(p.b));
        code.emit(bInt32 ? [i32Load(), f32ConvertI32] : [f32Load()]);
        code.emit(f32Mul, f32Store());
      },
    );
  });
}

const multiplyFloat32 = multiply("multiplyFloat32", false);
const multiplyInt32 = multiply("multiplyInt32", true);

/**
 * `momentumStep(param, grad, buffer, n, lr, momentum, keep)`, in place: b = μ·b + keep·g, then
 * p = p − lr·b, each operation rounded to float32 as PyTorch's float32 SGD rounds it.
 */
const momentumStep = defineFunction(
  "momentumStep",
  { param: "i32", grad: "i32", buffer: "i32", n: "i32", lr: "f32", momentum: "f32", keep: "f32" },
  (code, p, declare) => {
    const [lr, momentum, keep, value] = [declare("v128"), declare("v128"), declare("v128"), declare("v128")];
    code.emit(localGet(p.lr), f32x4Splat, localSet(lr), localGet(p.momentum), f32x4Splat, localSet(momentum));
    code.emit(localGet(p.keep), f32x4Splat, localSet(keep));
    const scalar = declare("f32");
    overElements(
      code,
      declare,
      p.n,
      8,
      pointers(p.param, p.grad, p.buffer),
      () => {
        for (const offset of [0, 16]) {
          code.emit(localGet(momentum), localGet(p.buffer), v128Load(offset), f32x4Mul);
          code.emit(localGet(keep), localGet(p.grad), v128Load(offset), f32x4Mul, f32x4Add, localSet(value));
          code.emit(localGet(p.buffer), localGet(value), v128Store(offset));
          code.emit(localGet(p.param), localGet(p.param), v128Load(offset), localGet(lr), localGet(value));
          code.emit(f32x4Mul);
          code.emit(f32x4Sub, v128Store(offset));
        }
      },
      () => {
        code.emit(localGet(p.momentum), localGet(p.buffer), f32Load(), f32Mul);
        code.emit(localGet(p.keep), localGet(p.grad), f32Load(), f32Mul, f32Add, localSet(scalar));
        code.emit(localGet(p.buffer), localGet(scalar), f32Store());
        code.emit(localGet(p.param), localGet(p.param), f32Load(), localGet(p.lr), localGet(scalar), f32Mul);
        code.emit(f32Sub);
        code.emit(f32Store());
      },
    );
  },
);

const instance = instantiate(emitModule([relu, greater, multiplyFloat32, multiplyInt32, momentumStep]));
if (instance !== undefined) ensureMemory(instance.memory, MEMORY_BYTES);

function exported(name: string): ((...args: number[]) => void) | undefined {
  return instance?.functions.get(name);
}

const kernels = {
  relu: exported(relu.name),
  greater: exported(greater.name),
  multiplyFloat32: exported(multiplyFloat32.name),
  multiplyInt32: exported(multiplyInt32.name),
  momentumStep: exported(momentumStep.name),
};

let enabled = true;

/** Switches these kernels on or off (default on): off runs the JavaScript loops (for tests and comparisons). */
export function configureWasmElementwise(options: { enabled: boolean }): void {
  enabled = options.enabled;
}

/**
 * Runs `kernel` over `n` elements window by window: each source's window copied in (a float32
 * or int32 array, from its offset), the kernel, the output window copied back. False (and
 * nothing done) where wasm SIMD is missing or switched off.
 */
function windowed(
  kernel: ((...args: number[]) => void) | undefined,
  sources: readonly (readonly [Float32Array | Int32Array, number])[],
  out: Float32Array | Int32Array,
  n: number,
  extra: readonly number[] = [],
): boolean {
  if (!enabled || kernel === undefined || instance === undefined) return false;
  const { buffer } = instance.memory;
  const floats = new Float32Array(buffer);
  const ints = new Int32Array(buffer);
  for (let start = 0; start < n; start += WINDOW) {
    const count = Math.min(WINDOW, n - start);
    const windows = [IN_A, IN_B];
    sources.forEach(([array, offset], index) => {
      const window = (windows[index] ?? IN_A) / F32;
      const part = array.subarray(offset + start, offset + start + count);
      if (part instanceof Float32Array) floats.set(part, window);
      else ints.set(part, window);
    });
    kernel(...sources.map((_, index) => windows[index] ?? IN_A), OUT, count, ...extra);
    const result = out instanceof Float32Array ? floats : ints;
    out.set(result.subarray(OUT / F32, OUT / F32 + count), start);
  }
  return true;
}

/** out[0..n) = max(x[offset..], 0) (Math.max's NaN and ±0); false, with nothing written, where the kernels cannot run. */
export function wasmRelu(x: Float32Array, offset: number, out: Float32Array, n: number): boolean {
  return windowed(kernels.relu, [[x, offset]], out, n);
}

/** out[0..n) = 1 where x[offset..] > threshold, else 0; false where the kernels cannot run. */
export function wasmGreaterThan(
  x: Float32Array,
  offset: number,
  threshold: number,
  out: Int32Array,
  n: number,
): boolean {
  return windowed(kernels.greater, [[x, offset]], out, n, [threshold]);
}

/** out[0..n) = a[aOffset..]·b[bOffset..] in float32 (an int32 b converted first); false where the kernels cannot run. */
export function wasmMultiply(
  a: Float32Array,
  aOffset: number,
  b: Float32Array | Int32Array,
  bOffset: number,
  out: Float32Array,
  n: number,
): boolean {
  const kernel = b instanceof Int32Array ? kernels.multiplyInt32 : kernels.multiplyFloat32;
  return windowed(
    kernel,
    [
      [a, aOffset],
      [b, bOffset],
    ],
    out,
    n,
  );
}

/**
 * SGD with momentum on float32 arrays, in place (`sgdStep`'s usual case): b = μ·b + keep·g,
 * p −= lr·b, each operation rounded to float32; false, with nothing written, where the kernels
 * cannot run.
 */
export function wasmMomentumStep(
  param: Float32Array,
  grad: Float32Array,
  buffer: Float32Array,
  { lr, momentum, keep }: { readonly lr: number; readonly momentum: number; readonly keep: number },
): boolean {
  const kernel = kernels.momentumStep;
  if (!enabled || kernel === undefined || instance === undefined) return false;
  const floats = new Float32Array(instance.memory.buffer);
  const n = param.length;
  for (let start = 0; start < n; start += WINDOW) {
    const end = Math.min(n, start + WINDOW);
    floats.set(param.subarray(start, end), IN_A / F32);
    floats.set(grad.subarray(start, end), IN_B / F32);
    floats.set(buffer.subarray(start, end), IN_C / F32);
    kernel(IN_A, IN_B, IN_C, end - start, lr, momentum, keep);
    param.set(floats.subarray(IN_A / F32, IN_A / F32 + end - start), start);
    buffer.set(floats.subarray(IN_C / F32, IN_C / F32 + end - start), start);
  }
  return true;
}
