// scatter, scatterAdd and indexAdd: out-of-place writes along a dim, composed from the scatterAdd primitive (gather's VJP).

import { noGrad } from "./autograd.ts";
import { checkValues } from "./check-values.ts";
import * as P from "./primitives.ts";
import { formatShape, normalizeAxis } from "./shape.ts";
import { assertIndicesInRange, type Tensor } from "./tensor.ts";

/** Checks an index for scatter/scatterAdd: int32, the input's rank, no larger than `src` (and `self` off the dim). */
function assertScatterIndex(op: string, self: Tensor, axis: number, index: Tensor, src: Tensor | null): void {
  if (index.dtype !== "int32" || index.ndim !== self.ndim) {
    throw new TypeError(
      `${op} needs an int32 index of rank ${self.ndim}, got ${index.dtype} ${formatShape(index.shape)}`,
    );
  }
  index.shape.forEach((size, d) => {
    if ((d !== axis && size > self.shape[d]) || (src !== null && size > src.shape[d])) {
      throw new RangeError(
        `${op}: index ${formatShape(index.shape)} is larger than ${src !== null && size > src.shape[d] ? `src ${formatShape(src.shape)}` : `input ${formatShape(self.shape)}`} at dim ${d}`,
      );
    }
  });
  if (src !== null && src.ndim !== self.ndim) {
    throw new RangeError(`${op}: src ${formatShape(src.shape)} must have the input's rank ${self.ndim}`);
  }
  assertIndicesInRange(index, self.shape[axis], op);
}

/** `src`'s leading `index.shape` block, which is all scatter reads of it (as PyTorch). */
function leadingBlock(src: Tensor, shape: readonly number[]): Tensor {
  return shape.reduce((block, size, d) => (block.shape[d] === size ? block : block.narrow(d, 0, size)), src);
}

/**
 * `out = self` with `out[…, index[i], …] += src[i]` along `dim` (PyTorch's `scatter_add`), out of
 * place; index int32 of the input's rank, no larger than src, nor than the input off `dim`.
 * Differentiable in self (identity) and src (the gradient gathered at index).
 */
export function scatterAdd(self: Tensor, dim: number, index: Tensor, src: Tensor): Tensor {
  const axis = normalizeAxis(dim, self.ndim);
  assertScatterIndex("scatterAdd", self, axis, index, src);
  const added = P.scatterAdd(
    leadingBlock(src, index.shape).contiguous(),
    axis,
    index.contiguous(),
    self.shape,
  );
  return self.add(added.to(self.dtype));
}

/**
 * `out = self` with `out[…, index[i], …] = src[i]` along `dim` (PyTorch's out-of-place `scatter`);
 * `src` a tensor or a number. Where two indices name one position PyTorch leaves the result
 * undefined; here that is an error for a tensor src (a number writes the same value either way).
 * Gradients: self's is zero at written positions, src's is gathered at index.
 */
export function scatter(self: Tensor, dim: number, index: Tensor, src: Tensor | number): Tensor {
  const axis = normalizeAxis(dim, self.ndim);
  assertScatterIndex("scatter", self, axis, index, typeof src === "number" ? null : src);
  const ones = index.fullLike(1, "float32");
  const hits = noGrad(() => P.scatterAdd(ones, axis, index.contiguous(), self.shape));
  if (typeof src !== "number" && index.size > 0) {
    const most = noGrad(() => hits.max());
    checkValues(
      [most],
      ([[count]]) =>
        count > 1
          ? new RangeError(
              `scatter: index writes ${count} values to one position along dim ${dim}, which PyTorch leaves undefined: ` +
                "use scatterAdd to sum them, or make the indices distinct",
            )
          : null,
      () => most.sub(1),
    );
    most.dispose();
  }
  const written = hits.gt(0);
  const values =
    typeof src === "number"
      ? self.fullLike(src)
      : P.scatterAdd(leadingBlock(src, index.shape).contiguous(), axis, index.contiguous(), self.shape).to(
          self.dtype,
        );
  return P.where(written, values, self);
}

/**
 * `out = self` with `out[…, index[i], …] += alpha·source[…, i, …]` along `dim` (PyTorch's
 * `index_add`): index a 1-D int32 tensor of source.shape[dim] positions; source has the input's
 * shape except size index.length along dim. alpha defaults to 1.
 */
export function indexAdd(self: Tensor, dim: number, index: Tensor, source: Tensor, alpha = 1): Tensor {
  const axis = normalizeAxis(dim, self.ndim);
  const sameOffDim =
    source.ndim === self.ndim && source.shape.every((size, d) => d === axis || size === self.shape[d]);
  if (index.dtype !== "int32" || index.ndim !== 1 || !sameOffDim || source.shape[axis] !== index.shape[0]) {
    throw new RangeError(
      `indexAdd: expected a 1-D int32 index and a source shaped as the input ${formatShape(self.shape)} except ` +
        `${index.shape[0] ?? "?"} along dim ${dim}, got index ${index.dtype} ${formatShape(index.shape)} and source ` +
        `${formatShape(source.shape)}`,
    );
  }
  assertIndicesInRange(index, self.shape[axis], "indexAdd");
  const along = source.shape.map((_, d) => (d === axis ? index.shape[0] : 1));
  const spread = index.reshape(along).expand(source.shape).contiguous();
  const scaled = alpha === 1 ? source : source.mul(alpha);
  return self.add(P.scatterAdd(scaled.contiguous(), axis, spread, self.shape).to(self.dtype));
}
