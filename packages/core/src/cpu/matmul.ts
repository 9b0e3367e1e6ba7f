// The CPU matmul kernel: batching over leading axes and packing strided operands for the gemm (JS) or wasm-gemm (float32 SIMD).
import type { View } from "../backend.ts";
import type { DType, TypedArray } from "../dtype.ts";
import { takeArray, takeFloat32 } from "./buffer-pool.ts";
import { cpuData } from "./cpu-buffer.ts";
import { gemm } from "./gemm.ts";
import { forEachRow } from "./strided.ts";
import { canUseWasmGemm, type MatrixOperand, wasmGemm } from "./wasm-gemm.ts";

/** The offset of each matrix of a view: one per position of its leading (batch) axes, in row-major order. */
function batchOffsets(view: View): number[] {
  const batchShape = view.shape.slice(0, -2);
  const offsets: number[] = [];
  const batchStrides = view.strides.slice(0, -2);
  forEachRow([...batchShape, 1], [[...batchStrides, 0]], [view.offset], ([base]) => {
    offsets.push(base);
  });
  return offsets;
}

/** Reads a (rows, cols) matrix at `offset` with the given strides into a contiguous array. */
function packMatrix(
  source: TypedArray,
  offset: number,
  rows: number,
  cols: number,
  rowStride: number,
  colStride: number,
): Float64Array | Float32Array {
  // int32 is packed as float64, which holds every int32 exactly (float32 would round above 2²⁴).
  const out = source instanceof Float32Array ? new Float32Array(rows * cols) : new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    const base = offset + i * rowStride;
    for (let j = 0; j < cols; j++) out[i * cols + j] = source[base + j * colStride];
  }
  return out;
}

/** The batched product `a · b` over the last two axes (leading axes already broadcast to match). */
export function matmul(a: View, b: View, dtype: DType): TypedArray {
  const rank = a.shape.length;
  const [m, k] = [a.shape[rank - 2], a.shape[rank - 1]];
  const n = b.shape[rank - 1];
  const da = cpuData(a.buffer);
  const db = cpuData(b.buffer);
  const aOffsets = batchOffsets(a);
  const bOffsets = batchOffsets(b);
  if (dtype === "float32" && canUseWasmGemm(m, k, n)) {
    // The wasm kernel packs each operand straight from its strided view and writes every element of `out`.
    const out = takeFloat32(aOffsets.length * m * n);
    const operand = (view: View, data: TypedArray, offset: number): MatrixOperand => ({
      data,
      offset,
      rowStride: view.strides[rank - 2],
      colStride: view.strides[rank - 1],
    });
    for (let batch = 0; batch < aOffsets.length; batch++) {
      const product = out.subarray(batch * m * n, (batch + 1) * m * n);
      wasmGemm(operand(a, da, aOffsets[batch]), operand(b, db, bOffsets[batch]), product, m, k, n, {
        accumulate: false,
      });
    }
    return out;
  }
  const out = takeArray(dtype, aOffsets.length * m * n);
  const accumulator = dtype === "float32" ? new Float32Array(m * n) : new Float64Array(m * n);
  for (let batch = 0; batch < aOffsets.length; batch++) {
    const left = packMatrix(da, aOffsets[batch], m, k, a.strides[rank - 2], a.strides[rank - 1]);
    const right = packMatrix(db, bOffsets[batch], k, n, b.strides[rank - 2], b.strides[rank - 1]);
    accumulator.fill(0);
    gemm(left, right, accumulator, m, k, n);
    out.set(accumulator, batch * m * n);
  }
  return out;
}
