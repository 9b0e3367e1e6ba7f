// Functional embedding lookup: rows of a weight matrix gathered by int32 indices.
import { formatShape, type Tensor, where } from "@normgrad/core";

/** Options of `embedding`. */
export interface EmbeddingOptions {
  /** A row whose lookups get no gradient (negative counts from the end); default null (none). */
  paddingIdx?: number | null;
  /** Renormalizing rows above a norm is not supported: anything but null/undefined throws. */
  maxNorm?: number | null;
}

/** `paddingIdx` checked against `count` rows and made non-negative, as PyTorch's `Embedding`. */
export function resolvePaddingIdx(paddingIdx: number | null, count: number, op: string): number | null {
  if (paddingIdx === null) return null;
  if (!Number.isInteger(paddingIdx) || paddingIdx < -count || paddingIdx >= count) {
    throw new RangeError(
      `${op}: paddingIdx must be an integer in [${-count}, ${count - 1}] for ${count} embeddings, got ${paddingIdx}`,
    );
  }
  return paddingIdx < 0 ? paddingIdx + count : paddingIdx;
}

/** Throws the "not supported" error for `maxNorm`. */
export function refuseMaxNorm(maxNorm: number | null | undefined, op: string): void {
  if (maxNorm !== null && maxNorm !== undefined) {
    throw new Error(`${op}: maxNorm (${maxNorm}) is not supported; renormalize the weight yourself`);
  }
}

/**
 * Embedding lookup, as PyTorch's `F.embedding`: `y[..., :] = weight[input[...], :]` for int32
 * `input` of any shape and `weight` (numEmbeddings, embeddingDim), so y is `[...input.shape,
 * embeddingDim]`. The gradient is a scatter-add into the looked-up rows (repeats accumulate);
 * lookups of `paddingIdx` pass the row's value but no gradient.
 */
export function embedding(
  input: Tensor,
  weight: Tensor,
  { paddingIdx = null, maxNorm = null }: EmbeddingOptions = {},
): Tensor {
  refuseMaxNorm(maxNorm, "embedding");
  if (input.dtype !== "int32") {
    throw new TypeError(
      `embedding: indices must be int32, got ${input.dtype} ${formatShape(input.shape)}: convert them with .to("int32")`,
    );
  }
  if (weight.ndim !== 2) {
    throw new RangeError(
      `embedding: weight must be 2-D (numEmbeddings, embeddingDim), got ${formatShape(weight.shape)}`,
    );
  }
  const [count, dim] = weight.shape;
  const padding = resolvePaddingIdx(paddingIdx, count, "embedding");
  const flat = input.reshape([input.size]);
  let rows = weight.indexSelect(0, flat);
  // The padding row's value, detached: PyTorch's backward skips those lookups.
  if (padding !== null) rows = where(flat.eq(padding).reshape([flat.size, 1]), rows.detach(), rows);
  return rows.reshape([...input.shape, dim]);
}
