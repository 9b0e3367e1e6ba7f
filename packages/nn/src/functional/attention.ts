// Scaled dot-product attention and its masks: boolean masks (bool, or int32 0/1) become −∞, float masks are added.
import { formatShape, full, isFloating, type Tensor, where } from "@normgrad/core";
import { dropout } from "./activation.ts";
import { assertFloat } from "./validate.ts";

/** Options of {@link scaledDotProductAttention}; the names and defaults of PyTorch 2's `F.scaled_dot_product_attention`. */
export interface ScaledDotProductAttentionOptions {
  /**
   * Broadcastable to (…, L, S). Float: added to the scores. bool (or int32 0/1): true where a
   * query may attend, false where it may not.
   */
  attnMask?: Tensor | null;
  /** Dropout on the attention weights (applied whenever p > 0, as PyTorch's functional form). Default 0. */
  dropoutP?: number;
  /** Each query attends to keys at positions ≤ its own (a lower-triangular mask). Default false. */
  isCausal?: boolean;
  /** The scores' factor. Default 1/√E. */
  scale?: number;
}

/**
 * `softmax(q·kᵀ·scale + mask)·v` over the last two dims: q (…, L, E), k (…, S, E), v (…, S, Ev)
 * → (…, L, Ev), batch dims broadcast. A query whose keys are all masked gets NaN, as in PyTorch.
 */
export function scaledDotProductAttention(
  query: Tensor,
  key: Tensor,
  value: Tensor,
  { attnMask = null, dropoutP = 0, isCausal = false, scale }: ScaledDotProductAttentionOptions = {},
): Tensor {
  for (const [name, t] of [
    ["query", query],
    ["key", key],
    ["value", value],
  ] as const) {
    assertFloat(t, `scaledDotProductAttention ${name}`);
    if (t.ndim < 2)
      throw new RangeError(
        `scaledDotProductAttention: ${name} must have at least 2 dims, got ${formatShape(t.shape)}`,
      );
  }
  const [queries, features] = query.shape.slice(-2);
  const [keys, keyFeatures] = key.shape.slice(-2);
  if (features !== keyFeatures || value.shape[value.ndim - 2] !== keys) {
    throw new RangeError(
      `scaledDotProductAttention: expected query (…, L, E), key (…, S, E) and value (…, S, Ev), got query ` +
        `${formatShape(query.shape)}, key ${formatShape(key.shape)}, value ${formatShape(value.shape)}`,
    );
  }
  if (isCausal && attnMask !== null) {
    throw new RangeError("scaledDotProductAttention: give either attnMask or isCausal: true, not both");
  }
  let scores = query.matmul(key.mT).mul(scale ?? 1 / Math.sqrt(features));
  const mask = isCausal ? full([queries, keys], 1, { dtype: "bool", device: query.device }).tril() : attnMask;
  if (mask !== null) scores = applyAttentionMask(scores, mask, "keep", "scaledDotProductAttention attnMask");
  return dropout(scores.softmax(-1), { p: dropoutP }).matmul(value);
}

/**
 * Applies an attention mask to scores: a float mask is added; a bool (or int32 0/1) mask sets −∞
 * where it is false (`meaning` "keep": true = may attend, SDPA's convention) or where it is true
 * ("mask": true = may not, MultiheadAttention's `attnMask` and `keyPaddingMask` convention).
 */
export function applyAttentionMask(
  scores: Tensor,
  mask: Tensor,
  meaning: "keep" | "mask",
  what: string,
): Tensor {
  let broadcastable = mask.ndim <= scores.ndim;
  for (let i = 1; broadcastable && i <= mask.ndim; i++) {
    const size = mask.shape[mask.ndim - i];
    broadcastable = size === 1 || size === scores.shape[scores.ndim - i];
  }
  if (!broadcastable) {
    throw new RangeError(
      `${what} of shape ${formatShape(mask.shape)} does not broadcast to the scores' ${formatShape(scores.shape)}`,
    );
  }
  if (isFloating(mask.dtype)) return scores.add(mask);
  const blocked = meaning === "keep" ? mask.eq(0) : mask.ne(0);
  return where(blocked, scores.fullLike(Number.NEGATIVE_INFINITY), scores);
}
