// Free-function forms of the ops that take several tensors: where, cat, stack, matmul.
import { full } from "./creation.ts";
import * as P from "./primitives.ts";
import { formatList, formatShape, normalizeAxis } from "./shape.ts";
import type { Tensor, TensorLike } from "./tensor.ts";

/** A number as a scalar tensor beside `like`: its dtype, except float32 for a fraction next to int32. */
function lift(value: TensorLike, like: Tensor): Tensor {
  if (typeof value !== "number") return value;
  const dtype = like.dtype === "int32" && !Number.isInteger(value) ? "float32" : like.dtype;
  return full([], value, { dtype, device: like.device });
}

/** `condition ? a : b` elementwise, broadcast; `condition` is nonzero for true (e.g. a comparison's mask). */
export function where(condition: Tensor, a: TensorLike, b: TensorLike): Tensor {
  if (typeof a !== "number") return P.where(condition, a, lift(b, a));
  if (typeof b !== "number") return P.where(condition, lift(a, b), b);
  const options = { dtype: "float32", device: condition.device } as const;
  return P.where(condition, full([], a, options), full([], b, options));
}

/** Joins tensors along an existing dim; all other dims must agree. */
export function cat(tensors: readonly Tensor[], dim = 0): Tensor {
  if (tensors.length === 0) throw new RangeError("cat needs at least one tensor");
  const first = tensors[0];
  if (first.ndim === 0) throw new RangeError("cat: scalars cannot be concatenated: use stack");
  const axis = normalizeAxis(dim, first.ndim);
  for (const t of tensors) {
    if (t.ndim !== first.ndim || t.shape.some((size, d) => d !== axis && size !== first.shape[d])) {
      throw new RangeError(
        `cat along dim ${dim}: shapes ${formatList(
          tensors.map((x) => formatShape(x.shape)),
          "tensors",
        )} differ outside that dim`,
      );
    }
  }
  return tensors.length === 1 ? first : P.cat(tensors, axis);
}

/** Joins same-shaped tensors along a new dim. */
export function stack(tensors: readonly Tensor[], dim = 0): Tensor {
  if (tensors.length === 0) throw new RangeError("stack needs at least one tensor");
  const axis = normalizeAxis(dim, tensors[0].ndim + 1);
  for (const t of tensors) {
    if (t.ndim !== tensors[0].ndim || t.shape.some((size, d) => size !== tensors[0].shape[d])) {
      throw new RangeError(
        `stack needs equal shapes, got ${formatList(
          tensors.map((x) => formatShape(x.shape)),
          "tensors",
        )}`,
      );
    }
  }
  return P.cat(
    tensors.map((t) => t.unsqueeze(axis)),
    axis,
  );
}

/** `a @ b` (see `Tensor.matmul`). */
export function matmul(a: Tensor, b: Tensor): Tensor {
  return a.matmul(b);
}
