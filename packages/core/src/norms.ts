// Vector and matrix norms (torch.linalg.vector_norm/matrix_norm, torch.norm), composed so their gradients come from autograd, finite at zero.
import { isFloating } from "./dtype.ts";
import { formatValue } from "./format.ts";
import * as P from "./primitives.ts";
import { formatShape, normalizeAxis } from "./shape.ts";
import type { Tensor } from "./tensor.ts";

/** Norms are of floating-point tensors, as PyTorch's. */
function assertFloating(op: string, x: Tensor): void {
  if (!isFloating(x.dtype)) {
    throw new TypeError(
      `${op} needs a floating-point input, got ${x.dtype}: convert it first (x.to("float32"))`,
    );
  }
}

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
  assertFloating("vectorNorm", x);
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

/**
 * `torch.linalg.matrix_norm` over the two dims `dim` (default the last two): `ord` "fro" (default,
 * `√Σx²`), 1 / −1 the largest / smallest column sum of |x| (`max_j Σ_i |x_ij|`), Infinity / −Infinity
 * the largest / smallest row sum. The spectral and nuclear norms (2, −2, "nuc") need singular
 * values, which normgrad does not compute: they are refused.
 */
export function matrixNorm(
  x: Tensor,
  ord: number | "fro" = "fro",
  dim: readonly [number, number] = [-2, -1],
  keepdim = false,
): Tensor {
  if (x.ndim < 2 || dim.length !== 2) {
    throw new RangeError(
      `matrixNorm needs a tensor of rank ≥ 2 and two dims, got shape ${formatShape(x.shape)} and dims ${formatValue(dim)}`,
    );
  }
  assertFloating("matrixNorm", x);
  const [rows, columns] = dim.map((d) => normalizeAxis(d, x.ndim));
  if (rows === columns)
    throw new RangeError(`matrixNorm: dims ${formatValue(dim)} name the same dimension twice`);
  if (ord === "fro") return vectorNorm(x, 2, dim, keepdim);
  if (Math.abs(ord) !== 1 && Math.abs(ord) !== Number.POSITIVE_INFINITY) {
    throw new RangeError(
      `matrixNorm: ord ${formatValue(ord)} is not supported (the spectral and nuclear norms need singular values): use "fro", 1, -1, Infinity or -Infinity`,
    );
  }
  const [summed, reduced] = Math.abs(ord) === 1 ? [rows, columns] : [columns, rows];
  const sums = x.abs().sum(summed, true);
  const out = ord > 0 ? sums.max(reduced, true) : sums.min(reduced, true);
  return keepdim ? out : out.squeeze(Math.max(rows, columns)).squeeze(Math.min(rows, columns));
}
