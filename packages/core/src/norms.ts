// Vector norms (torch.linalg.vector_norm, torch.norm), composed so their gradients come from autograd, finite at zero.
import { formatValue } from "./format.ts";
import * as P from "./primitives.ts";
import type { Tensor } from "./tensor.ts";

/** The order of a vector norm: any real p, or ±Infinity (max/min of |x|), or 0 (the count of nonzeros). */
export type NormOrder = number;

/**
 * `‖x‖_ord` over `dim` (all elements when left out), as `torch.linalg.vector_norm`:
 * `(Σ|x|^ord)^(1/ord)`; ord 2 (default) the Euclidean norm, 1 the sum of |x|, Infinity the
 * largest |x|, −Infinity the smallest, 0 the number of nonzero elements (not differentiable: PyTorch's
 * gradient of it is zero). Gradients as PyTorch's:
 * zero (not NaN) where the norm is zero; at ties of ±Infinity as the max/min reduction's.
 */
export function vectorNorm(
  x: Tensor,
  ord: NormOrder = 2,
  dim?: number | readonly number[],
  keepdim = false,
): Tensor {
  if (typeof ord !== "number" || Number.isNaN(ord)) {
    throw new TypeError(`vectorNorm: ord must be a number or ±Infinity, got ${formatValue(ord)}`);
  }
  if (x.dtype === "int32") {
    throw new TypeError(
      'vectorNorm needs a floating-point input, got int32: convert it first (x.to("float32"))',
    );
  }
  const magnitude = x.abs();
  if (ord === Number.POSITIVE_INFINITY) return magnitude.max(dim, keepdim);
  if (ord === Number.NEGATIVE_INFINITY) return magnitude.min(dim, keepdim);
  if (ord === 0) return x.ne(0).to(x.dtype).sum(dim, keepdim);
  if (ord === 1) return magnitude.sum(dim, keepdim);
  const powered = ord === 2 ? x.square() : magnitude.pow(ord);
  const total = powered.sum(dim, keepdim);
  // The root's derivative is infinite at 0 (0·∞ = NaN below it): take it of 1 there, and give 0.
  const zero = total.eq(0);
  const safe = P.where(zero, total.onesLike(), total);
  const root = ord === 2 ? safe.sqrt() : safe.pow(1 / ord);
  return P.where(zero, total.zerosLike(), root);
}

/**
 * `torch.norm`: `p` "fro" (default) or 2 the Euclidean norm over `dim` (all elements when left
 * out), any other number as {@link vectorNorm}.
 */
export function norm(
  x: Tensor,
  p: NormOrder | "fro" = "fro",
  dim?: number | readonly number[],
  keepdim = false,
): Tensor {
  if (p !== "fro" && typeof p !== "number") {
    throw new TypeError(`norm: p must be "fro" or a number, got ${formatValue(p)}`);
  }
  return vectorNorm(x, p === "fro" ? 2 : p, dim, keepdim);
}
