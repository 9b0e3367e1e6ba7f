// Forward values of the movement, joining, indexing and matmul ops, and which of them are views.
import { describe, expect, it } from "vitest";
import { arange, cat, matmul, stack, type Tensor, tensor, zeros } from "../src/index.ts";

/** [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]] */
const grid = () => arange(12).reshape([3, 4]);
const indices = (values: number[] | number[][]) => tensor(values, { dtype: "int32" });

describe("forward values", () => {
  it.each<{ name: string; out: () => Tensor; shape: number[]; values: unknown }>([
    {
      name: "reshape",
      out: () => grid().reshape([2, 6]),
      shape: [2, 6],
      values: [
        [0, 1, 2, 3, 4, 5],
        [6, 7, 8, 9, 10, 11],
      ],
    },
    {
      name: "reshape with -1",
      out: () => grid().reshape([-1, 2]).narrow(0, 5, 1),
      shape: [1, 2],
      values: [[10, 11]],
    },
    {
      name: "reshape of a transposed view",
      out: () => grid().mT.reshape([12]).narrow(0, 0, 4),
      shape: [4],
      values: [0, 4, 8, 1],
    },
    {
      name: "flatten(0, 1) of 3-D",
      out: () => arange(8).reshape([2, 2, 2]).flatten(0, 1),
      shape: [4, 2],
      values: [
        [0, 1],
        [2, 3],
        [4, 5],
        [6, 7],
      ],
    },
    { name: "flatten of a scalar", out: () => tensor(5).flatten(), shape: [1], values: [5] },
    { name: "squeeze all", out: () => zeros([1, 2, 1]).squeeze(), shape: [2], values: [0, 0] },
    {
      name: "squeeze of a dim that is not 1",
      out: () => zeros([1, 2]).squeeze(1),
      shape: [1, 2],
      values: [[0, 0]],
    },
    { name: "unsqueeze(-1)", out: () => arange(2).unsqueeze(-1), shape: [2, 1], values: [[0], [1]] },
    {
      name: "transpose",
      out: () => grid().transpose(0, 1).narrow(0, 1, 1),
      shape: [1, 3],
      values: [[1, 5, 9]],
    },
    {
      name: "permute(2, 0, 1)",
      out: () => arange(6).reshape([1, 2, 3]).permute(2, 0, 1),
      shape: [3, 1, 2],
      values: [[[0, 3]], [[1, 4]], [[2, 5]]],
    },
    {
      name: "expand",
      out: () => arange(2).reshape([2, 1]).expand([2, 3]),
      shape: [2, 3],
      values: [
        [0, 0, 0],
        [1, 1, 1],
      ],
    },
    {
      name: "slice(1, 1, -1)",
      out: () => grid().slice(1, 1, -1),
      shape: [3, 2],
      values: [
        [1, 2],
        [5, 6],
        [9, 10],
      ],
    },
    {
      name: "slice clipped past the end",
      out: () => grid().slice(0, -2, 100),
      shape: [2, 4],
      values: [
        [4, 5, 6, 7],
        [8, 9, 10, 11],
      ],
    },
    { name: "slice that is empty", out: () => grid().slice(1, 3, 1), shape: [3, 0], values: [[], [], []] },
    {
      name: "narrow of a narrow",
      out: () => grid().narrow(1, 1, 3).narrow(0, 1, 2).narrow(1, 1, 1),
      shape: [2, 1],
      values: [[6], [10]],
    },
    { name: "pad the last dim", out: () => arange(2).pad([1, 2], 9), shape: [5], values: [9, 0, 1, 9, 9] },
    {
      name: "pad two dims of a transposed view",
      out: () => arange(4).reshape([2, 2]).mT.pad([0, 1, 1, 0]),
      shape: [3, 3],
      values: [
        [0, 0, 0],
        [0, 2, 0],
        [1, 3, 0],
      ],
    },
    {
      name: "cat along dim 1",
      out: () => cat([arange(2).reshape([2, 1]), grid().narrow(0, 0, 2).narrow(1, 0, 2)], 1),
      shape: [2, 3],
      values: [
        [0, 0, 1],
        [1, 4, 5],
      ],
    },
    {
      name: "cat promotes dtypes",
      out: () => cat([arange(2), tensor([0.5])]),
      shape: [3],
      values: [0, 1, 0.5],
    },
    {
      name: "stack along dim 1",
      out: () => stack([arange(2), arange(2).add(5)], 1),
      shape: [2, 2],
      values: [
        [0, 5],
        [1, 6],
      ],
    },
    {
      name: "gather along dim 1",
      out: () =>
        grid().gather(
          1,
          indices([
            [3, 0],
            [1, 1],
            [0, 2],
          ]),
        ),
      shape: [3, 2],
      values: [
        [3, 0],
        [5, 5],
        [8, 10],
      ],
    },
    {
      name: "gather along dim 0",
      out: () => grid().gather(0, indices([[2, 0, 1, 0]])),
      shape: [1, 4],
      values: [[8, 1, 6, 3]],
    },
    {
      name: "gather from a transposed view",
      out: () => grid().mT.gather(1, indices([[2], [0], [1], [2]])),
      shape: [4, 1],
      values: [[8], [1], [6], [11]],
    },
    {
      name: "indexSelect along dim 0",
      out: () => grid().indexSelect(0, indices([2, 2, 0])),
      shape: [3, 4],
      values: [
        [8, 9, 10, 11],
        [8, 9, 10, 11],
        [0, 1, 2, 3],
      ],
    },
    {
      // Rows of a 3-D tensor, each copied whole (a DataLoader batch), and the same from a transposed view.
      name: "indexSelect of whole rows along dim 0",
      out: () =>
        grid()
          .reshape([3, 2, 2])
          .indexSelect(0, indices([1, 0, 1])),
      shape: [3, 2, 2],
      values: [
        [
          [4, 5],
          [6, 7],
        ],
        [
          [0, 1],
          [2, 3],
        ],
        [
          [4, 5],
          [6, 7],
        ],
      ],
    },
    {
      name: "indexSelect along dim 0 of a transposed view",
      out: () => grid().mT.indexSelect(0, indices([3, 0])),
      shape: [2, 3],
      values: [
        [3, 7, 11],
        [0, 4, 8],
      ],
    },
    {
      name: "indexSelect along dim -1",
      out: () => grid().indexSelect(-1, indices([3, 1])),
      shape: [3, 2],
      values: [
        [3, 1],
        [7, 5],
        [11, 9],
      ],
    },
    {
      name: "matmul 2×2",
      out: () =>
        tensor([
          [1, 2],
          [3, 4],
        ]).matmul(
          tensor([
            [5, 6],
            [7, 8],
          ]),
        ),
      shape: [2, 2],
      values: [
        [19, 22],
        [43, 50],
      ],
    },
    {
      name: "matmul vector · vector",
      out: () => matmul(tensor([1, 2, 3]), tensor([4, 5, 6])),
      shape: [],
      values: 32,
    },
    {
      name: "matmul vector @ matrix",
      out: () =>
        tensor([1, 2]).matmul(
          tensor([
            [1, 2, 3],
            [4, 5, 6],
          ]),
        ),
      shape: [3],
      values: [9, 12, 15],
    },
    {
      name: "matmul matrix @ vector",
      out: () =>
        tensor([
          [1, 2, 3],
          [4, 5, 6],
        ]).matmul(tensor([1, 0, -1])),
      shape: [2],
      values: [-2, -2],
    },
    {
      name: "matmul batch @ matrix",
      out: () =>
        arange(8)
          .reshape([2, 2, 2])
          .matmul(
            tensor(
              [
                [1, 0],
                [0, 2],
              ],
              { dtype: "int32" },
            ),
          ),
      shape: [2, 2, 2],
      values: [
        [
          [0, 2],
          [2, 6],
        ],
        [
          [4, 10],
          [6, 14],
        ],
      ],
    },
    {
      name: "matmul with a transposed operand",
      out: () =>
        tensor([
          [1, 2],
          [3, 4],
        ]).mT.matmul(tensor([[1], [1]])),
      shape: [2, 1],
      values: [[4], [6]],
    },
  ])("$name", ({ out, shape, values }) => {
    const result = out();
    expect(result.shape).toEqual(shape);
    expect(result.tolist()).toEqual(values);
  });
});

describe("scalars (0-d tensors), as PyTorch", () => {
  it.each<{ name: string; out: () => Tensor }>([
    { name: "transpose(0, -1) is the scalar", out: () => tensor(5).transpose(0, -1) },
    {
      name: "gather(0, 0-d index) is the scalar",
      out: () => tensor(5).gather(0, tensor(0, { dtype: "int32" })),
    },
    { name: "indexSelect(0, [0]) is the scalar", out: () => tensor(5).indexSelect(0, indices([0])) },
    { name: "permute() is the scalar", out: () => tensor(5).permute() },
  ])("$name", ({ out }) => {
    const result = out();
    expect([result.shape, result.tolist()]).toEqual([[], 5]);
  });

  it.each<{ name: string; run: () => Tensor; message: string }>([
    {
      name: "cat",
      run: () => cat([tensor(1), tensor(2)]),
      message: "cat: scalars cannot be concatenated: use stack",
    },
    {
      name: "gather with an index out of range",
      run: () => tensor(5).gather(0, tensor(1, { dtype: "int32" })),
      message: "gather: index 1 is out of range for a dim of size 1",
    },
  ])("refuse $name", ({ run, message }) => {
    expect(run).toThrow(message);
  });

  it("stack makes a vector of them", () => {
    expect(stack([tensor(1), tensor(2)]).tolist()).toEqual([1, 2]);
  });
});

describe("views", () => {
  it.each<{ name: string; view: (x: Tensor) => Tensor; contiguous: boolean }>([
    { name: "reshape", view: (x) => x.reshape([4, 3]), contiguous: true },
    { name: "narrow along dim 0", view: (x) => x.narrow(0, 1, 2), contiguous: true },
    { name: "narrow along dim 1", view: (x) => x.narrow(1, 1, 2), contiguous: false },
    { name: "transpose", view: (x) => x.mT, contiguous: false },
    { name: "expand", view: (x) => x.narrow(0, 0, 1).expand([2, 4]), contiguous: false },
    { name: "unsqueeze", view: (x) => x.unsqueeze(1), contiguous: true },
  ])("$name shares storage with its base", ({ view, contiguous }) => {
    const base = grid();
    const derived = view(base);
    expect(derived.storage).toBe(base.storage);
    expect(derived.isContiguous()).toBe(contiguous);
    base.add_(100);
    expect(derived.version).toBe(1);
    expect(Math.min(...derived.dataSync())).toBeGreaterThanOrEqual(100);
  });

  it("contiguous() copies only a non-contiguous tensor; clone() always copies", () => {
    const base = grid();
    expect(base.contiguous()).toBe(base);
    expect(base.clone().storage).not.toBe(base.storage);
    const copy = base.mT.contiguous();
    expect([copy.isContiguous(), copy.storage === base.storage]).toEqual([true, false]);
    expect(copy.tolist()).toEqual(base.mT.tolist());
  });

  it("reshape of a non-contiguous view copies, so later writes to the base do not show", () => {
    const base = grid();
    const flat = base.mT.reshape([12]);
    expect(flat.storage).not.toBe(base.storage);
    base.fill_(0);
    expect(flat.narrow(0, 0, 3).tolist()).toEqual([0, 4, 8]);
  });
});
