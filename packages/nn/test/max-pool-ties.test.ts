// Max pooling at ties: the first maximum of a window takes the value, the index and the gradient (PyTorch 1.13's rule), against integer-input fixtures.
import { tensor } from "@normgrad/core";
import { fromFixture } from "@normgrad/testing";
import { describe, expect, it } from "vitest";
import { F, MaxPool2d } from "../src/index.ts";
import { loadLocalFixtures } from "./local-fixtures.ts";

// Integer inputs in a small range: 212 of the 286 windows hold their maximum more than once.
const fixtures = loadLocalFixtures("max-pool-ties.json");

function spatial(value: unknown): number | [number, number] {
  if (typeof value === "number") return value;
  if (Array.isArray(value) && value.length === 2) return [Number(value[0]), Number(value[1])];
  throw new Error(`fixture value ${JSON.stringify(value)} is not an int or a pair`);
}

/** Gradient sums of a few float64 dy values: float32 rounds them. */
const GRAD_TOLERANCE: Record<"float64" | "float32", { rtol: number; atol: number }> = {
  float64: { rtol: 1e-12, atol: 1e-12 },
  float32: { rtol: 1e-6, atol: 1e-6 },
};

describe.each(["float64", "float32"] as const)("MaxPool2d ties against PyTorch, %s", (dtype) => {
  it.each(fixtures.map((fixture) => [fixture.name, fixture] as const))("%s", (_, fixture) => {
    const { kernel_size: kernel, stride, padding, dilation, ceil_mode: ceilMode } = fixture.config;
    const pool = new MaxPool2d(spatial(kernel), {
      stride: stride === null ? null : spatial(stride),
      padding: spatial(padding),
      dilation: spatial(dilation),
      ceilMode: ceilMode === true,
      returnIndices: true,
    });
    const x = fromFixture(fixture.inputs.x, dtype, { requiresGrad: true });
    const [values, indices] = pool.forward(x);
    const expectedIndices = fixture.expected.indices;
    if (expectedIndices === undefined) throw new Error(`${fixture.name} has no indices`);
    expect(indices.tolist(), "indices").toEqual(fromFixture(expectedIndices, "int32").tolist());
    expect(values, "values").toBeAllclose(fixture.expected.output, { rtol: 0, atol: 0 });
    values.backward(fromFixture(fixture.inputs.dy, dtype));
    expect(x.grad, "grad x").toBeAllclose(fixture.expected.grads.x, GRAD_TOLERANCE[dtype]);
  });
});

describe("MaxPool2d ties by hand", () => {
  // Windows (2×2, stride 2) of one 4×4 plane: four equal 1s; 0s only; 2 at its 1st and 3rd pixels; 2 at its 2nd, 3rd and 4th.
  const plane = [
    [1, 1, 0, 0],
    [1, 1, 0, 0],
    [2, 0, 0, 2],
    [2, 1, 2, 2],
  ];

  it.each(["float64", "float32"] as const)(
    "route value, index and gradient to the first maximum in row-major order (%s)",
    (dtype) => {
      const x = tensor([[plane]], { dtype, requiresGrad: true });
      const [values, indices] = F.maxPool2dWithIndices(x, 2);
      expect(values.tolist()).toEqual([
        [
          [
            [1, 0],
            [2, 2],
          ],
        ],
      ]);
      expect(indices.tolist()).toEqual([
        [
          [
            [0, 2],
            [8, 11],
          ],
        ],
      ]);
      values.backward(
        tensor(
          [
            [
              [
                [10, 20],
                [30, 40],
              ],
            ],
          ],
          { dtype },
        ),
      );
      expect(x.grad?.tolist()).toEqual([
        [
          [
            [10, 0, 20, 0],
            [0, 0, 0, 0],
            [30, 0, 0, 40],
            [0, 0, 0, 0],
          ],
        ],
      ]);
    },
  );

  it("gives an all-zero window's gradient to its first pixel, summed where overlapping windows share it", () => {
    const x = tensor(
      [
        [
          [
            [0, 0, 0],
            [0, 0, 0],
          ],
        ],
      ],
      { dtype: "float64", requiresGrad: true },
    );
    const [values, indices] = F.maxPool2dWithIndices(x, 2, { stride: 1 });
    expect(indices.tolist()).toEqual([[[[0, 1]]]]);
    values.backward(tensor([[[[1, 2]]]], { dtype: "float64" }));
    expect(x.grad?.tolist()).toEqual([
      [
        [
          [1, 2, 0],
          [0, 0, 0],
        ],
      ],
    ]);
  });

  it("never lets padding win a window of zeros or negatives (padding is −∞)", () => {
    const x = tensor(
      [
        [
          [
            [-1, -1],
            [-1, -1],
          ],
        ],
      ],
      { dtype: "float64", requiresGrad: true },
    );
    const [values, indices] = F.maxPool2dWithIndices(x, 3, { stride: 1, padding: 1 });
    expect(values.tolist()).toEqual([
      [
        [
          [-1, -1],
          [-1, -1],
        ],
      ],
    ]);
    expect(indices.tolist()).toEqual([
      [
        [
          [0, 0],
          [0, 0],
        ],
      ],
    ]);
    values.sum().backward();
    expect(x.grad?.tolist()).toEqual([
      [
        [
          [4, 0],
          [0, 0],
        ],
      ],
    ]);
  });
});
