// The CPU backend's pool of released typed arrays, reused for new results of the same dtype and length.
import { allocateTypedArray, type DType, dtypeOfArray, type TypedArray } from "../dtype.ts";

// Why a pool: a fresh multi-megabyte typed array is fresh memory from the OS, and its first
// write page-faults every 4 KB page. Measured on the benchmark machine, allocating and touching
// a 6.4 MB Float32Array took 4.8 ms, against 0.2 ms to copy it: BatchNorm2d on (64,32,28,28)
// spent most of its forward + backward allocating y and dx. A training step releases the
// same shapes it allocates again, so arrays of released buffers are kept and handed out again.

/** Arrays under this many bytes are left to the engine's allocator, which serves them without page faults. */
const MIN_POOLED_BYTES = 64 * 1024;
/** At most this many bytes wait in the pool; arrays released beyond it are left to the garbage collector. */
const MAX_POOLED_BYTES = 256 * 1024 * 1024;

const pool = new Map<DType, Map<number, TypedArray[]>>();
let pooledBytes = 0;

/**
 * Takes `length` elements of `dtype` from the pool, or allocates them: zero-filled, like
 * `allocateTypedArray`, unless `uninitialized` (for kernels that write every element).
 */
export function takeArray(dtype: DType, length: number, uninitialized = false): TypedArray {
  const recycled = pool.get(dtype)?.get(length)?.pop();
  if (recycled === undefined) return allocateTypedArray(dtype, length);
  pooledBytes -= recycled.byteLength;
  if (!uninitialized) recycled.fill(0);
  return recycled;
}

/** `takeArray` for a float32 result whose every element the caller writes. */
export function takeFloat32(length: number): Float32Array {
  const array = takeArray("float32", length, true);
  return array instanceof Float32Array ? array : new Float32Array(length);
}

/**
 * Hands a released buffer's array back for reuse. Only whole arrays (not views into a larger
 * buffer) of at least 64 KB are kept; the caller must hold no other reference to it.
 */
export function recycleArray(data: TypedArray): void {
  const whole = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength;
  if (!whole || data.byteLength < MIN_POOLED_BYTES || pooledBytes + data.byteLength > MAX_POOLED_BYTES)
    return;
  const dtype = dtypeOfArray(data);
  let byLength = pool.get(dtype);
  if (byLength === undefined) {
    byLength = new Map();
    pool.set(dtype, byLength);
  }
  const arrays = byLength.get(data.length);
  if (arrays === undefined) byLength.set(data.length, [data]);
  else arrays.push(data);
  pooledBytes += data.byteLength;
}
