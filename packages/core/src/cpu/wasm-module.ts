// The WebAssembly emitter the CPU kernels are written in: typed functions, their instructions, one module with one memory.

/** The value types of the kernels' parameters and locals. */
export type ValueType = "i32" | "f32" | "f64" | "v128";

const TYPE_CODES = { i32: 0x7f, f32: 0x7d, f64: 0x7c, v128: 0x7b } as const satisfies Record<
  ValueType,
  number
>;

/** The unsigned LEB128 bytes of a non-negative integer (indices, sizes, memarg fields). */
function unsignedLeb(value: number): number[] {
  const bytes: number[] = [];
  do {
    let byte = value & 0x7f;
    value >>>= 7;
    if (value !== 0) byte |= 0x80;
    bytes.push(byte);
  } while (value !== 0);
  return bytes;
}

/** The signed LEB128 bytes of an i32 (the immediate of `i32.const`). */
function signedLeb(value: number): number[] {
  const bytes: number[] = [];
  for (;;) {
    const byte = value & 0x7f;
    value >>= 7;
    const done = (value === 0 && (byte & 0x40) === 0) || (value === -1 && (byte & 0x40) !== 0);
    bytes.push(done ? byte : byte | 0x80);
    if (done) return bytes;
  }
}

/** A length-prefixed byte vector (sections, function bodies, names). */
function sized(bytes: readonly number[]): number[] {
  return [...unsignedLeb(bytes.length), ...bytes];
}

/** One encoded instruction (opcode and immediates). */
export type Instruction = readonly number[];

const simd = (opcode: number, ...immediates: number[]): Instruction => [
  0xfd,
  ...unsignedLeb(opcode),
  ...immediates,
];
const memoryAccess = (opcode: number, alignLog2: number, offset: number): Instruction => [
  opcode,
  alignLog2,
  ...unsignedLeb(offset),
];
const simdMemoryAccess = (opcode: number, alignLog2: number, offset: number): Instruction =>
  simd(opcode, alignLog2, ...unsignedLeb(offset));

// The instructions, named as in the text format (`local.get` is localGet); opcodes from the
// binary format (spec §5.4) and the SIMD proposal. Memory accesses take a constant byte offset
// from the address on the stack, and assume no alignment beyond the element's.

/** `block` (no result): `br 0` inside jumps past its `end`. */
export const block: Instruction = [0x02, 0x40];
/** `loop` (no result): `br 0` inside jumps back to its start. */
export const loop: Instruction = [0x03, 0x40];
/** `end` of a block, a loop or the function body. */
export const end: Instruction = [0x0b];
/** `br_if depth`: pops an i32 and branches when it is non-zero. */
export const brIf = (depth: number): Instruction => [0x0d, ...unsignedLeb(depth)];
export const localGet = (local: number): Instruction => [0x20, ...unsignedLeb(local)];
export const localSet = (local: number): Instruction => [0x21, ...unsignedLeb(local)];
export const i32Const = (value: number): Instruction => [0x41, ...signedLeb(value)];
export const i32Add: Instruction = [0x6a];
export const i32Sub: Instruction = [0x6b];
export const i32Mul: Instruction = [0x6c];
export const i32And: Instruction = [0x71];
export const i32Shl: Instruction = [0x74];
export const i32Ne: Instruction = [0x47];
const i32LtU: Instruction = [0x49];
const i32GeU: Instruction = [0x4f];
/** `f32.const value`. */
export function f32Const(value: number): Instruction {
  return [0x43, ...new Uint8Array(Float32Array.of(value).buffer)];
}
export const f32Load = (offset = 0): Instruction => memoryAccess(0x2a, 2, offset);
/** `f32.store`: pops address and value. */
export const f32Store = (offset = 0): Instruction => memoryAccess(0x38, 2, offset);
export const i32Load = (offset = 0): Instruction => memoryAccess(0x28, 2, offset);
/** `i32.store`: pops address and value. */
export const i32Store = (offset = 0): Instruction => memoryAccess(0x36, 2, offset);
/** `f64.store`: pops address and value. */
export const f64Store = (offset = 0): Instruction => memoryAccess(0x39, 3, offset);
export const f32Ne: Instruction = [0x5c];
export const f32Gt: Instruction = [0x5e];
export const i32Or: Instruction = [0x72];
/** `select`: pops a condition and two values, keeps the first where the condition is non-zero. */
export const select: Instruction = [0x1b];
export const f32Add: Instruction = [0x92];
export const f32Sub: Instruction = [0x93];
export const f32Mul: Instruction = [0x94];
/** `f32.max`: NaN if either is NaN, and +0 over −0 (so ReLU's max(x, 0) maps −0 to 0). */
export const f32Max: Instruction = [0x97];
/** `f32.convert_i32_s`. */
export const f32ConvertI32: Instruction = [0xb2];
export const f64Add: Instruction = [0xa0];
export const f64Sub: Instruction = [0xa1];
export const f64Mul: Instruction = [0xa2];
/** `f64.promote_f32`: exact. */
export const f64PromoteF32: Instruction = [0xbb];
/** `v128.load`: 4 floats (or 2 doubles) from address + offset. */
export const v128Load = (offset = 0): Instruction => simdMemoryAccess(0x00, 4, offset);
/** `v128.store`: pops address and vector. */
export const v128Store = (offset = 0): Instruction => simdMemoryAccess(0x0b, 4, offset);
/** `v128.load32_splat`: one float from address + offset in all 4 lanes. */
export const load32Splat = (offset = 0): Instruction => simdMemoryAccess(0x09, 2, offset);
/** `v128.load64_zero`: 8 bytes (2 floats) into the low half, zeros above. */
export const load64Zero = (offset = 0): Instruction => simdMemoryAccess(0x5d, 3, offset);
/** `v128.const` of four i32 lanes. */
export function v128ConstI32(lanes: readonly [number, number, number, number]): Instruction {
  return simd(0x0c, ...new Uint8Array(Int32Array.from(lanes).buffer));
}
/** `v128.or`. */
export const v128Or: Instruction = simd(0x50);
/** `v128.bitselect`: pops a, b and a mask; bits of a where the mask is 1, of b where 0. */
export const v128Bitselect: Instruction = simd(0x52);
export const i32x4Splat: Instruction = simd(0x11);
export const i32x4Add: Instruction = simd(0xae);
/** `f32x4.ne`: all ones where the lanes differ (so x ≠ x finds NaN). */
export const f32x4Ne: Instruction = simd(0x42);
/** `v128.const` of 16 zero bytes. */
export const v128Zero: Instruction = simd(0x0c, ...Array<number>(16).fill(0));
/** `memory.copy` (bulk memory): pops destination, source and byte count; the ranges may overlap. */
export const memoryCopy: Instruction = [0xfc, ...unsignedLeb(10), 0x00, 0x00];
/** `i8x16.shuffle`: byte i of the result is byte `lanes[i]` of the two popped vectors (0–15 first, 16–31 second). */
export function i8x16Shuffle(lanes: readonly number[]): Instruction {
  if (lanes.length !== 16) throw new Error(`i8x16.shuffle takes 16 lanes, got ${lanes.length}`);
  return simd(0x0d, ...lanes);
}
export const f32x4Splat: Instruction = simd(0x13);
export const f64x2Splat: Instruction = simd(0x14);
export const f64x2ExtractLane = (lane: 0 | 1): Instruction => simd(0x21, lane);
export const f32x4Add: Instruction = simd(0xe4);
export const f32x4Sub: Instruction = simd(0xe5);
export const f32x4Mul: Instruction = simd(0xe6);
/** `f32x4.max`: lane-wise, NaN if either is NaN, +0 over −0. */
export const f32x4Max: Instruction = simd(0xe9);
/** `f32x4.gt`: all ones in a lane where true, zeros where false (NaN compares false). */
export const f32x4Gt: Instruction = simd(0x44);
/** `i32x4.neg`: turns gt's all-ones lanes (−1) into 1. */
export const i32x4Neg: Instruction = simd(0xa1);
/** `f32x4.convert_i32x4_s`. */
export const f32x4ConvertI32x4: Instruction = simd(0xfa);
export const f64x2Add: Instruction = simd(0xf0);
export const f64x2Sub: Instruction = simd(0xf1);
export const f64x2Mul: Instruction = simd(0xf2);
/** `f64x2.promote_low_f32x4`: the two low floats, exactly, as doubles. */
export const f64x2PromoteLow: Instruction = simd(0x5f);

/** `local += step` for an i32 local; the step is a constant or another local. */
export function increment(local: number, step: number | { readonly local: number }): Instruction[] {
  const amount = typeof step === "number" ? i32Const(step) : localGet(step.local);
  return [localGet(local), amount, i32Add, localSet(local)];
}

/** A pointer the loop helpers advance: the local holding a byte address, and its bytes per step (a constant or a local). */
export interface Stride {
  readonly local: number;
  readonly step: number | { readonly local: number };
}

/** A function body's instructions, appended in order. */
export class Code {
  readonly bytes: number[] = [];

  /** Appends instructions (or lists of them, as the helpers return) in order. */
  emit(...instructions: readonly (Instruction | readonly Instruction[])[]): this {
    for (const instruction of instructions) {
      for (const item of instruction) {
        if (typeof item === "number") this.bytes.push(item);
        else this.bytes.push(...item);
      }
    }
    return this;
  }

  /**
   * `while (strides[0] < end) { body; advance every stride }`, as a guarded do-while: the first
   * stride's local is the loop counter, compared unsigned with the `limit` local.
   */
  whileBelow(limit: number, strides: readonly Stride[], body: () => void): this {
    const [counter] = strides;
    if (counter === undefined) throw new Error("whileBelow needs at least one stride");
    this.emit(block, localGet(counter.local), localGet(limit), i32GeU, brIf(0), loop);
    body();
    for (const { local, step } of strides) this.emit(increment(local, step));
    return this.emit(localGet(counter.local), localGet(limit), i32LtU, brIf(0), end, end);
  }
}

/**
 * The vector loop over `step` elements at a time and the scalar loop over the rest of `count`
 * elements; each pointer advances by its element size (4 for floats, 8 for doubles).
 */
export function overElements(
  code: Code,
  declare: (type: "i32") => number,
  count: number,
  step: number,
  pointers: readonly { readonly local: number; readonly bytes: number }[],
  vectorStep: () => void,
  scalarStep: () => void,
): void {
  const [counter] = pointers;
  if (counter === undefined) throw new Error("overElements needs a pointer");
  const [vectorEnd, end] = [declare("i32"), declare("i32")];
  const elementBytes = [i32Const(counter.bytes), i32Mul, i32Add];
  code.emit(localGet(counter.local), localGet(count), elementBytes, localSet(end));
  code.emit(localGet(counter.local), localGet(count), i32Const(-step), i32And, elementBytes);
  code.emit(localSet(vectorEnd));
  const strides = (elements: number): Stride[] =>
    pointers.map(({ local, bytes }) => ({ local, step: bytes * elements }));
  code.whileBelow(vectorEnd, strides(step), vectorStep);
  code.whileBelow(end, strides(1), scalarStep);
}

/** A function's parameters by name, in declaration order. */
export type Parameters = Readonly<Record<string, ValueType>>;

/** A function ready for `emitModule`: its export name, parameter types and encoded body. */
export interface EmittedFunction {
  readonly name: string;
  readonly parameterTypes: readonly ValueType[];
  readonly body: readonly number[];
}

/**
 * One exported function with no results. `body` writes the instructions; `parameter` maps each
 * parameter name to its local index, `local(type)` declares a new local and returns its index.
 */
export function defineFunction<P extends Parameters>(
  name: string,
  parameters: P,
  body: (
    code: Code,
    parameter: { readonly [K in keyof P]: number },
    local: (type: ValueType) => number,
  ) => void,
): EmittedFunction {
  const names: (keyof P)[] = Object.keys(parameters);
  const parameterTypes = names.map((key) => parameters[key]);
  const indices = Object.fromEntries(names.map((key, index) => [key, index]));
  const localTypes: ValueType[] = [];
  const code = new Code();
  const isIndexMap = (value: object): value is { readonly [K in keyof P]: number } =>
    names.every((key) => key in value);
  if (!isIndexMap(indices)) throw new Error(`parameters of ${name} could not be indexed`);
  body(code, indices, (type) => names.length + localTypes.push(type) - 1);
  code.emit(end);
  const locals = localTypes.map((type) => [1, TYPE_CODES[type]]);
  return {
    name,
    parameterTypes,
    body: sized([...unsignedLeb(locals.length), ...locals.flat(), ...code.bytes]),
  };
}

/** Pages (64 KB) a shared memory may grow to: 4 GiB, all a 32-bit address reaches (shared memories must declare a maximum). */
export const SHARED_MEMORY_MAXIMUM_PAGES = 65536;

/**
 * A module of the given functions (type i is function i's, no results), exporting each and its
 * memory as `memory`. With `sharedMemory` the memory is imported (`env.memory`, shared, at most
 * {@link SHARED_MEMORY_MAXIMUM_PAGES}) instead of defined, so several threads' instances of the
 * module can run on one memory.
 */
export function emitModule(
  functions: readonly EmittedFunction[],
  { sharedMemory = false }: { sharedMemory?: boolean } = {},
): Uint8Array<ArrayBuffer> {
  const section = (id: number, items: readonly (readonly number[])[]): number[] => [
    id,
    ...sized([...unsignedLeb(items.length), ...items.flat()]),
  ];
  const name = (text: string): number[] => sized([...text].map((char) => char.charCodeAt(0)));
  // A function type: 0x60, the parameter types, no results.
  const types = functions.map(({ parameterTypes }) => [
    0x60,
    ...sized(parameterTypes.map((type) => TYPE_CODES[type])),
    0,
  ]);
  // Limits flag 0x03: shared, with a maximum (a shared memory's is required); 0x00: no maximum.
  const sharedLimits = [0x03, 1, ...unsignedLeb(SHARED_MEMORY_MAXIMUM_PAGES)];
  const memoryImport = [...name("env"), ...name("memory"), 0x02, ...sharedLimits];
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00], // "\0asm", version 1
    ...section(1, types),
    ...(sharedMemory ? section(2, [memoryImport]) : []),
    ...section(
      3,
      functions.map((_, index) => unsignedLeb(index)),
    ),
    ...(sharedMemory ? [] : section(5, [[0x00, 1]])), // one memory, at least 1 page, no maximum
    ...section(7, [
      ...functions.map((f, index) => [...name(f.name), 0x00, ...unsignedLeb(index)]),
      [...name("memory"), 0x02, 0],
    ]),
    ...section(
      10,
      functions.map((f) => f.body),
    ),
  ]);
}

/** The part of the WebAssembly JS API used here (TypeScript declares it only in lib.dom, which we leave out). */
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (
    module: object,
    imports?: { env: { memory: WasmMemory } },
  ) => { readonly exports: Record<string, unknown> };
  Memory: new (descriptor: { initial: number; maximum: number; shared: boolean }) => WasmMemory;
}

/** A module's memory: its current buffer (replaced, and the old one detached, by every `grow`). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}

/** An instantiated module: its functions by export name, and its memory. */
export interface WasmInstance {
  readonly functions: ReadonlyMap<string, (...args: number[]) => void>;
  readonly memory: WasmMemory;
}

const PAGE_BYTES = 65536;

/** Exported functions are called with numbers only (i32 and f64 parameters, no results). */
function isKernel(value: unknown): value is (...args: number[]) => void {
  return typeof value === "function";
}

function isWasmApi(value: unknown): value is WasmApi {
  return typeof value === "object" && value !== null && "validate" in value && "Memory" in value;
}

const wasmApi: unknown = Reflect.get(globalThis, "WebAssembly");

/**
 * Compiles and instantiates `bytes` synchronously, or returns undefined where WebAssembly is
 * missing or rejects the module (no SIMD: validating the module is the feature test). The
 * modules are under 5 KB: Chromium once refused synchronous compiles over 4 KB on the main
 * thread (the Debian chromium the tests drive takes them), so keep each module small.
 */
export function instantiate(
  bytes: Uint8Array<ArrayBuffer>,
  sharedMemory?: WasmMemory,
): WasmInstance | undefined {
  if (!isWasmApi(wasmApi) || !wasmApi.validate(bytes)) return undefined;
  const module = new wasmApi.Module(bytes);
  const { exports } =
    sharedMemory === undefined
      ? new wasmApi.Instance(module)
      : new wasmApi.Instance(module, { env: { memory: sharedMemory } });
  const { memory } = exports;
  if (!(memory instanceof wasmApi.Memory))
    throw new Error("a normgrad wasm module lacks its `memory` export");
  const functions = new Map<string, (...args: number[]) => void>();
  for (const [name, value] of Object.entries(exports)) {
    if (isKernel(value)) functions.set(name, value);
  }
  return { functions, memory };
}

/**
 * A fresh shared memory for modules emitted with `sharedMemory` (one page, growing to
 * {@link SHARED_MEMORY_MAXIMUM_PAGES}), or the reason there is none: no WebAssembly, or no
 * SharedArrayBuffer (a browser page without cross-origin isolation).
 */
export function createSharedMemory(): WasmMemory | string {
  if (!isWasmApi(wasmApi)) return "WebAssembly is unavailable";
  if (typeof SharedArrayBuffer === "undefined") {
    return "SharedArrayBuffer is unavailable (a browser page needs cross-origin isolation: COOP and COEP headers)";
  }
  try {
    return new wasmApi.Memory({ initial: 1, maximum: SHARED_MEMORY_MAXIMUM_PAGES, shared: true });
  } catch (error) {
    return `shared WebAssembly memory is unavailable: ${error instanceof Error ? error.message : String(error)}`;
  }
}

/** Grows `memory` to at least `bytes` (growing detaches views of the old buffer: take new ones after). */
export function ensureMemory(memory: WasmMemory, bytes: number): void {
  if (memory.buffer.byteLength < bytes)
    memory.grow(Math.ceil((bytes - memory.buffer.byteLength) / PAGE_BYTES));
}
