// sort, argsort and topk: ranks from pairwise comparisons on the device, values through gather.
import { arange } from "./creation.ts";
import * as P from "./primitives.ts";
import { formatShape, normalizeAxis } from "./shape.ts";
import type { Tensor } from "./tensor.ts";

/**
 * The values of `x` sorted along `dim` (default −1), ascending or descending, with their int32
 * positions in `x`: `values = x.gather(dim, indices)`, so the gradient goes back through the
 * gather. The order is stable (equal values keep their order, as `torch.sort(stable=True)`) and
 * NaN counts as larger than every number (last ascending, first descending, as PyTorch).
 *
 * Each element's rank is the number of elements that go before it, from all n² pairwise
 * comparisons of a row, so a row of n elements takes n² int32s of memory: meant for the
 * moderate sizes of top-k, ranking and median-style uses, on every backend.
 */
export function sort(x: Tensor, dim = -1, descending = false): [values: Tensor, indices: Tensor] {
  if (x.ndim === 0) return [x.clone(), x.fullLike(0, "int32")];
  const axis = normalizeAxis(dim, x.ndim);
  const indices = sortIndices(x.transpose(axis, -1)).transpose(axis, -1).contiguous();
  return [P.gather(x, axis, indices), indices];

  function sortIndices(rows: Tensor): Tensor {
    const n = rows.shape[rows.ndim - 1];
    const a = rows.unsqueeze(-1); // element i, on dim −2
    const b = rows.unsqueeze(-2); // element j, on dim −1
    const [nanA, nanB] = [a.ne(a), b.ne(b)];
    const order = arange(n, undefined, 1, { dtype: "int32", device: rows.device });
    const jBeforeI = order.reshape([1, n]).lt(order.reshape([n, 1]));
    // j goes before i: it is smaller (larger), or a number beside a NaN (a NaN beside a number),
    // or equal (both NaN) and earlier in the row. The three cases exclude each other, so they add.
    const smaller = descending
      ? b.gt(a).add(nanB.mul(nanA.logicalNot()))
      : b.lt(a).add(nanA.mul(nanB.logicalNot()));
    const tied = b.eq(a).add(nanA.mul(nanB)).mul(jBeforeI);
    const rank = smaller.add(tied).sum(-1);
    // indices[k] = Σᵢ i·[rank[i] = k]: each rank occurs once.
    const atRank = rank.unsqueeze(-2).eq(order.reshape([n, 1]));
    return atRank.mul(order).sum(-1);
  }
}

/** The positions that sort `x` along `dim` (see `sort`): `sort(x, dim, descending)[1]`. */
export function argsort(x: Tensor, dim = -1, descending = false): Tensor {
  return sort(x, dim, descending)[1];
}

/**
 * The `k` largest (or smallest) values along `dim` (default −1) and their int32 positions,
 * ordered largest first (smallest first), tied values in their order in `x`. `sorted` is
 * accepted for PyTorch's signature; the result is always sorted.
 */
export function topk(
  x: Tensor,
  k: number,
  dim = -1,
  largest = true,
  _sorted = true,
): [values: Tensor, indices: Tensor] {
  const size = x.ndim === 0 ? 1 : x.shape[normalizeAxis(dim, x.ndim)];
  if (!Number.isInteger(k) || k < 0 || k > size) {
    throw new RangeError(
      `topk: k ${k} is out of range for dim ${dim} of size ${size} (shape ${formatShape(x.shape)})`,
    );
  }
  const [values, indices] = sort(x, dim, largest);
  if (x.ndim === 0) return [values, indices];
  return [values.narrow(dim, 0, k), indices.narrow(dim, 0, k)];
}
