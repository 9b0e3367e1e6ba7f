// Error paths of the frontend: shapes, axes, reshape, indexing, devices and dtypes, each with its message.
import { registerFakeGpu, seeded } from "@normgrad/testing";
import { describe, expect, it } from "vitest";
import {
  arange,
  cat,
  eye,
  full,
  matmul,
  noGrad,
  randperm,
  stack,
  type Tensor,
  type TensorOptions,
  tensor,
  where,
  zeros,
} from "../src/index.ts";
import { checkGradients } from "./helpers.ts";

registerFakeGpu();

const m23 = () => zeros([2, 3]);
const onGpu = () => zeros([2, 3], { device: "gpu" });
const indices = (values: number[] | number[][]) => tensor(values, { dtype: "int32" });
/** Options as untyped JavaScript would pass them: the compiler cannot catch their mistakes. */
const untypedOptions = (json: string): TensorOptions => JSON.parse(json);

describe.each<{ group: string; cases: { name: string; run: () => unknown; message: string }[] }>([
  {
    group: "broadcasting",
    cases: [
      {
        name: "add of [2, 3] and [2]",
        run: () => m23().add(zeros([2])),
        message:
          "shapes [2, 3] and [2] cannot be broadcast together: size 3 vs 2 at dimension 1 (counted in the broadcast shape)",
      },
      {
        name: "where with a mismatched condition",
        run: () => where(indices([1, 0]), m23(), 0),
        message: "shapes [2] and [2, 3] and [] cannot be broadcast together: size 2 vs 3 at dimension 1",
      },
      {
        name: "expand to a smaller size",
        run: () => zeros([3, 2]).expand([3, 1]),
        message: "cannot expand shape [3, 2] to [3, 1]",
      },
      {
        name: "expand to fewer dims",
        run: () => zeros([2, 2]).expand([2]),
        message: "cannot expand [2, 2] to fewer dims [2]",
      },
    ],
  },
  {
    group: "matmul",
    cases: [
      {
        name: "mismatched inner dims",
        run: () => m23().matmul(zeros([2, 3])),
        message: "matmul: shapes [2, 3] and [2, 3] cannot be multiplied (3 != 2)",
      },
      {
        name: "vector @ vector of different lengths",
        run: () => matmul(zeros([3]), zeros([4])),
        message: "matmul: shapes [3] and [4] cannot be multiplied (3 != 4)",
      },
      {
        name: "batch dims that do not broadcast",
        run: () => zeros([2, 2, 3]).matmul(zeros([3, 3, 1])),
        message: "shapes [2] and [3] cannot be broadcast together",
      },
      {
        name: "a scalar operand",
        run: () => zeros([]).matmul(zeros([2])),
        message: "matmul needs at least 1-D operands, got [] and [2]",
      },
    ],
  },
  {
    group: "axes",
    cases: [
      {
        name: "sum over dim 2 of a matrix",
        run: () => m23().sum(2),
        message: "dim 2 is out of range for a tensor of rank 2 (expected -2..1)",
      },
      {
        name: "softmax over dim -3",
        run: () => m23().softmax(-3),
        message: "dim -3 is out of range for a tensor of rank 2",
      },
      { name: "a fractional dim", run: () => m23().max(0.5), message: "dim 0.5 is out of range" },
      {
        name: "a repeated dim",
        run: () => m23().sum([1, -1]),
        message: "dims [1, -1] name the same dimension twice",
      },
      {
        name: "a permutation of the wrong length",
        run: () => zeros([2, 3, 4]).permute(0, 1),
        message: "permute(0, 1) is not a permutation of the 3 dims of [2, 3, 4]",
      },
      {
        name: "a permutation with a repeat",
        run: () => m23().permute(1, -1),
        message: "permute(1, -1) is not a permutation of the 2 dims of [2, 3]",
      },
      {
        name: "transpose of a missing dim",
        run: () => m23().transpose(0, 2),
        message: "dim 2 is out of range",
      },
      { name: "argmax over a missing dim", run: () => m23().argmax(5), message: "dim 5 is out of range" },
      {
        name: "unsqueeze past the end",
        run: () => m23().unsqueeze(4),
        message: "dim 4 is out of range for a tensor of rank 3",
      },
      {
        name: "flatten with start after end",
        run: () => zeros([2, 3, 4]).flatten(2, 1),
        message: "flatten: startDim 2 comes after endDim 1",
      },
    ],
  },
  {
    group: "reshape",
    cases: [
      {
        name: "a different element count",
        run: () => m23().reshape([4, 2]),
        message: "cannot reshape a tensor of shape [2, 3] (6 elements) to [4, 2] (8 elements)",
      },
      {
        name: "two inferred sizes",
        run: () => m23().reshape([-1, -1]),
        message: "cannot reshape [2, 3] to [-1, -1]",
      },
      {
        name: "an inferred size that does not divide",
        run: () => m23().view([4, -1]),
        message: "cannot reshape [2, 3] to [4, -1]",
      },
      {
        name: "a scalar from two elements",
        run: () => zeros([2]).reshape([]),
        message: "cannot reshape a tensor of shape [2]",
      },
    ],
  },
  {
    group: "slicing, padding and joining",
    cases: [
      {
        name: "narrow past the end",
        run: () => m23().narrow(1, 2, 2),
        message: "narrow(dim 1, start 2, length 2) is out of range for size 3",
      },
      {
        name: "narrow with a negative length",
        run: () => m23().narrow(0, 0, -1),
        message: "narrow(dim 0, start 0, length -1)",
      },
      {
        name: "pad with an odd count",
        run: () => m23().pad([1, 2, 3]),
        message: "pad: 3 values do not make (before, after) pairs for 2 dims",
      },
      {
        name: "pad with a negative amount",
        run: () => m23().pad([1, -1]),
        message: "pad: amounts must be non-negative integers, got [1, -1]",
      },
      {
        name: "cat of mismatched shapes",
        run: () => cat([m23(), zeros([3, 3])], 1),
        message: "cat along dim 1: shapes [2, 3], [3, 3] differ outside that dim",
      },
      { name: "cat of nothing", run: () => cat([]), message: "cat needs at least one tensor" },
      {
        name: "stack of unequal shapes",
        run: () => stack([m23(), zeros([3, 2])]),
        message: "stack needs equal shapes, got [2, 3], [3, 2]",
      },
      {
        name: "item of several elements",
        run: () => m23().item(),
        message: "item() needs a one-element tensor, got shape [2, 3]",
      },
    ],
  },
  {
    group: "indexing",
    cases: [
      {
        name: "gather with an index out of range",
        run: () =>
          m23().gather(
            1,
            indices([
              [0, 3],
              [1, 2],
            ]),
          ),
        message: "gather: index 3 is out of range for a dim of size 3",
      },
      {
        name: "gather with a negative index",
        run: () => m23().gather(0, indices([[0, -1, 1]])),
        message: "gather: index -1 is out of range for a dim of size 2",
      },
      {
        name: "gather with a float index",
        run: () => m23().gather(1, zeros([2, 1])),
        message: "gather needs an int32 index of rank 2, got float32 [2, 1]",
      },
      {
        name: "gather with an index of another rank",
        run: () => m23().gather(1, indices([0, 1])),
        message: "gather needs an int32 index of rank 2, got int32 [2]",
      },
      {
        name: "gather with an index larger than the input off the axis",
        run: () => m23().gather(1, indices([[0], [0], [0]])),
        message: "gather: index [3, 1] is larger than input [2, 3] at dim 0",
      },
      {
        name: "indexSelect out of range",
        run: () => m23().indexSelect(0, indices([0, 2])),
        message: "indexSelect: index 2 is out of range for a dim of size 2",
      },
      {
        name: "indexSelect with 2-D indices",
        run: () => m23().indexSelect(0, indices([[0]])),
        message: "indexSelect needs 1-D int32 indices, got int32 [1, 1]",
      },
    ],
  },
  {
    group: "devices",
    cases: [
      {
        name: "add across devices",
        run: () => m23().add(onGpu()),
        message: "add: tensors are on different devices (cpu, gpu): move them with .to()",
      },
      {
        name: "matmul across devices",
        run: () => m23().matmul(onGpu().mT),
        message: "matmul: tensors are on different devices (cpu, gpu): move them with .to()",
      },
      {
        name: "cat across devices",
        run: () => cat([m23(), onGpu()]),
        message: "cat: tensors are on different devices (cpu, gpu): move them with .to()",
      },
      {
        name: "where across devices",
        run: () => where(indices([1, 0, 1]), onGpu(), m23()),
        message: "where: tensors are on different devices (cpu, gpu, cpu): move them with .to()",
      },
      {
        name: "gather across devices",
        run: () => onGpu().gather(1, indices([[0], [1]])),
        message: "gather: tensors are on different devices (gpu, cpu): move them with .to()",
      },
    ],
  },
  {
    group: "dtypes",
    cases: [
      {
        name: "an unknown dtype in tensor()",
        run: () => tensor([1], untypedOptions('{"dtype": "float16"}')),
        message: 'unknown dtype "float16": expected one of bool, int32, float32, float64',
      },
      {
        name: "an unknown dtype in zeros()",
        run: () => zeros([1], untypedOptions('{"dtype": "uint8"}')),
        message: 'unknown dtype "uint8": expected one of bool, int32, float32, float64',
      },
    ],
  },
  {
    // What plain JavaScript can pass (Reflect.apply calls without the compiler's checks).
    group: "bad values from JavaScript",
    cases: [
      {
        name: "a NaN dtype (JSON would print it as null)",
        run: () => Reflect.apply(zeros, undefined, [[1], { dtype: Number.NaN }]),
        message: "unknown dtype NaN: expected one of bool, int32, float32, float64",
      },
      {
        name: 'device "cuda" (used to be an engine TypeError)',
        run: () => tensor([1], untypedOptions('{"device": "cuda"}')),
        message: 'unknown device "cuda": expected "cpu" or "gpu"',
      },
      {
        name: 'to("cuda") (used to blame the dtype)',
        run: () => {
          const x = m23();
          return Reflect.apply(x.to, x, ["cuda"]);
        },
        message: 'to("cuda"): expected a dtype (bool, int32, float32, float64) or a device ("cpu", "gpu")',
      },
      {
        name: "randperm(-1) (used to give an empty permutation)",
        run: () => randperm(-1),
        message: "randperm: n must be a non-negative integer, got -1",
      },
      {
        name: "randperm(2.5)",
        run: () => randperm(2.5),
        message: "randperm: n must be a non-negative integer, got 2.5",
      },
      {
        name: "arange to Infinity",
        run: () => arange(0, Number.POSITIVE_INFINITY),
        message: "arange: start and end must be finite, got 0 and Infinity",
      },
      {
        name: "eye(-2)",
        run: () => eye(-2),
        message: "eye: n and m must be non-negative integers, got -2 and -2",
      },
      // An Int32Array wraps 3e9 to −1294967296 without a word.
      {
        name: "an int32 tensor from 3e9",
        run: () => tensor([1, 3e9], { dtype: "int32" }),
        message:
          "int32 value at index 1: 3000000000 does not fit int32 (−2147483648 to 2147483647): use float32 or float64",
      },
      {
        name: "an int32 tensor from NaN",
        run: () => tensor([Number.NaN], { dtype: "int32" }),
        message: "int32 value at index 0: NaN does not fit int32",
      },
      {
        name: "full int32 of −3e9",
        run: () => full([2], -3e9, { dtype: "int32" }),
        message: "full: -3000000000 does not fit int32",
      },
      {
        name: "3e9 added to an int32 tensor",
        run: () => indices([1]).add(3e9),
        message: "a number next to an int32 tensor: 3000000000 does not fit int32",
      },
      {
        name: "fill_ of an int32 tensor with 2³¹",
        run: () => indices([1]).fill_(2 ** 31),
        message: "fullLike: 2147483648 does not fit int32",
      },
    ],
  },
])("$group", ({ cases }) => {
  it.each(cases)("refuses $name", ({ run, message }) => {
    expect(run).toThrow(message);
  });
});

describe("int32 values", () => {
  it("truncate fractions toward zero, as PyTorch, up to the ends of the range", () => {
    expect(tensor([2147483647.9, -2147483648.9, -1.5], { dtype: "int32" }).tolist()).toEqual([
      2147483647, -2147483648, -1,
    ]);
  });
});

describe("messages stay short for absurd inputs", () => {
  const huge = new Array<number>(100_000).fill(1);
  it.each<{ name: string; run: () => unknown; message: string }>([
    {
      name: "a 100 000-dim shape with a negative size",
      run: () => zeros([...huge, -1]),
      message: "shape [1, 1, 1, 1, 1, 1, … (100001 dims)] is invalid",
    },
    {
      name: "a 100 000-dim permute",
      run: () => zeros([2]).permute(...huge.map(() => 0)),
      message: "permute(0, 0, 0, 0, 0, 0, … (100000 dims)) is not a permutation of the 1 dims of [2]",
    },
    {
      name: "a 20-dim broadcast",
      run: () => zeros([2, ...huge.slice(0, 19)]).add(zeros([3, ...huge.slice(0, 19)])),
      message: "shapes [2, 1, 1, 1, 1, 1, … (20 dims)] and [3, 1, 1, 1, 1, 1, … (20 dims)] cannot be",
    },
    {
      name: "a dtype of a million characters",
      run: () => zeros([1], untypedOptions(JSON.stringify({ dtype: "x".repeat(1_000_000) }))),
      message: `unknown dtype "${"x".repeat(40)}…": expected one of`,
    },
    {
      name: "a dtype that is a huge array",
      run: () => Reflect.apply(zeros, undefined, [[1], { dtype: huge }]),
      message: "unknown dtype [1, 1, 1, 1, 1, 1, … (100000 items)]",
    },
  ])("$name", ({ run, message }) => {
    expect(run).toThrow(message);
    try {
      run();
    } catch (error) {
      expect(String(error).length).toBeLessThan(300);
    }
  });
});

describe("moving between devices", () => {
  it("copies values to the other device and back, recording the copy", () => {
    const x = tensor(
      [
        [1, 2],
        [3, 4],
      ],
      { requiresGrad: true },
    );
    const moved = x.to("gpu");
    expect([moved.device, moved.requiresGrad, moved.gradFn?.name, moved.tolist()]).toEqual([
      "gpu",
      true,
      "toDevice",
      [
        [1, 2],
        [3, 4],
      ],
    ]);
    const back: Tensor = moved.mul(2).to("cpu");
    expect([back.device, back.tolist()]).toEqual([
      "cpu",
      [
        [2, 4],
        [6, 8],
      ],
    ]);
    expect(x.to("cpu")).toBe(x);
  });

  // PyTorch differentiates through device copies: x.to("cuda").mul(3).sum().backward() gives
  // x.grad = 3 everywhere. The copy used to be a new leaf, and x.grad stayed null.
  it("sends the gradient back through the copy to the source device", () => {
    const x = tensor([1, 2, 3], { dtype: "float64", requiresGrad: true });
    x.to("gpu").mul(3).sum().backward();
    expect([x.grad?.device, x.grad?.tolist()]).toEqual(["cpu", [3, 3, 3]]);
    // There and back again, through a strided view, and past a cast.
    const y = tensor(
      [
        [1, 2],
        [3, 4],
      ],
      { requiresGrad: true },
    );
    const z = y.mT.to("gpu").to("float64").mul(y.mT.to("gpu")).to("cpu");
    z.sum().backward();
    expect([y.grad?.dtype, y.grad?.tolist()]).toEqual([
      "float32",
      [
        [2, 4],
        [6, 8],
      ],
    ]);
    checkGradients((t) => t.to("gpu").exp().to("cpu"), [seeded([2, 3], 5)]);
  });

  it("records nothing under noGrad, and detach() before the copy makes a new leaf", () => {
    const x = tensor([1, 2], { requiresGrad: true });
    expect(noGrad(() => x.to("gpu")).requiresGrad).toBe(false);
    const leafCopy = x.detach().to("gpu").requiresGrad_();
    expect([leafCopy.isLeaf, leafCopy.device]).toEqual([true, "gpu"]);
  });
});
