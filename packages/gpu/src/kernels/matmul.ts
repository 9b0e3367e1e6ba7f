// Batched matrix product: one output per thread on an (N, M, batch) grid, a dot product unrolled by eight.
import { address, collapseDims, emitCoordinates, emitDivision, KernelSource } from "../kernel-source.ts";
import type { Operand } from "./elementwise.ts";

/** Dot-product terms per loop step, each into its own accumulator. */
const UNROLL = 8;

/**
 * `out[…, i, j] = Σₖ a[…, i, k]·b[…, k, j]` for a (…, M, K) and b (…, K, N) with equal batch
 * dims, any strides; the result is row-major (…, M, N), on the grid x = j, y = i, z = batch
 * (`grid`, webasm and cpu) or on a flat index split into (batch, i, j) (the GL modes).
 *
 * Why this shape (measured on webasm, see docs/gpu.md): GPU.js's webasm SIMD runs four
 * neighbouring x together and treats y and z as the same for all four, so a[i, k] is one scalar
 * load shared by the lanes while b is gathered; the backend hands b over with k contiguous
 * (pre-transposed when it is not), so each lane streams through its own row of bᵀ instead of
 * striding down a column. Eight accumulators break the add dependency chain; they are summed
 * pairwise at the end.
 */
export function matmulSource(
  a: Operand,
  b: Operand,
  aShape: readonly number[],
  n: number,
  { grid }: { grid: boolean },
): KernelSource {
  const rank = aShape.length;
  const [m, k] = [aShape[rank - 2], aShape[rank - 1]];
  const batchShape = aShape.slice(0, -2);
  const batch = collapseDims(batchShape, [
    { strides: a.strides.slice(0, -2), offset: a.offset },
    { strides: b.strides.slice(0, -2), offset: b.offset },
  ]);
  const source = new KernelSource();
  const left = source.array(a.buffer);
  const right = source.array(b.buffer);
  if (grid) {
    source.line("const j = this.thread.x;", "const i = this.thread.y;", "const z = this.thread.z;");
  } else {
    // GL keeps every result a 1-D texture (a kernel given textures of another shape recompiles).
    source.line("const flat = this.thread.x;");
    emitDivision(source, "flat", source.number(n), "row", "j");
    emitDivision(source, "row", source.number(m), "z", "i");
  }
  const coordinates = emitCoordinates(source, batch.shape, "z", "c");
  const [aRow, aStep] = [a.strides[rank - 2], a.strides[rank - 1]].map((stride) => source.number(stride));
  const [bColumn, bStep] = [b.strides[rank - 1], b.strides[rank - 2]].map((stride) => source.number(stride));
  const steps = source.number(Math.floor(k / UNROLL));
  const rest = source.number(k % UNROLL);
  const tail = source.number(Math.floor(k / UNROLL) * UNROLL);
  const sums = Array.from({ length: UNROLL }, (_, t) => `s${t}`);
  source.line(
    `const pa = ${address(source, batch.operands[0], coordinates)} + i * ${aRow};`,
    `const pb = ${address(source, batch.operands[1], coordinates)} + j * ${bColumn};`,
    ...sums.map((sum) => `let ${sum} = 0;`),
    `for (let q = 0; q < ${steps}; q++) {`,
    `const ia = pa + q * ${UNROLL} * ${aStep};`,
    `const ib = pb + q * ${UNROLL} * ${bStep};`,
    ...sums.map((sum, t) => `${sum} += ${left}[ia + ${t} * ${aStep}] * ${right}[ib + ${t} * ${bStep}];`),
    "}",
    `for (let t = 0; t < ${rest}; t++) {`,
    `s0 += ${left}[pa + (${tail} + t) * ${aStep}] * ${right}[pb + (${tail} + t) * ${bStep}];`,
    "}",
    `return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7));`,
  );
  return source;
}
